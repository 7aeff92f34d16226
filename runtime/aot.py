"""Ahead-of-time compilation: which specs a run names, and ``compile_many`` into a store.

This is the library behind ``e2c compile`` (the command only parses options and prints). It is
kind-agnostic: any :class:`~e2compile.specs.BasisSpec` goes in, ``compiler.compile(spec)`` comes
out and is stored. Torch is imported only to dry-run a model builder (:func:`specs_from_builders`).

Where specs come from:

* spec files (:func:`specs_from_files`): layer descriptions (``e2compile.layers``) or a manifest
  (``cache.manifest``: its ``specs`` are compiled, e.g. the file an offline miss writes);
* model builders ``path/file.py:name`` or ``package.module:name`` (:func:`specs_from_builders`);
* canonical spec JSON (:func:`specs_from_json`).

Bad input raises :class:`SourceError` (a ``ValueError``) naming the source; a model builder that
fails while building raises :class:`BuildError`.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bases import compiler_limits, limits_of

if TYPE_CHECKING:  # pragma: no cover
    from cache import Store
    from cache.settings import Settings
    from e2compile.specs import BasisSpec

__all__ = [
    "BuildError",
    "CompileReport",
    "CompileResult",
    "OutputError",
    "Plan",
    "SourceError",
    "compile_job",
    "compile_many",
    "is_builder",
    "load_builder",
    "plan",
    "select_shard",
    "spec_from_json",
    "specs_from_builders",
    "specs_from_files",
    "specs_from_json",
]


class SourceError(ValueError):
    """A source of specs (file, builder, JSON) cannot be read; the message names it."""


class BuildError(RuntimeError):
    """A model builder raised while building the model in a dry run."""


# ------------------------------------------------------------------------------- spec sources


@compiler_limits()
def spec_from_json(text: str) -> BasisSpec:
    """The :class:`BasisSpec` of a canonical spec JSON; :class:`SourceError` says what is wrong."""
    from e2compile.specs import BasisSpec

    try:
        return BasisSpec.from_json(text)
    except KeyError as exc:
        raise SourceError(f"spec JSON lacks the field {exc.args[0]!r}") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's input
        raise SourceError(f"not a valid BasisSpec JSON: {type(exc).__name__}: {exc}") from None


def specs_from_json(texts: Sequence[str]) -> list[BasisSpec]:
    """The specs of canonical spec JSON strings (``e2c compile --spec-json``)."""
    return [spec_from_json(text) for text in texts]


def _manifest_specs(path: Path) -> list[BasisSpec] | None:
    """The specs of a manifest file, or ``None`` when ``path`` is not a manifest."""
    from cache.manifest import ManifestError, is_manifest, read_manifest

    if path.suffix.lower() != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the layer-file reader reports it
    if not is_manifest(data):
        return None
    try:
        specs = read_manifest(path)["specs"]
    except ManifestError as exc:
        raise SourceError(str(exc)) from None
    out = []
    for key, text in specs.items():
        try:
            out.append(spec_from_json(text))
        except SourceError as exc:
            raise SourceError(f"{path}: spec of {key[:16]}: {exc}") from None
    return out


@compiler_limits()
def specs_from_files(paths: Sequence[str | os.PathLike[str]]) -> list[BasisSpec]:
    """Every spec of every spec file (layer descriptions or a manifest), in order."""
    if not paths:
        return []
    from e2compile.layers import specs_from_layer_file

    specs: list[BasisSpec] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise SourceError(f"no such spec file: {path}")
        manifest = _manifest_specs(path)
        if manifest is not None:
            specs += manifest
            continue
        try:
            specs += specs_from_layer_file(path)
        except OSError as exc:
            raise SourceError(f"{path}: {exc}") from None
        except ValueError as exc:  # LayerError: names the file, the layer and the field
            raise SourceError(str(exc)) from None
    return specs


def is_builder(source: str) -> bool:
    """``path/to/file.py:name`` or ``package.module:name`` (an existing file is a spec file)."""
    target, _, name = source.rpartition(":")
    return bool(target) and name.isidentifier() and not Path(source).is_file()


def load_builder(source: str) -> Callable[[], Any]:
    """The callable named by ``path/to/file.py:name`` or ``package.module:name``.

    Any failure to import the module (missing file, syntax error, an exception at import time) or
    a missing callable raises :class:`SourceError` naming the source.
    """
    import importlib
    import importlib.util

    target, _, name = source.rpartition(":")
    try:
        if target.endswith(".py") or "/" in target or os.sep in target:
            path = Path(target).resolve()
            if not path.is_file():
                raise SourceError(f"no such Python file: {target}")
            module_name = f"_e2c_model_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise SourceError(f"{target}: not a Python module")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module
            sys.path.insert(0, str(path.parent))  # the file's own imports, as when run as a script
            try:
                module_spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
        else:
            module = importlib.import_module(target)
    except SourceError:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's module: SyntaxError, SystemExit...
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SourceError(
            f"{source}: importing {target} failed: {type(exc).__name__}: {exc}"
        ) from None
    builder = getattr(module, name, None)
    if not callable(builder):
        raise SourceError(f"{source}: {target} has no callable {name!r}")
    return builder


def specs_from_builders(sources: Sequence[str]) -> list[BasisSpec]:
    """Build each model in a dry run (:func:`runtime.bases.collect_specs`) and return the specs
    its layers asked for (every basis has a key: a callable cutoff is held as its values on the
    rings, so it compiles ahead of time like any other)."""
    if not sources:
        return []
    from runtime.bases import collect_specs as dry_run

    specs: list[BasisSpec] = []
    for source in sources:
        builder = load_builder(source)
        with dry_run() as collected:
            try:
                builder()
            except Exception as exc:  # noqa: BLE001 - the user's model code
                raise BuildError(
                    f"{source}: building the model in a dry run failed: {type(exc).__name__}: {exc}"
                ) from None
        specs += collected.specs
    return specs


def select_shard(keys: Sequence[str], shard: tuple[int, int] | None) -> list[str]:
    """The deterministic share ``i/n`` of ``keys``: every n-th of the sorted keys from the i-th."""
    keys = sorted(set(keys))
    return keys if shard is None else keys[shard[0] :: shard[1]]


# ------------------------------------------------------------------------------------ compile


@dataclass(frozen=True)
class CompileResult:
    """What happened to one spec: ``compiled``, ``cached`` (already in a layer) or ``failed``."""

    key: str
    status: str
    seconds: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _compile_one(spec_json: str, settings: Settings, limits: Any) -> CompileResult:
    """Compile one spec into the root of the store ``settings`` name, within the compiler
    ``limits`` (runs in a worker process too); never raises.

    The result must reach the root: a write failure is a failure, never a silent success.
    """
    from cache import LayerWarning, Record, Store, key_for
    from e2compile import budget

    start = time.perf_counter()
    key = key_for(spec_json)
    try:
        from e2compile import compiler, specs

        spec = specs.BasisSpec.from_json(spec_json)
        made = []

        def factory() -> Record:
            made.append(True)
            with budget.limited(limits):
                arrays, meta = compiler.compile(spec).to_record()
            return Record(key, arrays, meta)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LayerWarning)  # the parent reported the layers
            store = Store(settings=settings, offline=False)
        store.get_or_create(key, factory, spec=spec_json, strict=True)
        status, error = ("compiled" if made else "cached"), None
    except Exception as exc:  # noqa: BLE001 - reported per spec, the others go on
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    return CompileResult(key, status, time.perf_counter() - start, error)


def compile_many(
    specs: Sequence[BasisSpec | str],
    store: Store,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[CompileResult]:
    """Compile every spec (a ``BasisSpec`` or its canonical JSON) into ``store``'s writable root
    with ``jobs`` processes; one result per distinct key, in order of first appearance.

    A spec counts as done only if its artifact is in a layer of the store at the end: a root that
    cannot be written (a regular file, read-only, deleted during the run, a full disk) makes every
    spec it could not keep ``failed``, with the reason.
    """
    from cache import StoreWriteError, key_for

    texts = list(dict.fromkeys(s if isinstance(s, str) else s.canonical_json() for s in specs))
    tick = progress or (lambda n: None)
    results: dict[str, CompileResult] = {}
    try:
        store.check_writable()
    except StoreWriteError as exc:  # nothing can be stored: only what is already there counts
        for text in texts:
            key = key_for(text)
            found = store.get(key) is not None
            results[key] = CompileResult(
                key, "cached" if found else "failed", 0.0, None if found else str(exc)
            )
            tick(1)
        return [results[key_for(t)] for t in texts]
    from cache.settings import current

    args = (store.settings, limits_of(current()))  # what a worker needs: no environment involved
    if jobs <= 1 or len(texts) <= 1:
        for text in texts:
            result = _compile_one(text, *args)
            results[result.key] = result
            tick(1)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(texts)), mp_context=context) as pool:
            futures = [pool.submit(_compile_one, text, *args) for text in texts]
            for future in as_completed(futures):
                result = future.result()
                results[result.key] = result
                tick(1)
    for key, result in list(results.items()):  # did it really reach the store?
        if result.status != "failed" and not store.contains(key):
            results[key] = CompileResult(
                key,
                "failed",
                result.seconds,
                f"not in the store after the run (root {store.root.location} removed or "
                "emptied meanwhile?)",
            )
    return [results[key_for(t)] for t in texts]


# -------------------------------------------------------------------------------- a whole job


class OutputError(ValueError):
    """An output file (manifest, bundle) cannot be written; raised before anything is compiled."""


@dataclass(frozen=True)
class Plan:
    """The specs of one run: this share's ``specs`` (key → canonical JSON, sorted by key), the
    number of distinct specs named (``total``) and the share ``shard`` (``"i/n"``)."""

    specs: dict[str, str]
    total: int
    shard: str


def plan(specs: Sequence[BasisSpec], shard: tuple[int, int] | None = None) -> Plan:
    """The distinct specs of ``specs`` that fall in ``shard`` (see :func:`select_shard`)."""
    by_key = {spec.key: spec.canonical_json() for spec in specs}
    keys = select_shard(list(by_key), shard)
    text = f"{shard[0]}/{shard[1]}" if shard else "0/1"
    return Plan({k: by_key[k] for k in keys}, len(by_key), text)


@dataclass
class CompileReport:
    """What :func:`compile_job` did: one result per spec of the plan, and the outputs."""

    plan: Plan
    results: list[CompileResult]
    seconds: float
    manifest: str | None = None
    bundle: str | None = None
    bundle_problems: dict[str, str] | None = None

    @property
    def failed(self) -> list[CompileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def counts(self) -> dict[str, int]:
        return {
            s: sum(r.status == s for r in self.results) for s in ("compiled", "cached", "failed")
        }

    @property
    def ok(self) -> bool:
        return not self.failed and not self.bundle_problems

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "shard": self.plan.shard, "total": self.plan.total, **self.counts,
                "seconds": self.seconds, "results": [r.as_dict() for r in self.results],
                "manifest": self.manifest, "bundle": self.bundle,
                "bundle_problems": self.bundle_problems or {}}  # fmt: skip


def compile_job(
    job: Plan,
    store: Store,
    jobs: int = 1,
    manifest: str | os.PathLike[str] | None = None,
    bundle: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> CompileReport:
    """Compile a plan into ``store`` (:func:`compile_many`), then write the ``manifest`` of what
    reached the store (and what failed) and pack it into ``bundle``.

    The outputs' directories are created and checked to be writable first: :class:`OutputError`
    before anything is compiled, never after.
    """
    from cache import transfer
    from cache.files import prepare_output
    from cache.manifest import write_manifest
    from e2compile import __version__

    for what, path in (("manifest", manifest), ("bundle", bundle)):
        if path:
            try:
                prepare_output(path)
            except OSError as exc:
                raise OutputError(f"cannot write the {what} {path}: {exc}") from None
    start = time.perf_counter()
    results = compile_many(list(job.specs.values()), store, jobs, progress)
    report = CompileReport(job, results, time.perf_counter() - start)
    produced = {r.key: job.specs[r.key] for r in results if r.status != "failed"}
    if manifest:
        failed = [r.key for r in report.failed]
        write_manifest(manifest, produced, failed, e2compile_version=__version__, shard=job.shard)
        report.manifest = str(manifest)
    if bundle:
        report.bundle = str(bundle)
        report.bundle_problems = transfer.pack(store, bundle, list(produced)).problems
    return report
