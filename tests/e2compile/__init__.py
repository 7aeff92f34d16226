"""Tests of `e2compile`."""
