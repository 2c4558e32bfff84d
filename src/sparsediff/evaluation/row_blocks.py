"""Jacobians evaluated on the function's own mesh, kept as per-device row blocks.

A residual written for several devices (``shard_map`` with halo exchanges, or
plain ``jax.numpy`` on sharded arrays) takes ``x`` laid out along its leading
axis over a one-dimensional mesh axis and returns ``F(x)`` laid out the same
way. Its Jacobian's rows then belong to devices: device ``d`` holds rows
``[d m/D, (d+1) m/D)`` of the flattened output. :func:`sharded_jacobian`
prepares, once, a derivative that keeps it so:

1. detection reads the global pattern from the program (through ``shard_map``
   and its collectives, see :mod:`sparsediff.detection.rules.collectives`);
2. a column coloring gives ``c`` seeds; the compressed products ``J S`` are
   ``c`` JVPs of ``F`` at ``x``, run by XLA under ``F``'s own sharding, so that
   the products' rows lie on the devices of the rows of ``F(x)``;
3. decompression runs per device (``shard_map``): each device reads its own
   nonzeros from its own block of products, with no communication.

The result is a :class:`RowBlocks`: for each device its rows' local CSR
structure (host arrays, global column indices) and the values as one global
array sharded along the mesh axis, padded to the largest block. It is what a
distributed solver needs: a device's values never leave it. On several
processes (``jax.distributed.initialize``) every process prepares the same
derivative (detection and coloring are deterministic host computations) and
calls it with the same global ``x``; each holds the values of its own devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..patterns import SparsityPattern

__all__ = ["sharded_jacobian", "ShardedJacobian", "RowBlocks"]


@dataclass(frozen=True)
class RowBlocks:
    """A Jacobian as row blocks, one per device of a mesh axis.

    Attributes:
        shape: ``(m, n)`` of the flattened Jacobian.
        row_starts: ``(D + 1,)``: block ``d`` holds rows ``row_starts[d]:row_starts[d+1]``.
        indptr: per block, its local CSR row pointer (host array).
        indices: per block, the global column index of each stored entry (host).
        values: ``(D * width,)`` global array sharded over the mesh axis: block
            ``d``'s values are ``values[d * width : d * width + nnz(d)]``, in its
            CSR order (the rest is padding, zero).
        width: the padded number of values per block.
        mesh, axis: the mesh and the name of the axis the blocks follow.
    """

    shape: tuple[int, int]
    row_starts: np.ndarray
    indptr: tuple[np.ndarray, ...]
    indices: tuple[np.ndarray, ...]
    values: jax.Array
    width: int
    mesh: Mesh
    axis: str
    local_rows: jax.Array | None = None
    columns: jax.Array | None = None
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()

    @property
    def num_blocks(self) -> int:
        return len(self.indptr)

    def matvec(self, v: jax.Array) -> jax.Array:
        """``J v`` for ``v`` laid out as ``x``, laid out as ``F(x)``: each device
        multiplies its rows (jit-able; ``v`` is gathered whole on every device,
        which suits moderate sizes; a halo-aware product would move less)."""
        axis = self.axis
        lead = self.out_shape[0] // self.num_blocks
        local_out = (lead,) + tuple(self.out_shape[1:])
        per = int(np.prod(local_out, dtype=np.int64))

        def local(vals, rows, cols, v_local):
            full = jax.lax.all_gather(v_local.reshape(-1), axis, tiled=True)
            out = jax.ops.segment_sum(vals * full[cols], rows, num_segments=per)
            return out.reshape(local_out)

        spec = PartitionSpec(axis)
        return jax.shard_map(
            local, mesh=self.mesh, in_specs=(spec, spec, spec, spec), out_specs=spec
        )(self.values, self.local_rows, self.columns, v)

    def block_nnz(self, d: int) -> int:
        return int(self.indptr[d][-1])

    def local_blocks(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``{d: (indptr, indices, values)}`` for the blocks on this process's
        devices, values as host arrays (the local CSR of rows ``row_starts[d]:``)."""
        out = {}
        for shard in self.values.addressable_shards:
            d = _block_of(shard.index, self.width)
            nnz = self.block_nnz(d)
            out[d] = (self.indptr[d], self.indices[d], np.asarray(shard.data)[:nnz])
        return out

    def gathered_values(self) -> np.ndarray:
        """Every block's values on the host of every process (a collective when
        there are several processes: all of them must call it)."""
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            flat = np.asarray(multihost_utils.process_allgather(self.values, tiled=True))
        else:
            flat = np.asarray(self.values)
        return np.concatenate(
            [
                flat[d * self.width : d * self.width + self.block_nnz(d)]
                for d in range(self.num_blocks)
            ]
        )

    def to_scipy(self):
        """The whole matrix as a SciPy CSR array (gathers every block: see
        :meth:`gathered_values`)."""
        import scipy.sparse as sp

        indptr = [np.zeros(1, np.int64)]
        base = 0
        for ptr in self.indptr:
            indptr.append(np.asarray(ptr[1:], np.int64) + base)
            base += int(ptr[-1])
        return sp.csr_array(
            (self.gathered_values(), np.concatenate(self.indices), np.concatenate(indptr)),
            shape=self.shape,
        )

    def todense(self) -> np.ndarray:
        return self.to_scipy().toarray()


class _Static:
    """The host-side parts of a :class:`RowBlocks` as pytree auxiliary data. They
    are the same objects for every evaluation of one prepared derivative, so they
    compare by identity (numpy arrays have no usable ``==`` here), and a jitted
    function taking row blocks compiles once per prepared derivative."""

    def __init__(self, fields: dict):
        self.fields = fields

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Static)
            and self.fields.keys() == other.fields.keys()
            and all(v is other.fields[k] for k, v in self.fields.items())
        )

    def __hash__(self) -> int:
        return hash(tuple(id(v) for v in self.fields.values()))


_LEAVES = ("values", "local_rows", "columns")


def _flatten(rb: RowBlocks):
    static = {f: getattr(rb, f) for f in rb.__dataclass_fields__ if f not in _LEAVES}
    return tuple(getattr(rb, f) for f in _LEAVES), _Static(static)


def _unflatten(aux: _Static, leaves) -> RowBlocks:
    return RowBlocks(**aux.fields, **dict(zip(_LEAVES, leaves)))


jax.tree_util.register_pytree_node(RowBlocks, _flatten, _unflatten)


def _explicit(mesh: Mesh) -> bool:
    explicit = jax.sharding.AxisType.Explicit
    return any(t == explicit for t in getattr(mesh, "axis_types", ()))


def _block_of(index: tuple, width: int) -> int:
    start = index[0].start or 0
    return start // width if width else 0


def _mesh_axis(x: Any, mesh: Any, axis: str | None) -> tuple[Mesh, str]:
    if mesh is None:
        sharding = getattr(x, "sharding", None)
        if not isinstance(sharding, NamedSharding):
            raise ValueError(
                "sharded_jacobian needs x laid out over a mesh (a jax.Array with a "
                "NamedSharding, e.g. from jax.device_put(x, NamedSharding(mesh, P('x')))), "
                "or mesh= and axis="
            )
        mesh = sharding.mesh
        spec = tuple(sharding.spec) + (None,)
        lead = spec[0]
        if axis is None:
            if not isinstance(lead, str):
                raise ValueError(
                    f"x's leading axis must be sharded over one mesh axis; its spec is "
                    f"{sharding.spec}"
                )
            axis = lead
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh; got {type(mesh).__name__}")
    if axis is None:
        axis = mesh.axis_names[0]
    if axis not in mesh.axis_names:
        raise ValueError(f"axis {axis!r} is not an axis of the mesh {mesh.axis_names}")
    return mesh, axis


class ShardedJacobian:
    """A prepared Jacobian evaluated on ``f``'s mesh (see the module docstring).

    Calling it with ``x`` (the same shape, dtype and layout as at preparation)
    returns a :class:`RowBlocks`. Attributes: ``sparsity`` (the global pattern),
    ``num_colors``, ``mesh``, ``axis``.
    """

    def __init__(self, f: Callable, x: Any, *, mesh: Mesh | None = None, axis: str | None = None):
        from ..coloring.api import color
        from ..detection.api import jacobian_sparsity

        self.mesh, self.axis = _mesh_axis(x, mesh, axis)
        self.f = f
        spec = jax.ShapeDtypeStruct(tuple(x.shape), x.dtype, sharding=getattr(x, "sharding", None))
        self.sparsity: SparsityPattern = jacobian_sparsity(f, spec)
        m, n = self.sparsity.shape
        out = jax.eval_shape(f, spec)
        if not hasattr(out, "shape") or not out.shape:
            raise ValueError("sharded_jacobian needs f to return an array with a leading axis")
        nblocks = self.mesh.shape[self.axis]
        for name, shape in (("x", tuple(x.shape)), ("f(x)", tuple(out.shape))):
            if not shape or shape[0] % nblocks:
                raise ValueError(
                    f"{name} has shape {shape}: its leading axis must split evenly over the "
                    f"{nblocks} devices of mesh axis {self.axis!r}"
                )
        self.in_shape, self.out_shape, self.dtype = tuple(x.shape), tuple(out.shape), x.dtype
        coloring = color(self.sparsity, "column")
        self.num_colors = int(coloring.num_colors)
        self._seeds = np.ascontiguousarray(coloring.forward_seeds(np.float32).T)  # (c, n)
        colors = np.asarray(coloring.column_colors, dtype=np.int64)
        self._prepare_blocks(m, nblocks, colors)
        self._jitted = jax.jit(self._evaluate)

    def _prepare_blocks(self, m: int, nblocks: int, colors: np.ndarray) -> None:
        rows = np.asarray(self.sparsity.rows, dtype=np.int64)
        cols = np.asarray(self.sparsity.cols, dtype=np.int64)
        per = m // nblocks
        starts = np.arange(nblocks + 1, dtype=np.int64) * per
        bounds = np.asarray(self.sparsity.indptr, dtype=np.int64)[starts]  # row-major entries
        counts = np.diff(bounds)
        self.width = width = max(int(counts.max(initial=0)), 1)
        src = np.zeros(
            (nblocks, width), dtype=np.int32 if per * self.num_colors < 2**31 else np.int64
        )
        indptr, indices = [], []
        for d in range(nblocks):
            r = rows[bounds[d] : bounds[d + 1]] - starts[d]
            c = cols[bounds[d] : bounds[d + 1]]
            # the value of entry (r, c) is product color(c) at local row r
            src[d, : r.size] = colors[c] * per + r
            ptr = np.zeros(per + 1, dtype=np.int64)
            np.cumsum(np.bincount(r, minlength=per), out=ptr[1:])
            indptr.append(ptr)
            indices.append(c)
        self._row_starts = starts
        self._indptr, self._indices = tuple(indptr), tuple(indices)
        self._src = src.reshape(-1)
        self._mask = (np.arange(width)[None, :] < counts[:, None]).reshape(-1)
        index = np.int32 if max(m, int(self.sparsity.shape[1])) < 2**31 else np.int64
        local_rows = np.zeros((nblocks, width), dtype=index)
        columns = np.zeros((nblocks, width), dtype=index)
        for d in range(nblocks):
            k = int(counts[d])
            local_rows[d, :k] = np.repeat(np.arange(per), np.diff(indptr[d]))
            columns[d, :k] = indices[d]
        self._local_rows, self._columns = local_rows.reshape(-1), columns.reshape(-1)

    def _lay(self, a: jax.Array, spec: PartitionSpec) -> jax.Array:
        """``a`` laid out as ``spec`` on the mesh: a resharding on a mesh with
        explicit axes (where the layout is part of the type), else a constraint."""
        sharding = NamedSharding(self.mesh, spec)
        if _explicit(self.mesh):
            return jax.sharding.reshard(a, sharding)
        return jax.lax.with_sharding_constraint(a, sharding)

    def _evaluate(self, x: jax.Array, src: jax.Array, mask: jax.Array) -> jax.Array:
        c, axis = self.num_colors, self.axis
        if c == 0:
            return jnp.zeros(src.shape, self.dtype)
        blocks = PartitionSpec(None, axis)  # (colors, leading axis, ...): rows on their devices
        seeds = self._lay(
            jnp.asarray(self._seeds, self.dtype).reshape((c,) + self.in_shape), blocks
        )
        _, jvp_fn = jax.linearize(self.f, x)
        prods = self._lay(jax.vmap(jvp_fn)(seeds), blocks)  # (c,) + F(x)'s shape

        def local(block: jax.Array, s: jax.Array, keep: jax.Array) -> jax.Array:
            # this device's products, (c, its rows ...): its values need no communication
            flat = block.reshape(-1)
            return jnp.where(keep, flat[s], jnp.zeros((), flat.dtype))

        return jax.shard_map(
            local,
            mesh=self.mesh,
            in_specs=(blocks, PartitionSpec(axis), PartitionSpec(axis)),
            out_specs=PartitionSpec(axis),
        )(prods, src, mask)

    def _global(self, host: np.ndarray) -> jax.Array:
        sharding = NamedSharding(self.mesh, PartitionSpec(self.axis))
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    def __call__(self, x: Any) -> RowBlocks:
        if tuple(x.shape) != self.in_shape:
            raise ValueError(f"x has shape {tuple(x.shape)}; prepared for {self.in_shape}")
        if not hasattr(self, "_dev"):
            self._dev = tuple(
                self._global(a) for a in (self._src, self._mask, self._local_rows, self._columns)
            )
        src, mask, local_rows, columns = self._dev
        return RowBlocks(
            shape=self.sparsity.shape,
            row_starts=self._row_starts,
            indptr=self._indptr,
            indices=self._indices,
            values=self._jitted(x, src, mask),
            width=self.width,
            mesh=self.mesh,
            axis=self.axis,
            local_rows=local_rows,
            columns=columns,
            in_shape=self.in_shape,
            out_shape=self.out_shape,
        )

    def __repr__(self) -> str:
        m, n = self.sparsity.shape
        return (
            f"ShardedJacobian({m}x{n}, nnz={self.sparsity.nnz}, colors={self.num_colors}, "
            f"{self.mesh.shape[self.axis]} row blocks over mesh axis {self.axis!r})"
        )


def sharded_jacobian(
    f: Callable, x: Any, *, mesh: Mesh | None = None, axis: str | None = None
) -> ShardedJacobian:
    """Prepare the Jacobian of ``f`` at ``x``'s shape, evaluated on ``f``'s mesh
    and returned as per-device row blocks (:class:`RowBlocks`).

    Args:
        f: ``x -> F(x)``, both laid out along their leading axis over one mesh axis
            (e.g. a ``shard_map`` with ``in_specs=P("x")``, ``out_specs=P("x")``).
        x: a sample: a ``jax.Array`` with a ``NamedSharding`` whose leading axis is
            sharded (its mesh and axis are used), or any array with ``mesh=`` and
            ``axis=``. The leading axes of ``x`` and ``F(x)`` must split evenly.
        mesh: the mesh, when ``x`` does not carry it.
        axis: the name of the mesh axis the rows follow (default: the one ``x``'s
            leading axis is sharded over, else the mesh's first).
    """
    return ShardedJacobian(f, x, mesh=mesh, axis=axis)
