"""The ``e2c`` command line: compile kernel bases ahead of time and manage the artifact store.

Human output by default, ``--json`` for scripts. Exit codes: 0 ok, 1 failure (a compile failed, an
artifact is invalid or missing), 2 usage error (bad option, unreadable spec file, ambiguous key).
The store comes from ``--cache-dir``/``--cache-path``/``--offline`` or the ``E2C_*`` variables and
is shared by every command through ``ctx.obj``. The compiler (``e2compile``) is imported lazily,
only by ``e2c compile``. See ``docs/cli.md``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from cache import Bundle, FileStore, Record, Store, is_key, open_layer, write_bundle
from cache.errors import CorruptArtifactError
from e2compile import __version__

MANIFEST_FORMAT = "e2compile-manifest"
MANIFEST_VERSION = 1

pass_store = click.make_pass_decorator(Store)


# ------------------------------------------------------------------------------------ helpers


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


_SIZE_RE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*")
_DURATION_RE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([smhdw]?)\s*")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_size(text: str) -> int:
    """``"500M"`` → bytes. Suffixes k, M, G, T (optionally followed by ``B`` or ``iB``) are
    powers of 1024; a bare number is bytes."""
    m = _SIZE_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (examples: 1048576, 500M, 2G, 1.5GiB)")
    power = " KMGT".index(m.group(2).upper() or " ")
    return int(float(m.group(1)) * 1024**power)


def parse_duration(text: str) -> float:
    """``"30d"`` → seconds. Units s, m, h, d, w; a bare number is days."""
    m = _DURATION_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a duration: {text!r} (examples: 90s, 15m, 12h, 30d, 2w)")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


class _Parsed(click.ParamType):
    """A click type read by ``parse`` (a ``ValueError`` is a usage error); values that already
    have the parsed type (defaults) pass through."""

    def __init__(self, name: str, parse: Callable[[str], Any], parsed_type: type) -> None:
        self.name = name
        self.parse = parse
        self.parsed_type = parsed_type

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


def _progress(total: int, desc: str):
    """A tqdm progress bar on stderr (silent when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="artifact", file=sys.stderr, disable=None, leave=False)


def read_manifest_keys(path: str | os.PathLike[str]) -> list[str]:
    """Keys listed by a manifest (``e2c compile --manifest``) or a plain JSON list of keys."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read manifest {path}: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else data
    if not isinstance(keys, list) or not all(isinstance(k, str) and is_key(k) for k in keys):
        raise click.BadParameter(f"{path}: expected a manifest with a 'keys' list of 64-hex keys")
    return keys


def _resolve_key(store: Store, prefix: str) -> str:
    """The one key of ``store`` starting with ``prefix``: failure (1) if none, usage error (2)
    if several."""
    prefix = prefix.strip().lower()
    if is_key(prefix):
        return prefix
    matches = [k for k in store.keys() if k.startswith(prefix)] if prefix else []
    if not matches:
        raise click.ClickException(f"no artifact matches {prefix!r}")
    if len(matches) > 1:
        raise click.UsageError(f"{len(matches)} artifacts match {prefix!r}: give more digits")
    return matches[0]


def _spec_summary(spec_json: str) -> str:
    """A one-line summary of a spec JSON (generic: only the fields that are present)."""
    try:
        spec = json.loads(spec_json)
    except ValueError:
        return "?"
    if not isinstance(spec, dict):
        return "?"
    parts = [str(spec.get("family", spec.get("gspace", "?")))]
    for name, label in (("N", "N"), ("kind", ""), ("kernel_size", "k"), ("dilation", "d")):
        if name in spec and not isinstance(spec[name], (dict, list)):
            parts.append(f"{label}={spec[name]}" if label else str(spec[name]))
    sizes = []
    for name in ("in_repr", "out_repr"):
        rep = spec.get(name)
        if isinstance(rep, dict) and isinstance(rep.get("change_of_basis"), list):
            sizes.append(str(len(rep["change_of_basis"])))
    if len(sizes) == 2:
        parts.append(f"{sizes[0]}->{sizes[1]} channels")
    return " ".join(parts)


def _layer_kind(layer: Any) -> str:
    if isinstance(layer, Bundle):
        return "bundle"
    return "writable" if layer.writable else "read-only"


# ---------------------------------------------------------------------------------- top group


@click.group()
@click.version_option(__version__, prog_name="e2c")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Writable store root. Default: $E2C_CACHE_DIR, else the user cache directory.",
)
@click.option(
    "--cache-path",
    "layers",
    multiple=True,
    type=click.Path(),
    help="Extra read-only layer (directory or bundle file); repeatable. "
    "Default: $E2C_CACHE_PATH (os.pathsep-separated).",
)
@click.option(
    "--offline/--online",
    default=None,
    help="Offline mode for run-time lookups (default: $E2C_OFFLINE).",
)
@click.pass_context
def main(ctx: click.Context, cache_dir: str | None, layers: tuple[str, ...], offline: bool | None):
    """Compile steerable kernel bases ahead of time and manage the artifact store."""
    ctx.obj = Store(root=cache_dir, layers=list(layers) if layers else None, offline=offline)


# ------------------------------------------------------------------------------ e2c cache ...


@main.group("cache")
def cache_group() -> None:
    """Inspect and maintain the artifact store."""


@cache_group.command("path")
@click.option("--all", "show_all", is_flag=True, help="Also list the read-only layers.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_path(store: Store, show_all: bool, as_json: bool) -> None:
    """Print the writable store root (with --all: every layer, in search order)."""
    if as_json:
        _emit_json(
            {
                "root": store.root.location,
                "layers": [{"path": x.location, "kind": _layer_kind(x)} for x in store.layers],
                "offline": store.offline,
                "quarantine": str(store.root.quarantine_dir),
            }
        )
        return
    if not show_all:
        click.echo(store.root.location)
        return
    for layer in store.all_layers:
        click.echo(f"{layer.location}\t{_layer_kind(layer)}")


def _entry(store: Store, key: str) -> dict[str, Any]:
    layer = store.locate(key)
    assert layer is not None
    row: dict[str, Any] = {"key": key, "layer": layer.location, "layer_kind": _layer_kind(layer)}
    if isinstance(layer, FileStore):
        path = layer.path(key)
        row["path"] = str(path)
        row["size"] = path.stat().st_size if path.exists() else None
    else:
        row["path"] = f"{layer.location}:/artifacts/{key}"
        row["size"] = None
    try:
        info = layer.info(key)
    except (CorruptArtifactError, KeyError, OSError) as exc:
        reason = exc.reason if isinstance(exc, CorruptArtifactError) else str(exc)
        row.update(valid=False, reason=reason, created=None, compiler_version=None, spec=None)
        return row
    if row["size"] is None:  # inside a bundle: the data bytes
        row["size"] = sum(
            math.prod(a["shape"]) * _itemsize(a["dtype"]) for a in info.arrays.values()
        )
    row.update(
        valid=True,
        created=info.created,
        compiler_version=info.compiler_version,
        spec=info.spec,
        arrays={n: {"dtype": a["dtype"], "shape": a["shape"]} for n, a in info.arrays.items()},
    )
    return row


def _itemsize(dtype: str) -> int:
    import numpy as np

    return np.dtype(dtype).itemsize


@cache_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_ls(store: Store, as_json: bool) -> None:
    """List the artifacts of every layer (headers only; use `verify` to check the data)."""
    rows = [_entry(store, key) for key in store.keys()]
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        status = _spec_summary(row["spec"]) if row["valid"] else f"INVALID: {row['reason']}"
        created = (row["created"] or "-")[:19].replace("T", " ")
        click.echo(
            f"{row['key'][:16]}  {_human_bytes(row['size'] or 0):>10}  {created:19}  "
            f"{row['layer_kind']:9}  {status}"
        )
    total = sum(r["size"] or 0 for r in rows)
    click.echo(f"{len(rows)} artifacts, {_human_bytes(total)}", err=True)


@cache_group.command("info")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_info(store: Store, key: str, as_json: bool) -> None:
    """Show one artifact: KEY is a key or a unique prefix of one."""
    key = _resolve_key(store, key)
    if store.locate(key) is None:
        raise click.ClickException(f"no artifact {key}")
    row = _entry(store, key)
    if row["valid"]:  # full data check, no side effect
        try:
            store.locate(key).load(key)
        except (CorruptArtifactError, KeyError, OSError) as exc:
            row.update(valid=False, reason=getattr(exc, "reason", str(exc)))
    if as_json:
        _emit_json(row)
    else:
        click.echo(f"key:      {row['key']}")
        click.echo(f"location: {row['path']} ({row['layer_kind']})")
        click.echo(f"size:     {_human_bytes(row['size'] or 0)}")
        if row["valid"]:
            click.echo(f"created:  {row['created']}")
            click.echo(f"compiler: {row['compiler_version'] or '-'}")
            from e2compile.layers import describe_spec
            from e2compile.specs import BasisSpec

            with contextlib.suppress(ValueError, TypeError, KeyError):  # not a BasisSpec
                settings = describe_spec(BasisSpec.from_json(row["spec"]))
                click.echo("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
            click.echo("spec:")
            click.echo(json.dumps(json.loads(row["spec"]), indent=2, sort_keys=True))
            click.echo("arrays:")
            for name, a in row["arrays"].items():
                click.echo(f"  {name:24} {a['dtype']:>6}  {tuple(a['shape'])}")
        else:
            click.echo(f"INVALID:  {row['reason']}")
    if not row["valid"]:
        sys.exit(1)


@cache_group.command("verify")
@click.option(
    "--no-quarantine", is_flag=True, help="Report invalid files without moving them aside."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_verify(store: Store, no_quarantine: bool, as_json: bool) -> None:
    """Check every artifact of every layer: header, key, schema, checksums.

    Invalid files in the writable root are moved to its quarantine directory; read-only layers
    are only reported. Exit code 1 when anything is invalid.
    """
    total = sum(len(layer.keys()) for layer in store.all_layers)
    results = []
    with _progress(total, "verify") as bar:
        for result in store.iter_verify(quarantine=not no_quarantine):
            results.append(result)
            bar.update(1)
    bad = [r for r in results if not r.ok]
    if as_json:
        _emit_json(
            {
                "ok": not bad,
                "checked": len(results),
                "invalid": [
                    {
                        "key": r.key,
                        "location": r.location,
                        "reason": r.reason,
                        "quarantined_to": r.quarantined_to,
                    }
                    for r in bad
                ],
            }
        )
    else:
        for r in bad:
            moved = f" -> moved to {r.quarantined_to}" if r.quarantined_to else ""
            click.echo(f"INVALID {r.location}: {r.reason}{moved}")
        click.echo(f"{len(results)} artifacts checked, {len(bad)} invalid")
    if bad:
        sys.exit(1)


@cache_group.command("gc")
@click.option(
    "--older-than",
    type=_Parsed("DURATION", parse_duration, float),
    default=None,
    help="Remove artifacts unused for this long (90s, 15m, 12h, 30d, 2w; bare number = days).",
)
@click.option(
    "--max-size",
    type=_Parsed("SIZE", parse_size, int),
    default=None,
    help="Then remove least recently used artifacts until the root holds at most this "
    "(500M, 2G; powers of 1024).",
)
@click.option(
    "--keep-manifest",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Never remove the keys listed in this manifest; repeatable.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_gc(
    store: Store,
    older_than: float | None,
    max_size: int | None,
    keep_manifest: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Free space in the writable root (read-only layers are never touched).

    "Unused" is the file's mtime: set when written, refreshed (at most hourly) when read. Also
    removes quarantined files, and stale temporary files and unheld lock files (over an hour old).
    """
    keep = {k for path in keep_manifest for k in read_manifest_keys(path)}
    report = store.gc(older_than=older_than, max_size=max_size, keep=keep, dry_run=dry_run)
    if as_json:
        _emit_json(
            {
                "dry_run": dry_run,
                "removed": [e.key for e in report.removed],
                "freed_bytes": report.freed_bytes,
                "kept": report.kept,
                "remaining_bytes": report.remaining_bytes,
                "temp_files": [str(p) for p in report.temp_files],
                "quarantine_files": [str(p) for p in report.quarantine_files],
                "lock_files": [str(p) for p in report.lock_files],
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    for e in report.removed:
        click.echo(f"{verb} {e.key}  {_human_bytes(e.size)}")
    click.echo(
        f"{verb} {len(report.removed)} artifacts ({_human_bytes(report.freed_bytes)}), "
        f"{len(report.quarantine_files)} quarantined and {len(report.temp_files)} temporary "
        f"files; kept {report.kept} ({_human_bytes(report.remaining_bytes)})"
    )


def _iter_valid(
    sources: Sequence[Any], keys: Iterable[str], problems: dict[str, str]
) -> Iterator[tuple[Record, str]]:
    """Yield ``(record, created)`` for each key (sorted) from the first source with a valid copy.

    Keys with no valid copy are recorded in ``problems`` (``missing`` or ``invalid: reason``).
    Records are streamed, never all held in memory.
    """
    keys = sorted(set(keys))
    with _progress(len(keys), "read") as bar:
        for key in keys:
            problem = "missing"
            for source in sources:
                try:
                    record, info = source.load(key)
                except (KeyError, FileNotFoundError):
                    continue
                except CorruptArtifactError as exc:
                    problem = f"invalid: {exc.reason}"
                    continue
                yield record, info.created
                break
            else:
                problems[key] = problem
            bar.update(1)


class _Incomplete(Exception):
    """Raised inside :func:`write_bundle`'s input to abandon the bundle (no file is written)."""


def _bundle(
    output: str, sources: Sequence[Any], keys: Iterable[str], all_or_nothing: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """Write the valid artifacts of ``keys`` to a bundle: ``({key: "packed"}, problems)``.

    With ``all_or_nothing`` no file is written when any key is missing or invalid.
    """
    problems: dict[str, str] = {}

    def items() -> Iterator[tuple[Record, str]]:
        yield from _iter_valid(sources, keys, problems)
        if problems and all_or_nothing:
            raise _Incomplete

    try:
        written = write_bundle(output, items())
    except _Incomplete:
        return {}, problems
    return dict.fromkeys(written, "packed"), problems


def _report_transfer(action: str, done: dict[str, str], problems: dict, as_json: bool, **extra):
    if as_json:
        _emit_json({"ok": not problems, **extra, action: done, "problems": problems})
    else:
        for key, problem in problems.items():
            click.echo(f"{key}: {problem}", err=True)
        counts: dict[str, int] = {}
        for status in done.values():
            counts[status] = counts.get(status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing"
        target = f" -> {extra['output']}" if extra.get("output") else ""
        click.echo(f"{action}: {summary}{target}; {len(problems)} problems")
    if problems:
        sys.exit(1)


@cache_group.command("pack")
@click.argument("output", type=click.Path(dir_okay=False))
@click.argument("keys", nargs=-1)
@click.option(
    "--manifest",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Pack the keys listed in this manifest; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_pack(
    store: Store, output: str, keys: tuple[str, ...], manifest: tuple[str, ...], as_json: bool
) -> None:
    """Pack artifacts into one bundle file OUTPUT (default: every artifact of every layer).

    KEYS are keys or unique prefixes. Nothing is written if any requested artifact is missing or
    invalid (run `e2c cache verify` first).
    """
    wanted = [_resolve_key(store, k) for k in keys]
    wanted += [k for path in manifest for k in read_manifest_keys(path)]
    if not keys and not manifest:
        wanted = store.keys()
    done, problems = _bundle(output, store.all_layers, wanted, all_or_nothing=True)
    _report_transfer("pack", done, problems, as_json, output=str(Path(output).absolute()))


@cache_group.command("unpack")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.argument("keys", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_unpack(store: Store, bundle: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Copy the artifacts of BUNDLE (or only KEYS) into the writable root, bit for bit."""
    source = Bundle(bundle)
    _copy_into_root(store, [source], keys or source.keys(), "unpack", as_json)


@cache_group.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the union as a new bundle instead of copying into the writable root.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def cache_merge(store: Store, sources: tuple[str, ...], output: str | None, as_json: bool) -> None:
    """Merge store directories and bundles SOURCES into the writable root (or into --output).

    Artifacts are validated on the way; invalid ones are reported and skipped (exit code 1).
    """
    layers = [open_layer(s) for s in sources]
    keys = sorted({k for layer in layers for k in layer.keys()})
    if output is None:
        _copy_into_root(store, layers, keys, "merge", as_json)
        return
    done, problems = _bundle(output, layers, keys, all_or_nothing=False)
    _report_transfer("merge", done, problems, as_json, output=str(Path(output).absolute()))


def _copy_into_root(store: Store, sources: list, keys: Iterable[str], action: str, as_json: bool):
    problems: dict[str, str] = {}
    done = {}
    for record, created in _iter_valid(sources, keys, problems):
        done[record.key] = "copied" if store.put(record, created) else "present"
    _report_transfer(action, done, problems, as_json, output=store.root.location)


# ------------------------------------------------------------------------------ e2c compile


def specs_from_files(paths: Sequence[str]) -> list[Any]:
    """Mode (b): every layer of every spec file (``e2compile.layers``)."""
    if not paths:
        return []
    from e2compile.layers import specs_from_layer_file

    specs = []
    for path in paths:
        if not Path(path).is_file():
            raise click.BadParameter(f"no such spec file: {path}", param_hint="SOURCES")
        try:
            specs += specs_from_layer_file(path)
        except OSError as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="SOURCES") from None
        except ValueError as exc:  # LayerError: names the file, the layer and the field
            raise click.BadParameter(str(exc), param_hint="SOURCES") from None
    return specs


def specs_from_json(texts: Sequence[str]) -> list[Any]:
    """``--spec-json``: canonical ``BasisSpec`` JSON (as printed by the offline-mode error)."""
    if not texts:
        return []
    from e2compile.specs import BasisSpec

    specs = []
    for text in texts:
        try:
            specs.append(BasisSpec.from_json(text))
        except Exception as exc:  # noqa: BLE001 - any parse failure is the user's input
            raise click.BadParameter(f"{exc}", param_hint="--spec-json") from None
    return specs


def specs_from_flags(desc: dict[str, Any]) -> list[Any]:
    """Mode (c): one layer given by flags (empty when no layer flag is set)."""
    desc = {k: v for k, v in desc.items() if v not in (None, ())}
    if not desc:
        return []
    from e2compile.layers import spec_from_layer

    desc = {k: list(v) if isinstance(v, tuple) else v for k, v in desc.items()}
    if isinstance(desc.get("sigma"), str) and "," not in desc["sigma"]:
        with contextlib.suppress(ValueError):  # not a number: the layer parser names the field
            desc["sigma"] = float(desc["sigma"])  # one width for every ring
    try:
        return [spec_from_layer(desc)]
    except ValueError as exc:  # LayerError
        raise click.UsageError(f"layer flags: {exc}") from None


def _compile_one(spec_json: str, root: str, layers: list[str]) -> dict[str, Any]:
    """Compile one spec into the store (runs in a worker process); never raises."""
    from cache import key_for

    start = time.perf_counter()
    key = key_for(spec_json)
    try:
        from e2compile import compiler, specs

        spec = specs.BasisSpec.from_json(spec_json)
        made = []

        def factory() -> Record:
            made.append(True)
            arrays, meta = compiler.compile(spec).to_record()
            return Record(key, arrays, meta)

        Store(root, layers, offline=False).get_or_create(key, factory, spec=spec_json)
        status, error = ("compiled" if made else "cached"), None
    except Exception as exc:  # noqa: BLE001 - reported per spec, the others go on
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    return {"key": key, "status": status, "seconds": time.perf_counter() - start, "error": error}


def select_shard(keys: Sequence[str], shard: tuple[int, int] | None) -> list[str]:
    """The deterministic share ``i/n`` of ``keys``: every n-th of the sorted keys from the i-th."""
    keys = sorted(set(keys))
    return keys if shard is None else keys[shard[0] :: shard[1]]


def run_compile(store: Store, spec_jsons: Sequence[str], jobs: int) -> list[dict[str, Any]]:
    """Compile every spec JSON into ``store``'s root with ``jobs`` processes; results in order."""
    args = (store.root.location, [layer.location for layer in store.layers])
    results: dict[str, dict[str, Any]] = {}
    with _progress(len(spec_jsons), "compile") as bar:
        if jobs <= 1 or len(spec_jsons) <= 1:
            for text in spec_jsons:
                result = _compile_one(text, *args)
                results[result["key"]] = result
                bar.update(1)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            context = multiprocessing.get_context("spawn")
            workers = min(jobs, len(spec_jsons))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_compile_one, text, *args) for text in spec_jsons]
                for future in as_completed(futures):
                    result = future.result()
                    results[result["key"]] = result
                    bar.update(1)
    from cache import key_for

    return [results[key_for(text)] for text in spec_jsons]


def _kind_flags(command: Any) -> Any:
    """The single-layer flags the basis kinds declare (e2compile.layers.kind_flags)."""
    from e2compile.layers import kind_flags

    for name, kind, meaning in reversed(kind_flags()):
        flag = click.option(f"--{name.replace('_', '-')}", name, type=kind, help=meaning)
        command = flag(command)
    return command


@main.command("compile")
@click.argument("sources", nargs=-1)
@click.option(
    "--spec-json", multiple=True, help="A canonical BasisSpec JSON to compile; repeatable."
)
@click.option("--gspace", help="Single layer: gspace family (rot2d, fliprot2d, flip2d, trivial).")
@click.option("-N", "--N", "N", type=int, help="Single layer: rotation order (-1: continuous).")
@click.option("--maximum-frequency", type=int, help="Single layer: irreps bound of SO(2)/O(2).")
@click.option("--axis", type=float, help="Single layer: flip axis in radians.")
@click.option(
    "--in", "in_", multiple=True, help="Single layer: input representation name (k*name); repeat."
)
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
@click.option(
    "--shard",
    callback=_parse_shard,
    metavar="i/n",
    help="Compile only share i of n (0 <= i < n) of the sorted keys: one per cluster array job.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    help="Write the keys (and specs) of this run's share to this JSON file.",
)
@click.option(
    "--bundle", type=click.Path(dir_okay=False), help="Pack this run's artifacts into a bundle."
)
@click.option("--dry-run", is_flag=True, help="List the specs of this share; compile nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_store
def compile_cmd(
    store: Store,
    sources: tuple[str, ...],
    spec_json: tuple[str, ...],
    jobs: int,
    shard: tuple[int, int] | None,
    manifest: str | None,
    bundle: str | None,
    dry_run: bool,
    as_json: bool,
    **layer: Any,
) -> None:
    """Compile kernel and PDO bases into the writable store.

    \b
    What to compile (any mix; duplicates are compiled once):
      SOURCES          spec files: JSON (a list of layer descriptions, or
                       {"layers": [...]}) or TOML ([[layers]] tables);
                       or model builders path/to/file.py:build_model or
                       package.module:build_model, called with no
                       arguments in a dry run that records every basis the
                       model's layers need (nothing is sampled)
      --spec-json      a canonical BasisSpec JSON, as printed by the
                       offline-mode error of the runtime
      --gspace ...     flags describing a single layer
    \b
    Layer description fields:
      gspace              rot2d | fliprot2d | flip2d | trivial
      N                   rotation order (rot2d, fliprot2d); -1 = continuous
      maximum_frequency   irreps bound when N = -1
      axis                flip axis in radians (default pi/2)
      in, out             representation name or list of names, each
                          optionally "k*name": regular, trivial, irrep_1,
                          irrep_1,2 (D_N), or any built representation name
      kernel_size         required; dilation, rings, sigma,
                          frequencies_cutoff, maximum_offset optional
      kind                "kernel" (default) or "pdo": PDO layers take
                          kernel_size/accuracy/maximum_order (two at most),
                          maximum_power, method (fd|rbffd|gauss), smoothing,
                          phi, angle_offset instead of rings/sigma/cutoff
    \b
    Example:
      [{"gspace": "rot2d", "N": 8, "in": ["regular"],
        "out": ["regular", "irrep_1"], "kernel_size": 5}]
    """
    layer = {"in" if k == "in_" else k: v for k, v in layer.items()}
    specs = collect_specs(sources, spec_json, layer)
    if not specs:
        raise click.UsageError(
            "nothing to compile: give a spec file, --spec-json or single-layer flags (--gspace ...)"
        )
    by_key = {spec.key: spec.canonical_json() for spec in specs}
    keys = select_shard(list(by_key), shard)
    texts = [by_key[k] for k in keys]
    shard_text = f"{shard[0]}/{shard[1]}" if shard else "0/1"
    if dry_run:
        if as_json:
            _emit_json(
                {"shard": shard_text, "total": len(by_key), "specs": {k: by_key[k] for k in keys}}
            )
        else:
            for k in keys:
                click.echo(f"{k}  {by_key[k]}")
        return
    start = time.perf_counter()
    results = run_compile(store, texts, jobs)
    elapsed = time.perf_counter() - start
    produced = [r["key"] for r in results if r["status"] != "failed"]
    failed = [r for r in results if r["status"] == "failed"]
    if manifest:
        Path(manifest).write_text(
            json.dumps(
                {
                    "format": MANIFEST_FORMAT,
                    "version": MANIFEST_VERSION,
                    "e2compile_version": __version__,
                    "shard": shard_text,
                    "keys": produced,
                    "specs": {k: by_key[k] for k in produced},
                    "failed": [r["key"] for r in failed],
                },
                indent=2,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )
    bundle_problems: dict[str, str] = {}
    if bundle:
        _, bundle_problems = _bundle(bundle, store.all_layers, produced, all_or_nothing=False)
    counts = {s: sum(r["status"] == s for r in results) for s in ("compiled", "cached", "failed")}
    ok = not failed and not bundle_problems
    if as_json:
        _emit_json(
            {
                "ok": ok,
                "shard": shard_text,
                "total": len(by_key),
                **counts,
                "seconds": elapsed,
                "results": results,
                "manifest": manifest,
                "bundle": bundle,
                "bundle_problems": bundle_problems,
            }
        )
    else:
        for r in failed:
            click.echo(f"FAILED {r['key'][:16]} {by_key[r['key']]}\n  {r['error']}", err=True)
        for key, problem in bundle_problems.items():
            click.echo(f"not bundled {key[:16]}: {problem}", err=True)
        click.echo(
            f"{counts['compiled']} compiled, {counts['cached']} cached, {counts['failed']} failed "
            f"(shard {shard_text}: {len(keys)} of {len(by_key)} specs) in {elapsed:.1f} s"
        )
    if not ok:
        sys.exit(1)


def collect_specs(
    sources: Sequence[str], spec_jsons: Sequence[str], layer: dict[str, Any]
) -> list[Any]:
    """Every spec named on the command line, in order (duplicates allowed).

    Each input mode is one function returning a list of specs.
    """
    builders = [s for s in sources if _is_model_builder(s)]
    files = [s for s in sources if not _is_model_builder(s)]
    return [
        *specs_from_files(files),
        *specs_from_model_builders(builders),
        *specs_from_json(spec_jsons),
        *specs_from_flags(layer),
    ]


def _is_model_builder(source: str) -> bool:
    """``path/to/file.py:name`` or ``package.module:name`` (an existing file is a spec file)."""
    target, _, name = source.rpartition(":")
    return bool(target) and name.isidentifier() and not Path(source).is_file()


def _load_model_builder(source: str) -> Any:
    """The callable named by ``path/to/file.py:name`` or ``package.module:name``."""
    import importlib
    import importlib.util

    target, _, name = source.rpartition(":")
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise click.BadParameter(f"no such Python file: {target}", param_hint="SOURCES")
        module_name = f"_e2c_model_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.parent))  # the file's own imports, as when run as a script
        try:
            module_spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise click.BadParameter(f"{source}: {exc}", param_hint="SOURCES") from None
    builder = getattr(module, name, None)
    if not callable(builder):
        raise click.BadParameter(
            f"{source}: {target} has no callable {name!r}", param_hint="SOURCES"
        )
    return builder


def specs_from_model_builders(sources: Sequence[str]) -> list[Any]:
    """Mode (a): build each model in a dry run (``runtime.bases.collect_specs``) and return the
    specs its layers asked for; the runtime (torch) is imported only in this mode."""
    if not sources:
        return []
    from runtime.bases import collect_specs as dry_run

    specs = []
    for source in sources:
        builder = _load_model_builder(source)
        with dry_run() as collected:
            try:
                builder()
            except Exception as exc:  # noqa: BLE001 - the user's model code
                raise click.ClickException(
                    f"{source}: building the model in a dry run failed: {type(exc).__name__}: {exc}"
                ) from None
        if collected.unkeyable:
            click.echo(
                f"{source}: {len(collected.unkeyable)} basis/bases use a callable "
                "frequencies_cutoff: they cannot be stored and compile at run time",
                err=True,
            )
        specs += collected.specs
    return specs


if __name__ == "__main__":  # pragma: no cover
    main()
