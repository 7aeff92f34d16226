"""Torch runtime of e2compile: field types, geometric tensors and equivariant modules.

Importing it provides :func:`e2compile.diffops.store_cache`/``load_cache``, which need the store
(:mod:`runtime.pdo_cache`).
"""

from e2compile.diffops import storage as _storage

from . import pdo_cache as _pdo_cache

_storage.provide(_pdo_cache)
