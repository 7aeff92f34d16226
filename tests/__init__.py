"""The test suite (a package, so that its folders may mirror the project's packages)."""
