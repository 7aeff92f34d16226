"""``ExpansionCache``: the eval-mode cache of a module's expanded parameters.

One mechanism for every module that expands learnable coefficients (``weights``, maybe ``bias``)
into the tensors its forward pass uses, through ``expand_parameters()``: the convolutions
(R2Conv, R2ConvTransposed, R2Diffop), ``Linear`` and ``TensorProductModule``.

* Train mode, or any forward pass that needs gradients for the parameters (e.g. fine-tuning
  with frozen batch norm): a fresh expansion, with autograd.
* Otherwise (eval mode under ``torch.no_grad()``, ``torch.inference_mode()`` or with frozen
  parameters): the cached expansion. It keeps a copy of the parameters it was built from and
  compares it (value, dtype, device, shape) with the current ones before every use, so writes
  through ``.data``, optimiser steps, ``load_state_dict``, ``torch.nn.init`` and ``.to(...)``
  never leave it stale (``.data`` writes bypass version counters). The comparison reads only
  the coefficients, far fewer than the expanded entries.
* Parameters on the meta device are expanded without caching.
* ``train()`` drops the cache, ``eval()`` builds it (when the module can expand at all),
  pickling drops it, and so does ``_derived_buffers_changed`` (the bases it came from changed).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ExpansionCache"]


class ExpansionCache:
    """Mixin, placed before the ``torch.nn.Module`` base, for modules with ``weights`` (and
    maybe ``bias``) and ``expand_parameters()``. Hooks: :meth:`_can_expand`,
    :meth:`_for_cache`."""

    #: ``(parameter snapshot, expansion)`` in eval mode, else ``None``.
    _cache: tuple[tuple[torch.Tensor, ...], Any] | None = None

    # ----------------------------------------------------------------------------------- hooks

    def _can_expand(self) -> bool:
        """Whether ``expand_parameters`` can run (not for a dry-run build)."""
        return True

    def _for_cache(self, expanded: Any) -> Any:
        """The form in which a fresh expansion is kept (e.g. made contiguous)."""
        return expanded

    # ------------------------------------------------------------------------------ mechanism

    def _parameters_now(self) -> tuple[torch.Tensor, ...]:
        return tuple(p for p in (self.weights, getattr(self, "bias", None)) if p is not None)

    def _cache_valid(self, current: tuple[torch.Tensor, ...]) -> bool:
        if self._cache is None:
            return False
        snapshot = self._cache[0]
        return len(snapshot) == len(current) and all(
            s.device == p.device
            and s.dtype == p.dtype
            and s.shape == p.shape
            and torch.equal(s, p.detach())
            for s, p in zip(snapshot, current)
        )

    def _cached(self) -> Any:
        """The eval-mode expansion, rebuilt when any parameter changed since."""
        parameters = self._parameters_now()
        if any(p.device.type == "meta" for p in parameters):
            with torch.no_grad():
                return self.expand_parameters()
        if not self._cache_valid(parameters):
            with torch.inference_mode(False), torch.no_grad():
                snapshot = tuple(p.detach().clone() for p in parameters)
                self._cache = (snapshot, self._for_cache(self.expand_parameters()))
        return self._cache[1]

    def _needs_grad(self) -> bool:
        return torch.is_grad_enabled() and any(p.requires_grad for p in self._parameters_now())

    def _expanded(self) -> Any:
        """The expansion for a forward pass: fresh (with autograd) when training or when a
        parameter needs a gradient, else the cached one."""
        if self.training or self._needs_grad():
            return self.expand_parameters()
        return self._cached()

    # ------------------------------------------------------------------ torch.nn.Module hooks

    def _derived_buffers_changed(self) -> None:
        self._cache = None  # built from the old bases (``.to``, ``.to_empty``, ``.double``)
        super()._derived_buffers_changed()

    def train(self, mode: bool = True):
        """Train mode drops the cached expansion; eval mode builds it from the current
        parameters (a still valid one is kept)."""
        super().train(mode)
        if mode:
            self._cache = None
        elif self._can_expand():
            self._cached()
        return self

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # derived data: rebuilt on first use
        return state
