"""Tests of the `e2c` command line (`cli.py`)."""
