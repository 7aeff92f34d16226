"""Basis expansion modules: they hold sampled bases and turn learnable coefficients into filters.

The sampled bases come from compiled artifacts (:func:`runtime.bases.load_basis`) and live in
non-persistent buffers: they follow ``.to(device)`` but never enter a ``state_dict``. Per-element
descriptions (names, attribute dicts) are built only when asked for; the vectorised
:meth:`BasisExpansion.basis_columns` serves the initialisers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from runtime import bases as _bases

from .._buffers import DerivedBuffers
from . import functional as F

__all__ = [
    "PATHS",
    "BasisExpansion",
    "BlocksBasisExpansion",
    "SingleBlockBasisExpansion",
    "block_basisexpansion",
]


#: The expansion paths of :class:`SingleBlockBasisExpansion`.
PATHS = ("compact", "dense")


class BasisExpansion(ABC, DerivedBuffers):
    """Interface of the basis expansion algorithms.

    ``forward(weights)`` maps the flat vector of learnable coefficients to a filter of shape
    ``(C_out, C_in, S)`` (``S`` sampled points).
    """

    @abstractmethod
    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        """Expand ``weights`` (one coefficient per basis element) into a filter."""

    @abstractmethod
    def dimension(self) -> int:
        """The number of basis elements, i.e. of learnable coefficients."""

    @abstractmethod
    def get_basis_names(self) -> list[str]:
        """A unique name per basis element, in the order of the coefficients."""

    @abstractmethod
    def get_element_info(self, name: str | int) -> dict[str, Any]:
        """The attributes of one basis element, given by name or index."""

    @abstractmethod
    def get_basis_info(self) -> Iterator[dict[str, Any]]:
        """Iterate over the attribute dicts of all basis elements, in the order of the weights."""

    def basis_columns(self, names: Sequence[str], codes: bool = False) -> dict[str, np.ndarray]:
        """The attributes ``names`` of all elements as 1-D arrays, in the order of the weights.

        With ``codes=True`` string columns (irrep and representation names) come back as integer
        codes into one sorted vocabulary shared by all the string columns of the call. This generic
        version goes through :meth:`get_basis_info`; subclasses vectorise it.
        """
        rows = list(self.get_basis_info())
        columns = {name: np.asarray([row[name] for row in rows]) for name in names}
        return _string_codes(columns) if codes else columns


def _string_codes(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Replace string columns by integer codes into one sorted vocabulary shared by all of them."""
    strings = [name for name, column in columns.items() if column.dtype.kind == "U"]
    if strings:
        vocabulary, inverse = np.unique(
            np.concatenate([columns[n] for n in strings]), return_inverse=True
        )
        bounds = np.cumsum([0] + [columns[n].size for n in strings])
        for name, lo, hi in zip(strings, bounds[:-1], bounds[1:]):
            columns[name] = inverse.reshape(-1)[lo:hi]
    return columns


def _check_points(points: Any) -> None:
    if points is not None:
        raise TypeError(
            "compiled bases are sampled on the grid their spec fixes (kernel_size, dilation); "
            "`points` must be None"
        )


def _element_info(columns: dict[str, np.ndarray], index: int) -> dict[str, Any]:
    return {name: column[index].item() for name, column in columns.items()}


_BUFFERS = ("sampled_basis", "slot_blocks", "in_index", "q_in", "coefficient_index", "q_out")


def _slot_layout(artifact: Any, element: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`e2compile.kernels.compact.slot_layout` of the elements ``element`` of a block."""
    from e2compile.kernels.compact import slot_layout

    everything = element.size == artifact.dim  # no indexing copy of the blocks
    return slot_layout(
        artifact.blocks if everything else artifact.blocks[element],
        artifact.attributes["out_irrep_position"][element],
        artifact.attributes["in_irrep_position"][element],
        artifact.out_irrep_sizes,
    )


def _choose_path(artifact: Any, element: np.ndarray, fields: int, force: str | None) -> str:
    """The expansion path of a block by the cost model (or ``force``, see the class)."""
    if force is not None and force not in PATHS:
        raise ValueError(f"force_path must be one of {PATHS} or None, got {force!r}")
    if element.size == 0 or not getattr(artifact, "compact", True):
        return "dense"  # an empty basis (a zero block), or a dense artifact
    if force is not None:
        return force
    o, i = artifact.shape
    sizes = artifact.out_irrep_sizes
    counts = np.bincount(artifact.attributes["out_irrep_position"][element], minlength=sizes.size)
    costs = F.compact_costs(fields, element.size, int(counts.max()), o, i, artifact.points)
    return min(PATHS, key=lambda p: (costs[p], p))


def _buffer_arrays(artifact: Any, element: np.ndarray, path: str) -> dict[str, Any]:
    """The float64/int64 host arrays of a block's buffers on ``path`` (``None``: unused)."""
    arrays: dict[str, Any] = dict.fromkeys(_BUFFERS)
    o, i = artifact.shape
    if path == "dense":
        if not element.size:
            dense = np.zeros((0, o, i, artifact.points))
        else:  # every element: no indexing copy (the buffer copies the read-only array anyway)
            everything = element.size == artifact.dim
            dense = artifact.dense_basis(None if everything else element)
        arrays["sampled_basis"] = dense
        return arrays
    slot_blocks, coefficient_index, in_index = _slot_layout(artifact, element)
    _, q_in = artifact.padded_changes_of_basis()
    arrays["slot_blocks"] = slot_blocks.reshape(-1, *slot_blocks.shape[2:])
    arrays["in_index"] = in_index.reshape(-1)
    arrays["q_in"] = q_in.reshape(-1, 2, i).transpose(0, 2, 1)
    arrays["coefficient_index"] = coefficient_index
    arrays["q_out"] = artifact.q_out
    return arrays


class _BlockBuffer:
    """Picklable source of one buffer of a block: re-derived from the artifact of ``spec`` (memo,
    store or compiler) for the elements ``keep`` (``None``: all) on ``path``."""

    def __init__(self, spec: Any, keep: np.ndarray | None, path: str, name: str):
        self.spec, self.keep, self.path, self.name = spec, keep, path, name

    def __call__(self) -> np.ndarray:
        artifact = _bases.load_basis(self.spec)
        element = np.arange(artifact.dim) if self.keep is None else self.keep
        return _buffer_arrays(artifact, element, self.path)[self.name]


class SingleBlockBasisExpansion(BasisExpansion):
    """The expansion of one compiled basis: one input and one output representation.

    ``basis`` is a compact :class:`~e2compile.compiler.BasisArtifact`; ``basis_filter`` (a callable
    on each element's attribute dict) drops elements at load time. ``forward(weights)`` maps
    ``(..., dim)`` coefficients to ``(..., O, I, S)``; :meth:`expand` expands the coefficients of
    ``n_out x n_in`` field pairs at once.

    ``fields`` (how many field pairs a forward expands, a hint) chooses the path by a cost model
    (:func:`.functional.compact_costs`: multiply-adds plus memory traffic): the compact path keeps
    the blocks grouped by output slot plus the two changes of basis
    (:func:`.functional.expand_compact`); the dense path (where its one product wins: few field
    pairs, small bases, pairs into small representations) keeps the dense basis, expanded at
    load time. Both are
    derived, non-persistent buffers: re-read from the artifact after meta/``to_empty`` or a dtype
    change (:class:`~runtime.nn.modules._buffers.DerivedBuffers`).
    """

    #: Force a path instead of the cost model: ``"dense"`` or ``"compact"`` (e.g. to keep the
    #: small buffers of the compact path where the model picks the dense one). Read when a layer
    #: is built.
    force_path: str | None = None

    def __init__(
        self,
        basis: Any,
        points: Any = None,
        basis_filter: Callable | None = None,
        fields: int = 1,
    ):
        super().__init__()
        _check_points(points)
        attributes = dict(basis.attributes)
        element = np.arange(basis.dim)
        if basis_filter is not None:
            from e2compile.compiler import basis_filter_mask

            keep = np.flatnonzero(basis_filter_mask(basis, basis_filter))
            if keep.size != element.size:
                attributes = {k: v[keep] for k, v in attributes.items()}
                element = keep
        attributes["element"] = element
        self.spec = basis.spec
        #: per-element attribute columns (numpy), after the filter
        self.attributes = attributes
        #: the output change of basis at the trivial irreps, ``(O, n_trivial)``, float64 numpy
        self.bias_basis = basis.bias_basis
        self.shape = tuple(basis.shape)
        self.S = basis.points
        self._dim = int(element.size)
        #: ``"dense"`` or ``"compact"``
        self.path = _choose_path(basis, element, max(1, int(fields)), self.force_path)
        keep = None if element.size == basis.dim else element
        for name, array in _buffer_arrays(basis, element, self.path).items():
            if array is None:
                torch.nn.Module.register_buffer(self, name, None, persistent=False)
            else:
                source = _BlockBuffer(basis.spec, keep, self.path, name)
                self.register_derived_buffer(name, source, value=array)

    def buffer_bytes(self) -> int:
        """Bytes held by the basis buffers."""
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def _compact(self) -> F.CompactBasis:
        return F.CompactBasis(
            self.slot_blocks, self.in_index, self.q_in, self.coefficient_index, self.q_out
        )

    # --------------------------------------------------------------------------- expansion

    def expand(self, coefficients: torch.Tensor, n_out: int, n_in: int) -> torch.Tensor:
        """``n_out * n_in * dim`` coefficients (laid out ``(n_out, n_in, dim)``) to the filter
        ``(n_out * O, n_in * I, S)`` of those field pairs."""
        if self.path == "dense":
            return F.expand_block(coefficients, self.sampled_basis, n_out, n_in)
        return F.expand_compact(coefficients, self._compact(), n_out, n_in)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        lead = weights.shape[:-1]
        n = int(np.prod(lead)) if lead else 1
        out = self.expand(weights.reshape(n, self._dim), n, 1)
        return out.reshape(*lead, *self.shape, self.S)

    def dense_basis(self) -> torch.Tensor:
        """The dense basis ``(dim, O, I, S)`` in the buffers' dtype and device (expanded from
        the compact buffers when the layer keeps those)."""
        if self.path == "dense":
            return self.sampled_basis
        eye = self.q_out.new_zeros(self._dim, self._dim)
        eye.fill_diagonal_(1.0)
        return self.forward(eye)

    def dimension(self) -> int:
        return self._dim

    def get_basis_names(self) -> list[str]:
        return [str(e) for e in self.attributes["element"].tolist()]

    def get_element_info(self, name: str | int) -> dict[str, Any]:
        index = name if isinstance(name, int) else self.get_basis_names().index(name)
        info = _element_info(self.attributes, index)
        info["id"] = str(info["element"])
        return info

    def get_basis_info(self) -> Iterator[dict[str, Any]]:
        for index in range(self.dimension()):
            yield self.get_element_info(index)

    def basis_columns(self, names: Sequence[str], codes: bool = False) -> dict[str, np.ndarray]:
        columns = {name: self.attributes[name] for name in names}
        return _string_codes(columns) if codes else columns

    def extra_repr(self) -> str:
        return f"dim={self.dimension()}, shape={self.shape}, S={self.S}, path={self.path}"


def block_basisexpansion(
    basis: Any,
    points: Any = None,
    basis_filter: Callable | None = None,
    recompute: bool = False,
    fields: int = 1,
) -> SingleBlockBasisExpansion:
    """Build a :class:`SingleBlockBasisExpansion` from a ``BasisSpec`` or a loaded artifact.

    A spec is resolved by :func:`runtime.bases.load_basis` (process memo, then store, then
    compiler); ``recompute=True`` compiles it afresh. ``fields``: see the class.
    """
    if not hasattr(basis, "blocks"):
        basis = _bases.load_basis(basis, recompute=recompute)
    return SingleBlockBasisExpansion(basis, points, basis_filter, fields)


class BlockSlot(NamedTuple):
    """Where the coefficients of one (output group, input group) block lie in the weights."""

    out_group: int
    in_group: int
    start: int
    stop: int
    n_out: int
    n_in: int


class _Grouping:
    """The fields of a field type grouped by representation, groups in order of first appearance.

    ``index`` maps each channel of the type to its position in grouped order (``None`` when the
    type is already grouped, e.g. when all fields share one representation).
    """

    def __init__(self, field_type: Any):
        representations = list(field_type.representations)
        groups: dict[Any, list[int]] = {}
        for field, representation in enumerate(representations):
            groups.setdefault(representation, []).append(field)
        self.representations = list(groups)
        self.fields = [np.asarray(fields, dtype=np.int64) for fields in groups.values()]
        sizes = np.asarray([r.size for r in representations], dtype=np.int64)
        n_irreps = np.asarray([len(r.irreps) for r in representations], dtype=np.int64)
        #: first channel and first irrep position of each field, in type order
        self.channel_offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.irrep_offset = np.concatenate([[0], np.cumsum(n_irreps)[:-1]])
        order = np.concatenate(self.fields)
        lengths = sizes[order]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        channels = np.repeat(self.channel_offset[order] - starts, lengths)
        channels += np.arange(channels.size)
        if np.array_equal(channels, np.arange(channels.size)):
            self.index = None
        else:
            self.index = np.empty_like(channels)
            self.index[channels] = np.arange(channels.size)


class BlocksBasisExpansion(BasisExpansion):
    """The expansion of a whole layer: one compiled basis per distinct (input, output) field pair.

    ``basis_generator(in_repr, out_repr, **kwargs)`` returns a ``BasisSpec`` (resolved through
    :func:`runtime.bases.load_basis`) or a loaded artifact. Fields are grouped by representation;
    the coefficients of output group ``a`` and input group ``b`` form one contiguous slice of the
    weights laid out as ``(n_out_fields, n_in_fields, dim)``, slices ordered output-major. The
    forward pass is one matrix product per pair plus a concatenation
    (:func:`.functional.expand_filter`), whatever the number of fields.

    Inside :func:`runtime.bases.collect_specs` the module only records the specs it needs; it has
    no basis and can not run.
    """

    @_bases.compiler_limits()  # specs are checked (bases compiled) within the settings' limits
    def __init__(
        self,
        in_type: Any,
        out_type: Any,
        basis_generator: Callable[..., Any],
        points: Any = None,
        basis_filter: Callable | None = None,
        recompute: bool = False,
        **kwargs: Any,
    ):
        super().__init__()
        _check_points(points)
        self.in_type = in_type
        self.out_type = out_type
        self._in = _Grouping(in_type)
        self._out = _Grouping(out_type)
        self.dry_run = _bases.collecting()
        blocks: list[SingleBlockBasisExpansion] = []
        slots: list[list[tuple[int, int, int, int]]] = []
        start = 0
        for out_repr, out_fields in zip(self._out.representations, self._out.fields):
            row = []
            for in_repr, in_fields in zip(self._in.representations, self._in.fields):
                basis = basis_generator(in_repr, out_repr, **kwargs)
                if self.dry_run:
                    _bases.record_spec(basis)
                    continue
                block = block_basisexpansion(
                    basis, None, basis_filter, recompute, fields=out_fields.size * in_fields.size
                )
                stop = start + block.dimension() * out_fields.size * in_fields.size
                row.append((start, stop, out_fields.size, in_fields.size))
                blocks.append(block)
                start = stop
            slots.append(row)
        self._slots = slots
        self._dim = start
        self.blocks = torch.nn.ModuleList(blocks)
        self.S = blocks[0].S if blocks else 0
        for name, grouping in (("_out_index", self._out), ("_in_index", self._in)):
            index = None if grouping.index is None else torch.from_numpy(grouping.index)
            self.register_buffer(name, index, persistent=False)

    # ------------------------------------------------------------------------------- expansion

    def _grid(self) -> list[list[SingleBlockBasisExpansion]]:
        n_in = len(self._in.representations)
        blocks = list(self.blocks)  # slicing the ModuleList itself would build new ModuleLists
        return [blocks[a * n_in : (a + 1) * n_in] for a in range(len(self._out.representations))]

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        if self.dry_run:
            raise RuntimeError(
                "this module was built inside runtime.bases.collect_specs() (a dry run that only "
                "records specs); build it again outside the block to use it"
            )
        bases = [[block.expand for block in row] for row in self._grid()]
        return F.expand_filter(weights, bases, self._slots, self._out_index, self._in_index)

    def dimension(self) -> int:
        return self._dim

    def bias_bases(self) -> dict[Any, np.ndarray]:
        """The output change of basis at the trivial irreps, ``(O, n_trivial)``, per output repr."""
        return {
            out_repr: row[0].bias_basis
            for out_repr, row in zip(self._out.representations, self._grid())
            if row
        }

    # --------------------------------------------------------------------------- descriptions

    def _vocabulary(self, names: Sequence[str]) -> dict[str, int]:
        """Sorted codes of every string the columns ``names`` can hold."""
        words: set[str] = set()
        for block in self.blocks:
            for name in names:
                column = block.attributes.get(name)
                if column is not None and column.dtype.kind == "U":
                    words.update(column.tolist())
        if "in_repr" in names:
            words.update(r.name for r in self._in.representations)
        if "out_repr" in names:
            words.update(r.name for r in self._out.representations)
        return {word: code for code, word in enumerate(sorted(words))}

    def block_columns(
        self, names: Sequence[str], codes: bool = False
    ) -> list[tuple[BlockSlot, dict[str, np.ndarray]]]:
        """Per block, its slot in the weights and the artifact columns ``names`` of its ``dim``
        elements (after the filter; ``element`` is the index in the artifact). The coefficients of
        a block repeat these columns for each of its ``n_out * n_in`` field pairs."""
        vocabulary = self._vocabulary(names) if codes else None
        out = []
        for a, row in enumerate(self._grid()):
            for b, block in enumerate(row):
                start, stop, n_out, n_in = self._slots[a][b]
                columns = {}
                for name in names:
                    column = block.attributes[name]
                    if vocabulary is not None and column.dtype.kind == "U":
                        values, inverse = np.unique(column, return_inverse=True)
                        table = np.asarray([vocabulary[v] for v in values.tolist()], np.int64)
                        column = table[inverse.reshape(-1)]
                    columns[name] = column
                out.append((BlockSlot(a, b, start, stop, n_out, n_in), columns))
        return out

    def basis_columns(self, names: Sequence[str], codes: bool = False) -> dict[str, np.ndarray]:
        """Per-coefficient attributes as arrays of length :meth:`dimension`, in weight order.

        Besides the artifacts' columns (``radius``, ``frequency``, ``in_irrep``, ...,
        ``in_irrep_position`` inside the representation, ``element`` index in the artifact) the
        layer-level columns are ``in_field``/``out_field`` (field index in the type),
        ``in_repr``/``out_repr`` (names), ``in_irreps_position``/``out_irreps_position`` (irrep
        position in the whole type) and ``block``. ``codes``: see
        :meth:`BasisExpansion.basis_columns`; here the strings are coded per block (a few
        distinct values each), never per coefficient.
        """
        layer_level = {"in_field", "out_field", "in_repr", "out_repr", "block"}
        local = {"in_irreps_position": "in_irrep_position"}
        local["out_irreps_position"] = "out_irrep_position"
        wanted = {local.get(n, n) for n in names if n not in layer_level}
        vocabulary = self._vocabulary(names) if codes else None
        parts = []
        for slot, attrs in self.block_columns(sorted(wanted), codes):
            a, b, _, _, n_out, n_in = slot
            dim = (slot.stop - slot.start) // (n_out * n_in)
            element = np.tile(np.arange(dim), n_out * n_in)
            out_field = np.repeat(self._out.fields[a], n_in * dim)
            in_field = np.tile(np.repeat(self._in.fields[b], dim), n_out)
            reprs = {"in_repr": self._in.representations[b].name}
            reprs["out_repr"] = self._out.representations[a].name
            columns: dict[str, np.ndarray] = {}
            for name in names:
                if name == "out_irreps_position":
                    offset = self._out.irrep_offset[out_field]
                    columns[name] = offset + attrs["out_irrep_position"][element]
                elif name == "in_irreps_position":
                    offset = self._in.irrep_offset[in_field]
                    columns[name] = offset + attrs["in_irrep_position"][element]
                elif name in ("out_field", "in_field"):
                    columns[name] = out_field if name == "out_field" else in_field
                elif name in reprs:
                    value = reprs[name] if vocabulary is None else vocabulary[reprs[name]]
                    columns[name] = np.full(element.size, value)
                elif name == "block":
                    columns[name] = np.full(element.size, a * len(self._in.fields) + b)
                else:
                    columns[name] = attrs[name][element]
            parts.append(columns)
        if not parts:
            return {name: np.empty(0, dtype=np.int64) for name in names}
        return {name: np.concatenate([p[name] for p in parts]) for name in names}

    def _info_names(self) -> list[str]:
        names = ["in_field", "out_field", "in_repr", "out_repr"]
        names += ["in_irreps_position", "out_irreps_position"]
        if len(self.blocks):
            names += [n for n in self.blocks[0].attributes if n not in names]
        return names

    def get_basis_names(self) -> list[str]:
        c = self.basis_columns(["in_repr", "in_field", "out_repr", "out_field", "element"])
        return [
            f"({i_repr}[{i}],{o_repr}[{o}]){e}"
            for i_repr, i, o_repr, o, e in zip(
                c["in_repr"].tolist(),
                c["in_field"].tolist(),
                c["out_repr"].tolist(),
                c["out_field"].tolist(),
                c["element"].tolist(),
            )
        ]

    def get_element_info(self, name: str | int) -> dict[str, Any]:
        names = self.get_basis_names()
        index = name if isinstance(name, int) else names.index(name)
        info = _element_info(self.basis_columns(self._info_names()), index)
        info["id"] = names[index]
        return info

    def get_basis_info(self) -> Iterator[dict[str, Any]]:
        columns = self.basis_columns(self._info_names())
        for index, name in enumerate(self.get_basis_names()):
            info = _element_info(columns, index)
            info["id"] = name
            yield info

    def extra_repr(self) -> str:
        pairs = len(self.blocks) if not self.dry_run else "dry-run"
        return f"dim={self._dim}, pairs={pairs}, S={self.S}"
