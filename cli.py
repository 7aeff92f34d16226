"""The ``e2c`` command line."""

from __future__ import annotations

import click

from e2compile import __version__


@click.group()
@click.version_option(__version__, prog_name="e2c")
def main() -> None:
    """Compile steerable kernel bases ahead of time and manage the artifact store."""


if __name__ == "__main__":  # pragma: no cover
    main()
