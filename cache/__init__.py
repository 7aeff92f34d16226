"""Content-addressed HDF5 artifact store (no math, no torch)."""
