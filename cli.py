"""The ``e2c`` command line: compile kernel bases ahead of time and manage the artifact store.

A thin click layer: each command parses its options, calls one library function and prints. The
logic lives in the library: ``runtime.aot`` (which specs, ``compile_many``), ``cache.transfer``
(pack, unpack, merge), ``cache.Store`` (listing, verify, gc), ``cache.manifest``.

Human output by default, ``--json`` for scripts. Exit codes: 0 ok, 1 failure (a compile failed or
did not reach the store, an artifact or layer is invalid or missing, the store cannot be written),
2 usage error (bad option or environment variable, unreadable spec file or builder, ambiguous key).
The settings come from the environment (:func:`cache.settings.from_environment`), with
``--cache-dir``/``--cache-path``/``--offline`` replacing theirs; every command runs inside
``runtime.bases.use_settings`` of the result, so the library code it calls (the runtime's default
store, the compiler's limits) follows the same options, and the store is shared through
``ctx.obj``. Nothing here writes the environment. See ``docs/cli.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cache import CacheError, Store, is_key
from cache.limits import load_json
from cache.manifest import ManifestError, read_manifest_keys, spec_summary
from cache.settings import ENV
from e2compile import __version__
from e2compile.families import FAMILIES
from runtime.aot import BuildError, OutputError, SourceError, select_shard

__all__ = ["main", "parse_duration", "parse_size", "select_shard"]

pass_store = click.make_pass_decorator(Store)
_json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


# ------------------------------------------------------------------------------------ helpers


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


_SIZE_RE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*")
_DURATION_RE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([smhdw]?)\s*")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_size(text: str) -> int:
    """``"500M"`` → bytes. Suffixes k, M, G, T (optionally followed by ``B`` or ``iB``) are
    powers of 1024; a bare number is bytes."""
    m = _SIZE_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (examples: 1048576, 500M, 2G, 1.5GiB)")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))


def parse_duration(text: str) -> float:
    """``"30d"`` → seconds. Units s, m, h, d, w; a bare number is days."""
    m = _DURATION_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a duration: {text!r} (examples: 90s, 15m, 12h, 30d, 2w)")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


class _Parsed(click.ParamType):
    """A click type read by ``parse`` (a ``ValueError`` is a usage error)."""

    def __init__(self, name: str, parse: Callable[[str], Any], parsed_type: type) -> None:
        self.name, self.parse, self.parsed_type = name, parse, parsed_type

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return value if isinstance(value, self.parsed_type) else self.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _parse_shard(ctx: Any, param: Any, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if m is None or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise click.BadParameter(f"{value!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))


@contextlib.contextmanager
def _progress(total: int, desc: str):
    """A progress callback drawing a tqdm bar on stderr (silent when not a terminal)."""
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="artifact", file=sys.stderr, disable=None,
              leave=False) as bar:  # fmt: skip
        yield bar.update


def _resolve_key(store: Store, prefix: str) -> str:
    """The one key starting with ``prefix``: failure (1) if none, usage error (2) if several."""
    prefix = prefix.strip().lower()
    if is_key(prefix):
        return prefix
    matches = [k for k in store.keys() if k.startswith(prefix)] if prefix else []
    if not matches:
        raise click.ClickException(f"no artifact matches {prefix!r}")
    if len(matches) > 1:
        raise click.UsageError(f"{len(matches)} artifacts match {prefix!r}: give more digits")
    return matches[0]


def _layer_kind(store: Store, layer: Any) -> str:
    if layer is store.root:
        return "writable"
    return "read-only" if layer.kind == "directory" else layer.kind


def _keys_of(manifests: tuple[str, ...]) -> list[str]:
    return [k for path in manifests for k in read_manifest_keys(path)]


# ---------------------------------------------------------------------------------- top group


class _Group(click.Group):
    """Turns the library's errors into messages and truthful exit codes: bad input (a spec file,
    builder, manifest or environment variable) is a usage error (2); a store, layer or build
    failure is a failure (1). Never a traceback for those."""

    def invoke(self, ctx: click.Context) -> Any:
        original = warnings.formatwarning
        warnings.formatwarning = _format_warning  # one line, no source excerpt
        try:
            return super().invoke(ctx)
        except (SourceError, ManifestError, OutputError) as exc:
            raise click.UsageError(str(exc)) from None
        except (CacheError, BuildError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            warnings.formatwarning = original


def _format_warning(message: Any, category: type, *args: Any, **kwargs: Any) -> str:
    return f"warning ({category.__name__}): {message}\n"


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="e2c")
@click.option(
    "--cache-dir",
    type=click.Path(),
    default=None,
    help=f"Writable store root. Default: ${ENV['cache_dir']}, else the user cache directory.",
)
@click.option(
    "--cache-path",
    "layers",
    multiple=True,
    help="Extra read-only layer: a directory, a bundle file or an https:// or fsspec "
    f"URL of either; repeatable. Default: ${ENV['cache_path']} (docs/cli.md).",
)
@click.option(
    "--offline/--online",
    default=None,
    help=f"Offline mode for run-time lookups (default: ${ENV['offline']}).",
)
@click.pass_context
def main(ctx: click.Context, cache_dir: str | None, layers: tuple[str, ...], offline: bool | None):
    """Compile steerable kernel bases ahead of time and manage the artifact store."""
    from cache.settings import SettingsError, from_environment
    from runtime.bases import default_store, use_settings

    try:
        settings = from_environment()
    except SettingsError as exc:  # a malformed variable
        raise click.UsageError(str(exc)) from None
    options = {"cache_dir": None if cache_dir is None else Path(cache_dir),
               "cache_path": layers or None, "offline": offline}  # fmt: skip
    settings = dataclasses.replace(settings, **{k: v for k, v in options.items() if v is not None})
    ctx.with_resource(use_settings(settings))
    ctx.obj = default_store()
    ctx.obj.foreign = _foreign


def _use_for_this_command(**changes: Any) -> None:
    """Run the rest of the current command under the current settings with ``changes``."""
    from cache.settings import current
    from runtime.bases import use_settings

    settings = dataclasses.replace(current(), **changes)
    click.get_current_context().with_resource(use_settings(settings))


def _foreign(spec_json: str) -> str | None:
    """Why an intact artifact is foreign to this e2compile (its spec has another
    ``algorithm_version``: a newer e2compile sharing the store may own it), else ``None``."""
    from e2compile.specs import ALGORITHM_VERSION

    try:
        spec = load_json(spec_json)
    except ValueError:
        return None
    version = spec.get("algorithm_version") if isinstance(spec, dict) else None
    if version is None or version == ALGORITHM_VERSION:
        return None
    return f"algorithm_version {version!r} (this e2compile's is {ALGORITHM_VERSION})"


# ------------------------------------------------------------------------------ e2c cache ...


@main.group("cache")
def cache_group() -> None:
    """Inspect and maintain the artifact store."""


@cache_group.command("path")
@click.option("--all", "show_all", is_flag=True, help="Also list the read-only layers.")
@_json_option
@pass_store
def cache_path(store: Store, show_all: bool, as_json: bool) -> None:
    """Print the writable store root (with --all: every layer, in search order)."""
    if as_json:
        layers = [{"path": x.location, "kind": _layer_kind(store, x)} for x in store.layers]
        _emit_json({"root": store.root.location, "layers": layers, "offline": store.offline,
                    "quarantine": str(store.root.quarantine_dir)})  # fmt: skip
    elif show_all:
        for layer in store.all_layers:
            click.echo(f"{layer.location}\t{_layer_kind(store, layer)}")
    else:
        click.echo(store.root.location)


def _row(store: Store, d: Any) -> dict[str, Any]:
    """One listing row of a :class:`cache.Description`."""
    layer = next(x for x in store.all_layers if x.location == d.layer)
    row = {"key": d.key, "layer": d.layer, "layer_kind": _layer_kind(store, layer),
           "path": d.location, "size": d.size, "valid": d.valid,
           "foreign": d.foreign or None}  # fmt: skip
    if d.info is None:
        return {**row, "reason": d.reason, "created": None, "compiler_version": None, "spec": None}
    arrays = {n: {"dtype": a["dtype"], "shape": a["shape"]} for n, a in d.info.arrays.items()}
    return {**row, "created": d.info.created, "compiler_version": d.info.compiler_version,
            "spec": d.info.spec, "meta": d.info.meta, "arrays": arrays}  # fmt: skip


@cache_group.command("ls")
@_json_option
@pass_store
def cache_ls(store: Store, as_json: bool) -> None:
    """List the artifacts of every layer (headers only; use `verify` to check the data)."""
    rows = [_row(store, d) for d in store.describe()]
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        status = _status(row)
        created = (row["created"] or "-")[:19].replace("T", " ")
        click.echo(f"{row['key'][:16]}  {_human_bytes(row['size'] or 0):>10}  {created:19}  "
                   f"{row['layer_kind']:9}  {status}")  # fmt: skip
    click.echo(
        f"{len(rows)} artifacts, {_human_bytes(sum(r['size'] or 0 for r in rows))}", err=True
    )


def _status(row: dict[str, Any]) -> str:
    if row["foreign"]:
        return f"FOREIGN: {row['foreign']}"
    return spec_summary(row["spec"]) if row["valid"] else f"INVALID: {row['reason']}"


@cache_group.command("info")
@click.argument("key")
@_json_option
@pass_store
def cache_info(store: Store, key: str, as_json: bool) -> None:
    """Show one artifact (header only): KEY is a key or a unique prefix of one."""
    key = _resolve_key(store, key)
    d = next(store.describe([key]), None)
    if d is None:
        raise click.ClickException(f"no artifact {key}")
    row = _row(store, d)
    if as_json:
        _emit_json(row)
    else:
        click.echo(f"key:      {row['key']}")
        click.echo(f"location: {row['path']} ({row['layer_kind']})")
        click.echo(f"size:     {_human_bytes(row['size'] or 0)}")
        if row["spec"] is not None:
            click.echo(f"created:  {row['created']}")
            click.echo(f"compiler: {row['compiler_version'] or '-'}")
            from e2compile.layers import describe_spec
            from e2compile.specs import BasisSpec

            with contextlib.suppress(ValueError, TypeError, KeyError, RecursionError):  # not one
                settings = describe_spec(BasisSpec.from_json(row["spec"]))
                click.echo("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
            click.echo("spec:")
            try:
                click.echo(json.dumps(load_json(row["spec"]), indent=2, sort_keys=True))
            except ValueError as exc:  # the store keeps any spec text; this one is no BasisSpec
                click.echo(f"  ({exc}) {row['spec'][:200]}")
            click.echo("arrays:")
            for name, a in row["arrays"].items():
                click.echo(f"  {name:24} {a['dtype']:>6}  {tuple(a['shape'])}")
            if row["valid"]:
                click.echo(f"draw it:  e2c show {key[:16]} --png {key[:12]}.png")
        if not row["valid"]:
            label = "FOREIGN" if row["foreign"] else "INVALID"
            click.echo(f"{label}:  {row['foreign'] or row['reason']}")
    if not row["valid"]:
        sys.exit(1)


@cache_group.command("verify")
@click.option("--no-quarantine", is_flag=True,
              help="Report invalid files without moving them aside.")  # fmt: skip
@_json_option
@pass_store
def cache_verify(store: Store, no_quarantine: bool, as_json: bool) -> None:
    """Check every artifact of every layer: header, key, schema, checksums.

    Invalid files in the writable root are moved to its quarantine directory; read-only layers
    are only reported. A layer that does not exist or cannot be read is invalid. Exit code 1 when
    anything is invalid.
    """
    with _progress(len(store.keys()), "verify") as tick:
        results = []
        for result in store.iter_verify(quarantine=not no_quarantine):
            results.append(result)
            tick(1)
    bad = [r for r in results if not r.ok]
    foreign = [r for r in bad if r.foreign]
    checked = sum(r.key is not None for r in results)
    if as_json:
        invalid = [{"key": r.key, "location": r.location, "reason": r.reason,
                    "quarantined_to": r.quarantined_to} for r in bad if not r.foreign]  # fmt: skip
        _emit_json({"ok": not bad, "checked": checked, "invalid": invalid,
                    "foreign": [{"key": r.key, "location": r.location, "reason": r.reason}
                                for r in foreign]})  # fmt: skip
    else:
        for r in bad:
            moved = f" -> moved to {r.quarantined_to}" if r.quarantined_to else ""
            click.echo(f"{'FOREIGN' if r.foreign else 'INVALID'} {r.location}: {r.reason}{moved}")
        click.echo(f"{checked} artifacts checked, {len(bad) - len(foreign)} invalid"
                   + (f", {len(foreign)} foreign" if foreign else ""))  # fmt: skip
    if bad:
        sys.exit(1)


@cache_group.command("gc")
@click.option("--older-than", type=_Parsed("DURATION", parse_duration, float), default=None,
              help="Remove artifacts unused for this long (90s, 15m, 12h, 30d, 2w; "
              "bare number = days).")  # fmt: skip
@click.option("--max-size", type=_Parsed("SIZE", parse_size, int), default=None,
              help="Then remove least recently used artifacts until the root holds at most this "
              "(500M, 2G; powers of 1024).")  # fmt: skip
@click.option("--keep-manifest", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Never remove the keys listed in this manifest; repeatable.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@_json_option
@pass_store
def cache_gc(store: Store, older_than: float | None, max_size: int | None,
             keep_manifest: tuple[str, ...], dry_run: bool, as_json: bool) -> None:  # fmt: skip
    """Free space in the writable root (read-only layers are never touched).

    "Unused" is the file's mtime: set when written, refreshed (at most hourly) when read. Also
    removes quarantined files, and stale temporary files and unheld lock files (over an hour old).
    """
    keep = set(_keys_of(keep_manifest))
    report = store.gc(older_than=older_than, max_size=max_size, keep=keep, dry_run=dry_run)
    if as_json:
        _emit_json({"dry_run": dry_run, "removed": [e.key for e in report.removed],
                    "freed_bytes": report.freed_bytes, "kept": report.kept,
                    "remaining_bytes": report.remaining_bytes,
                    "temp_files": [str(p) for p in report.temp_files],
                    "quarantine_files": [str(p) for p in report.quarantine_files],
                    "lock_files": [str(p) for p in report.lock_files]})  # fmt: skip
        return
    verb = "would remove" if dry_run else "removed"
    for e in report.removed:
        click.echo(f"{verb} {e.key}  {_human_bytes(e.size)}")
    click.echo(
        f"{verb} {len(report.removed)} artifacts ({_human_bytes(report.freed_bytes)}), "
        f"{len(report.quarantine_files)} quarantined and {len(report.temp_files)} temporary "
        f"files; kept {report.kept} ({_human_bytes(report.remaining_bytes)})"
    )


def _report_transfer(action: str, report: Any, as_json: bool) -> None:
    if as_json:
        _emit_json({"ok": report.ok, "output": report.output, action: report.done,
                    "problems": report.problems})  # fmt: skip
    else:
        for key, problem in report.problems.items():
            click.echo(f"{key}: {problem}", err=True)
        counts: dict[str, int] = {}
        for status in report.done.values():
            counts[status] = counts.get(status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing"
        click.echo(f"{action}: {summary} -> {report.output}; {len(report.problems)} problems")
    if not report.ok:
        sys.exit(1)


@cache_group.command("pack")
@click.argument("output", type=click.Path(dir_okay=False))
@click.argument("keys", nargs=-1)
@click.option("--manifest", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Pack the keys listed in this manifest; repeatable.")  # fmt: skip
@_json_option
@pass_store
def cache_pack(store: Store, output: str, keys: tuple[str, ...], manifest: tuple[str, ...],
               as_json: bool) -> None:  # fmt: skip
    """Pack artifacts into one bundle file OUTPUT (default: every artifact of every layer).

    KEYS are keys or unique prefixes. Nothing is written if any requested artifact is missing or
    invalid (run `e2c cache verify` first).
    """
    from cache import transfer

    wanted = [_resolve_key(store, k) for k in keys] + _keys_of(manifest)
    with _progress(0, "pack") as tick:
        report = transfer.pack(store, output, wanted if keys or manifest else None, tick)
    _report_transfer("pack", report, as_json)


@cache_group.command("unpack")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.argument("keys", nargs=-1)
@_json_option
@pass_store
def cache_unpack(store: Store, bundle: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Copy the artifacts of BUNDLE (or only KEYS) into the writable root, bit for bit.

    A BUNDLE that is not a bundle or cannot be read whole is an error (exit code 1).
    """
    from cache import transfer

    with _progress(0, "unpack") as tick:
        report = transfer.unpack(store, bundle, keys, tick)
    _report_transfer("unpack", report, as_json)


@cache_group.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the union as a new bundle, not into the writable root.")  # fmt: skip
@_json_option
@pass_store
def cache_merge(store: Store, sources: tuple[str, ...], output: str | None, as_json: bool) -> None:
    """Merge store directories and bundles SOURCES into the writable root (or into --output).

    Artifacts are validated on the way; invalid ones are reported and skipped (exit code 1). A
    source that cannot be read whole is an error: nothing is merged.
    """
    from cache import transfer

    with _progress(0, "merge") as tick:
        report = transfer.merge(store, sources, output, tick)
    _report_transfer("merge", report, as_json)


# ------------------------------------------------------------------------------ e2c compile


def _specs_from_flags(desc: dict[str, Any]) -> list[Any]:
    """One layer given by flags (empty when no layer flag is set)."""
    desc = {
        k: list(v) if isinstance(v, tuple) else v for k, v in desc.items() if v not in (None, ())
    }
    if not desc:
        return []
    from e2compile.layers import spec_from_layer

    if isinstance(desc.get("sigma"), str) and "," not in desc["sigma"]:
        with contextlib.suppress(ValueError):  # not a number: the layer parser names the field
            desc["sigma"] = float(desc["sigma"])  # one width for every ring
    try:
        return [spec_from_layer(desc)]
    except ValueError as exc:  # LayerError
        raise click.UsageError(f"layer flags: {exc}") from None


def _collect(sources: tuple[str, ...], spec_json: tuple[str, ...], layer: dict) -> list[Any]:
    from runtime import aot

    builders = [s for s in sources if aot.is_builder(s)]
    files = [s for s in sources if not aot.is_builder(s)]
    return [*aot.specs_from_files(files), *aot.specs_from_builders(builders),
            *aot.specs_from_json(spec_json), *_specs_from_flags(layer)]  # fmt: skip


def _layer_fields_help(function: Any) -> Any:
    """Put the layer-description fields (e2compile.layers.layer_fields_help, built from the
    family and kind registries) in place of ``{layer_fields}`` in the command's docstring."""
    from e2compile.layers import layer_fields_help

    text = "\n    ".join("\b\n    " + "\n    ".join(lines) for lines in layer_fields_help())
    function.__doc__ = function.__doc__.replace("{layer_fields}", text)
    return function


def _kind_flags(command: Any) -> Any:
    """The single-layer flags the basis kinds declare (e2compile.layers.kind_flags)."""
    from e2compile.layers import kind_flags

    for name, kind, meaning in reversed(kind_flags()):
        flag = click.option(f"--{name.replace('_', '-')}", name, type=kind, help=meaning)
        command = flag(command)
    return command


@main.command("compile")
@click.argument("sources", nargs=-1)
@click.option("--spec-json", multiple=True, help="A canonical BasisSpec JSON; repeatable.")
@click.option("--gspace", help=f"Single layer: gspace family ({', '.join(FAMILIES)}).")
@click.option("-N", "--N", "N", type=int, help="Single layer: rotation order (-1: continuous).")
@click.option("--maximum-frequency", type=int, help="Single layer: irreps bound of SO(2)/O(2).")
@click.option("--axis", type=float, help="Single layer: flip axis in radians.")
@click.option("--in", "in_", multiple=True,
              help="Single layer: input representation name (k*name); repeat.")  # fmt: skip
@click.option("--out", multiple=True, help="Single layer: output representation name; repeat.")
@click.option("--kernel-size", type=int, help="Single layer: kernel size.")
@click.option("--dilation", type=int, help="Single layer: dilation.")
@click.option("--rings", help="Single layer: comma-separated ring radii (grid units).")
@click.option("--sigma", help="Single layer: a width or comma-separated widths per ring.")
@click.option("--frequencies-cutoff", help="Single layer: policy name (fco1) or a float.")
@click.option("--maximum-offset", type=int, help="Single layer: bound on aliased frequencies.")
@_kind_flags
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel compiler processes.")  # fmt: skip
@click.option("--shard", callback=_parse_shard, metavar="i/n",
              help="Compile only share i of n (0 <= i < n) of the sorted keys: one per cluster "
              "array job.")  # fmt: skip
@click.option("--manifest", type=click.Path(dir_okay=False),
              help="Write the keys (and specs) of this run's share to this JSON file.")  # fmt: skip
@click.option("--bundle", type=click.Path(dir_okay=False),
              help="Pack this run's artifacts into a bundle.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="List the specs of this share; compile nothing.")
@click.option("--max-size", type=click.FloatRange(min=0, min_open=True), metavar="MIB",
              help="Refuse bases whose estimated size (or any intermediate) exceeds MIB "
              f"(default: ${ENV['max_basis_mb']}, else 1024).")  # fmt: skip
@_json_option
@pass_store
@_layer_fields_help
def compile_cmd(store: Store, sources: tuple[str, ...], spec_json: tuple[str, ...], jobs: int,
                shard: tuple[int, int] | None, manifest: str | None, bundle: str | None,
                dry_run: bool, max_size: float | None, as_json: bool,
                **layer: Any) -> None:  # fmt: skip
    """Compile kernel and PDO bases into the writable store.

    \b
    What to compile (any mix; duplicates are compiled once):
      SOURCES          spec files: JSON (a list of layer descriptions, or
                       {"layers": [...]}), TOML ([[layers]] tables) or a
                       manifest (its specs); or model builders
                       path/to/file.py:build_model or package.module:name,
                       called with no arguments in a dry run that records
                       every basis the model's layers need
      --spec-json      a canonical BasisSpec JSON
      --gspace ...     flags describing a single layer
    {layer_fields}
    \b
    Example:
      [{"gspace": "rot2d", "N": 8, "in": ["regular"],
        "out": ["regular", "irrep_1"], "kernel_size": 5}]
    """
    from runtime import aot

    if max_size is not None:  # the compiler's limit, here and in the worker processes
        _use_for_this_command(max_basis_mb=max_size)
    layer = {"in" if k == "in_" else k: v for k, v in layer.items()}
    specs = _collect(sources, spec_json, layer)
    if not specs:
        raise click.UsageError(
            "nothing to compile: give a spec file, --spec-json or single-layer flags (--gspace ...)"
        )
    job = aot.plan(specs, shard)
    if dry_run:
        if as_json:
            _emit_json({"shard": job.shard, "total": job.total, "specs": job.specs})
        else:
            for key, text in job.specs.items():
                click.echo(f"{key}  {text}")
        return
    with _progress(len(job.specs), "compile") as tick:
        report = aot.compile_job(job, store, jobs, manifest, bundle, tick)
    if as_json:
        _emit_json(report.as_json())
    else:
        for r in report.failed:
            click.echo(f"FAILED {r.key} ({spec_summary(job.specs[r.key])})\n  {r.error}", err=True)
        for key, problem in (report.bundle_problems or {}).items():
            click.echo(f"not bundled {key[:16]}: {problem}", err=True)
        counts = report.counts
        click.echo(
            f"{counts['compiled']} compiled, {counts['cached']} cached, {counts['failed']} failed "
            f"(shard {job.shard}: {len(job.specs)} of {job.total} specs) in {report.seconds:.1f} s"
        )
    if not report.ok:
        sys.exit(1)


@main.command("convert-e2cnn")
@click.argument("builder")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to save the converted state_dict.",
)
def convert_e2cnn(builder: str, checkpoint: str, output: str) -> None:
    """Convert an e2cnn 0.2.3 CHECKPOINT for the model that BUILDER (path/to/file.py:name or
    package.module:name, called without arguments) builds; see runtime.checkpoints."""
    import torch

    from runtime import aot
    from runtime.checkpoints import CheckpointError, convert_e2cnn_checkpoint

    build = aot.load_builder(builder)
    try:
        model = build()
    except Exception as exc:  # noqa: BLE001 - the user's model code
        raise click.ClickException(
            f"{builder}: building the model failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise click.ClickException(
            f"{builder}: returned a value of type {type(model).__name__}, not a torch.nn.Module"
        )
    try:
        report = convert_e2cnn_checkpoint(model, checkpoint, output)
    except CheckpointError as exc:
        raise click.ClickException(f"{checkpoint}: {exc}") from None
    except (CacheError, OSError):
        raise  # one line each (_Group)
    except Exception as exc:  # noqa: BLE001 - a checkpoint is arbitrary input: never a traceback
        raise click.ClickException(
            f"{checkpoint}: cannot convert: {type(exc).__name__}: {exc}"
        ) from None
    click.echo(
        f"converted {report['converted_tensors']} tensors ({report['parameters']} parameters), "
        f"dropped {report['dropped_tensors']} (bases, cached filters, indices) -> {output}"
    )


# ----------------------------------------------------------------------- e2c check, e2c show
# Thin click wrappers: the logic is runtime.check (torch) and e2compile.show (numpy, matplotlib).


def _png_path(ctx: Any, param: Any, value: str | None) -> str | None:
    """A ``.png`` file name (matplotlib picks the format from the suffix)."""
    if value is not None and Path(value).suffix.lower() != ".png":
        raise click.BadParameter(f"{value!r}: expected a file name ending in .png")
    return value


@main.command("check")
@click.argument("model")
@click.option(
    "--size",
    type=click.IntRange(min=5),
    default=33,
    show_default=True,
    help="Side of the test image; strided layers need a size they subsample "
    "symmetrically (2**k + 1).",
)
@click.option(
    "--angles",
    type=click.IntRange(min=1),
    default=72,
    show_default=True,
    help="Rotations in the sweep (SO(2)/O(2); for C_N/D_N also between the group's "
    "elements, on invariant outputs).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-4,
    show_default=True,
    help="Relative error allowed on grid-preserving elements.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed torch before building the model (reproducible initial weights).",
)
@click.option("--plot", type=click.Path(dir_okay=False), callback=_png_path,
              help="Write error against angle (PNG).")  # fmt: skip
@_json_option
@pass_store
def check_cmd(
    store: Store,
    model: str,
    size: int,
    angles: int,
    tolerance: float,
    seed: int,
    plot: str | None,
    as_json: bool,
) -> None:
    """Measure a model's equivariance error, layer by layer, on a real photograph.

    MODEL is path/to/file.py:build_model or package.module:build_model (as for `e2c compile`),
    called with no arguments. Every testing element and a sweep of rotations (and flips) are
    compared; exit code 1 when a grid-preserving element (multiples of 90 degrees, axis flips)
    exceeds the tolerance in any layer. See docs/check_show.md.
    """
    from runtime import aot

    if not aot.is_builder(model):
        raise click.BadParameter(
            f"{model!r}: expected path/to/file.py:build_model or package.module:build_model",
            param_hint="MODEL",
        )
    builder = aot.load_builder(model)  # SourceError: a usage error (2), as for e2c compile
    import torch

    from runtime.check import check_equivariance
    from runtime.check_plot import plot_report

    try:
        torch.manual_seed(seed)
        net = builder()
    except Exception as exc:  # noqa: BLE001 - the user's model code
        raise click.ClickException(
            f"{model}: building the model failed: {type(exc).__name__}: {exc}"
        ) from None
    try:
        report = check_equivariance(net, size=size, angles=angles, tolerance=tolerance)
    except TypeError as exc:  # not a model e2c check can drive
        raise click.BadParameter(str(exc), param_hint="MODEL") from None
    except ImportError as exc:  # an optional dependency (scikit-learn) is missing
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - running the user's model failed
        raise click.ClickException(
            f"{model}: running the model on a {size}x{size} input failed: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if plot:
        try:
            plot_report(report, plot)
        except ImportError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        _emit_json({**report.to_json(), "plot": plot})
    else:
        click.echo(report.table())
    if not report.ok:
        sys.exit(1)


@main.command("show")
@click.argument("key")
@click.option("--png", type=click.Path(dir_okay=False), callback=_png_path,
              help="Draw the basis filters (PNG).")  # fmt: skip
@click.option(
    "--max-elements",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Draw at most this many basis elements.",
)
@_json_option
@pass_store
def show_cmd(store: Store, key: str, png: str | None, max_elements: int, as_json: bool) -> None:
    """List the basis elements of an artifact; with --png, draw their filters.

    KEY is a key or a unique prefix of one. Each element is drawn in the irreps basis, one tile
    per channel of its irreps block, titled with its ring (or PDO order) and frequency.
    """
    key = _resolve_key(store, key)
    record = store.get(key)  # validated: a corrupt artifact is never drawn
    if record is None:
        raise click.ClickException(f"no valid artifact {key} (see `e2c cache info {key[:16]}`)")
    from e2compile.artifact import artifact_from_record
    from e2compile.compiler import BasisArtifact
    from e2compile.show import element_rows, irrep_tiles, render_tiles

    try:
        artifact = artifact_from_record(record.arrays, record.meta)
    except (ValueError, KeyError, RecursionError) as exc:  # a spec nested beyond any BasisSpec
        raise click.ClickException(f"{key[:16]} is not a basis artifact: {exc}") from None
    if not isinstance(artifact, BasisArtifact):  # e.g. a grid kind's matrices: no filters
        raise click.ClickException(
            f"{key[:16]} is a {artifact.spec.kind} artifact, which has no filters to list or "
            f"draw (see `e2c cache info {key[:16]}`)"
        )
    rows = element_rows(artifact)
    drawn = min(len(rows), max_elements)
    if png:
        if not rows:
            raise click.ClickException(f"{key[:16]} has no basis element to draw (dim 0)")
        title = f"{key[:12]}  {spec_summary(record.meta['spec'])}"
        if drawn < len(rows):
            title += f"  (first {drawn} of {len(rows)} elements)"
        try:
            render_tiles(irrep_tiles(artifact, max_elements), png, title=title)
        except ImportError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        _emit_json(
            {
                "key": key,
                "spec": record.meta["spec"],
                "elements": rows,
                "png": png,
                "drawn": drawn if png else 0,
            }
        )
        return
    click.echo(f"{key}  {spec_summary(record.meta['spec'])}  {len(rows)} elements")
    names = [n for n in rows[0] if n != "element"] if rows else []
    click.echo("  ".join(f"{n:>10}" for n in ["element", *names]))
    for row in rows:
        click.echo("  ".join(f"{_cell(row[n]):>10}" for n in ["element", *names]))
    if png:
        click.echo(f"drew {drawn} of {len(rows)} elements to {png}", err=True)


def _cell(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":  # pragma: no cover
    main()
