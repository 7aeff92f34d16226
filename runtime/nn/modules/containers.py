"""Containers of equivariant modules: ``SequentialModule`` and ``ModuleList``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from ..errors import ArgumentTypeError, FieldTypeMismatchError
from ..geometric_tensor import GeometricTensor
from .equivariant_module import EquivariantModule

__all__ = ["SequentialModule", "ModuleList"]


def _require_equivariant(module: Any, where: str) -> None:
    if not isinstance(module, EquivariantModule):
        raise ArgumentTypeError(
            f"{where}: expected an EquivariantModule, got {type(module).__name__}"
        )


class SequentialModule(EquivariantModule):
    """Apply equivariant modules one after the other (like ``torch.nn.Sequential``).

    Accepts the modules as positional arguments or a single ``OrderedDict`` name -> module.
    Consecutive modules must agree on their types (``out_type`` of one == ``in_type`` of the
    next).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        self.in_type = None
        self.out_type = None
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def add_module(self, name: str, module: EquivariantModule) -> None:
        """Append ``module`` to the sequence under ``name``."""
        _require_equivariant(module, f"SequentialModule.add_module({name!r})")
        if len(self._modules) == 0:
            self.in_type = module.in_type
        elif module.in_type != self.out_type:
            raise FieldTypeMismatchError(
                f"SequentialModule: module {name!r} expects in_type {module.in_type!r} but the "
                f"previous module outputs {self.out_type!r}"
            )
        self.out_type = module.out_type
        super().add_module(name, module)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        self._check_input(input)
        x = input
        for module in self._modules.values():
            x = module(x)
        return x

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        for module in self._modules.values():
            shape = module.evaluate_output_shape(shape)
        return shape

    def _grid_symmetric(self, size: int) -> bool:
        shape = (1, self.in_type.size, size, size)
        for module in self._modules.values():
            if not module._grid_symmetric(shape[-1]):
                return False
            shape = module.evaluate_output_shape(shape)
        return True

    def __getitem__(self, idx: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            return SequentialModule(OrderedDict(list(self._modules.items())[idx]))
        return modules[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[EquivariantModule]:
        return iter(self._modules.values())

    def export(self) -> torch.nn.Sequential:
        """A ``torch.nn.Sequential`` of the exported submodules, in eval mode."""
        self.eval()
        exported = OrderedDict((name, m.export()) for name, m in self._modules.items())
        return torch.nn.Sequential(exported).eval()


class ModuleList(torch.nn.ModuleList):
    """A ``torch.nn.ModuleList`` that only holds :class:`EquivariantModule` s."""

    def __init__(self, modules: Iterable[EquivariantModule] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: EquivariantModule) -> ModuleList:
        """Append an equivariant module."""
        _require_equivariant(module, "ModuleList.append")
        return super().append(module)

    def extend(self, modules: Iterable[EquivariantModule]) -> ModuleList:
        """Append every module of ``modules``."""
        modules = list(modules)
        for i, module in enumerate(modules):
            _require_equivariant(module, f"ModuleList.extend: modules[{i}]")
        return super().extend(modules)

    def insert(self, index: int, module: EquivariantModule) -> None:
        _require_equivariant(module, "ModuleList.insert")
        super().insert(index, module)

    def __setitem__(self, idx: int, module: EquivariantModule) -> None:
        _require_equivariant(module, "ModuleList.__setitem__")
        super().__setitem__(idx, module)

    def export(self) -> torch.nn.ModuleList:
        """A ``torch.nn.ModuleList`` of the exported modules, in eval mode."""
        self.eval()
        return torch.nn.ModuleList([m.export() for m in self]).eval()
