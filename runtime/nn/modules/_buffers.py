"""Derived buffers: non-persistent buffers that are pure functions of a module's build arguments.

Sampled bases, channel indices, masks and changes of basis never enter a ``state_dict``: a
checkpoint restores only the learnable parameters and the running statistics. That is only
correct if these buffers always hold their build-time values, including after the large-model
workflow ``with torch.device("meta"): build``, ``.to_empty(device=...)``, ``load_state_dict``,
where torch allocates every buffer afresh and leaves it uninitialised.

:class:`DerivedBuffers` is the one mechanism for that. A non-persistent buffer registered on a
module that mixes it in keeps its build-time value on the host (a numpy array or CPU tensor:
for the sampled bases, the float64 array of the compiled artifact, shared with the artifact
memo). After every ``Module._apply`` (``.to``, ``.cuda``, ``.double``, ``.to_empty``...) the
buffers that came from the meta device, or whose dtype changed, are filled again from that
source: a materialised model equals a normally built one, and ``.double()`` gives float64 bases
exact to float64 (not float32 values widened).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["DerivedBuffers"]


_NUMPY_FLOATS = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _as_host_tensor(source: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``source`` (data or a zero-argument callable returning it) as a host tensor; a numpy
    array is converted to ``dtype`` (a floating dtype, or ``None``: keep its dtype) by numpy
    into a fresh array: a single-threaded cast, much cheaper at load time than torch's
    multi-threaded one on a busy machine."""
    if callable(source):  # a lazy source, e.g. a basis re-read from the artifact store
        source = source()
    if isinstance(source, np.ndarray):
        target = _NUMPY_FLOATS.get(dtype) if source.dtype.kind == "f" else None
        if target is not None:
            return torch.from_numpy(np.array(source, dtype=target, order="C", copy=True))
        with warnings.catch_warnings():  # read-only artifact arrays: only read from here
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(np.ascontiguousarray(source))
    return source


def _default_device() -> torch.device:
    return torch.empty(0).device  # honours ``with torch.device(...)``


class DerivedBuffers(torch.nn.Module):
    """Mixin: non-persistent buffers are re-derived from their build-time source when needed."""

    def register_buffer(self, name: str, tensor: torch.Tensor | None, persistent: bool = True):
        if persistent or tensor is None:
            return super().register_buffer(name, tensor, persistent)
        return self.register_derived_buffer(name, tensor, dtype=tensor.dtype)

    def register_derived_buffer(
        self,
        name: str,
        source: np.ndarray | torch.Tensor | Callable[[], np.ndarray],
        dtype: torch.dtype | None = None,
        value: np.ndarray | None = None,
    ) -> None:
        """Register the non-persistent buffer ``name`` holding ``source`` (host data) in
        ``dtype`` (default: torch's default dtype for floating sources, else the source's) on
        the current default device (the meta device inside ``with torch.device("meta")``).

        ``source`` may be a picklable zero-argument callable returning the data (kept instead
        of the data itself, e.g. so that pickled models do not carry their bases twice); then
        ``value`` is the data now, if the caller has it already."""
        data = source if value is None else value
        if callable(data):
            data = data()
        host = _as_host_tensor(data)
        if host.device.type == "meta":
            raise ValueError(
                f"{type(self).__name__}: the derived buffer {name!r} was computed on the meta "
                "device; compute it on the host so that it can be materialised later"
            )
        if dtype is None:
            dtype = torch.get_default_dtype() if host.is_floating_point() else host.dtype
        device = _default_device()
        if device.type == "meta":
            tensor = torch.empty(host.shape, dtype=dtype, device="meta")
        elif isinstance(data, np.ndarray) and dtype in _NUMPY_FLOATS and data.dtype.kind == "f":
            # numpy sources (read-only artifacts) are always copied, cast by numpy
            tensor = _as_host_tensor(data, dtype).to(device=device)
        else:
            # other numpy sources are always copied; tensors only to convert
            copy = not isinstance(source, torch.Tensor) or host.dtype != dtype
            tensor = host.to(device=device, dtype=dtype, copy=copy)
        sources = self.__dict__.setdefault("_derived_sources", {})
        sources[name] = source
        super().register_buffer(name, tensor, persistent=False)

    def _apply(self, fn: Any, recurse: bool = True):
        sources = self.__dict__.get("_derived_sources", {})
        before = {
            name: (buf.device.type, buf.dtype)
            for name in sources
            if (buf := self._buffers.get(name)) is not None
        }
        result = super()._apply(fn, recurse)
        for name, (device_type, dtype) in before.items():
            buf = self._buffers.get(name)
            if buf is None or buf.device.type == "meta":
                continue
            if device_type == "meta" or buf.dtype != dtype:
                with torch.no_grad():
                    buf.copy_(_as_host_tensor(sources[name], buf.dtype))
        self._derived_buffers_changed()
        return result

    def _derived_buffers_changed(self) -> None:
        """Hook run after every ``_apply``: drop what was computed from the old buffers."""
