"""Torch runtime of e2compile: field types, geometric tensors and equivariant modules."""
