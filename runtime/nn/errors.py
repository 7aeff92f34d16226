"""Exceptions raised by the ``nn`` package on bad arguments and mismatched inputs.

The argument errors are each a ``ValueError`` or ``TypeError`` and *also* an ``AssertionError``:
the reference library checked these conditions with ``assert``, so code written for it (``except
AssertionError:``, ``assertRaises(AssertionError, ...)``) keeps catching them, while new code can
catch the ordinary ``ValueError`` / ``TypeError``.
"""

from __future__ import annotations

__all__ = ["ArgumentError", "ArgumentTypeError", "FieldTypeMismatchError", "SlicingError"]


class ArgumentError(ValueError, AssertionError):
    """An argument has the right kind but an unsuitable value (a field type whose
    representations a module can not take, an unknown option, a size out of range, ...)."""


class ArgumentTypeError(TypeError, AssertionError):
    """An argument is not of the expected kind (not a ``FieldType``, not a
    ``GeometricTensor``, ...)."""


class FieldTypeMismatchError(ArgumentError):
    """A tensor's field type (or shape) differs from the one the module or operation expects."""


class SlicingError(IndexError, TypeError):
    """An index a ``GeometricTensor`` can not take: too many entries, or advanced indexing (an
    ``IndexError`` as for tensors, and a ``TypeError`` as in the reference library)."""
