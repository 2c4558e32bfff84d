"""Work buffers recycled between the stages of one coloring call.

A star or acyclic coloring of a graph with ``10**7`` half-edges goes through a
dozen work arrays of one entry per half-edge (the color lists and the
disjoint-set forest of the coloring, the grouping and the depth-first walk of
the trees), most of them dead once their stage is over.  Fresh memory is paid
for at first touch, one page fault per page, which at that size costs as much
as the computation itself; so the stages take their work arrays from one
:class:`Scratch` and give them back when done, and later stages reuse the same
pages.
"""

from __future__ import annotations

import bisect

import numpy as np

__all__ = ["Scratch"]

#: A free piece is split when the request leaves at least this many bytes over.
SPLIT_BYTES = 1 << 20
#: Large pieces are allocated in multiples of this many bytes, with some slack, so
#: that arrays of nearly the same length (``n`` and ``n + 1`` entries, say) can
#: use each other's pieces (pieces are split exactly, so the rest keeps the slack).
GRANULE = 1 << 20
_ALIGN = 64


def _rounded(nbytes: int) -> int:
    if nbytes < GRANULE:
        return -(-nbytes // _ALIGN) * _ALIGN
    return -(-(nbytes + 4 * _ALIGN) // GRANULE) * GRANULE


class Scratch:
    """A pool of raw buffers: :meth:`take` an array from it, :meth:`give` it back.

    The pool is made of *pieces*, byte arrays allocated by numpy and split when
    a request uses less than the piece (the rest stays free).  :meth:`take`
    returns a view of the smallest free piece that fits (or of a fresh one);
    :meth:`give` takes back the piece holding an array (found by address, so a
    view of the array will do).  Only arrays that are dead may be given back:
    their memory is handed out again.  Arrays taken are not zeroed unless
    ``fill`` is given.  ``Scratch(enabled=False)`` always allocates.
    """

    __slots__ = ("_free", "_starts", "_pieces", "enabled")

    def __init__(self, enabled: bool = True) -> None:
        self._free: list[int] = []  # start addresses of the free pieces
        self._starts: list[int] = []  # start addresses of all pieces, sorted
        self._pieces: dict[int, np.ndarray] = {}  # start address -> piece
        self.enabled = enabled

    def _add(self, piece: np.ndarray) -> int:
        start = piece.ctypes.data
        self._pieces[start] = piece
        bisect.insort(self._starts, start)
        return start

    def take(self, size: int, dtype, fill=None) -> np.ndarray:
        """A 1-d array of ``size`` entries of ``dtype``, from the smallest free piece that fits."""
        dtype = np.dtype(dtype)
        nbytes = max(int(size), 0) * dtype.itemsize
        if nbytes == 0:
            return np.empty(0, dtype=dtype)
        best = -1
        for i, start in enumerate(self._free):
            size_i = self._pieces[start].size
            if size_i >= nbytes and (best < 0 or size_i < self._pieces[self._free[best]].size):
                best = i
        if best >= 0:
            piece = self._pieces[self._free.pop(best)]
            cut = -(-nbytes // _ALIGN) * _ALIGN
            if piece.size - cut >= SPLIT_BYTES:
                # Keep the rest of the piece free for another request.
                rest = piece[cut:]
                piece = piece[:cut]
                self._pieces[piece.ctypes.data] = piece
                self._free.append(self._add(rest))
        else:
            piece = np.empty(_rounded(nbytes), dtype=np.uint8)
            if self.enabled:
                self._add(piece)
        out = piece[:nbytes].view(dtype)
        if fill is not None:
            out.fill(fill)
        return out

    def give(self, *arrays: np.ndarray | None) -> None:
        """Release the pieces holding ``arrays`` (arrays not from this pool are ignored)."""
        if not self.enabled:
            return
        for a in arrays:
            if a is None or a.size == 0 or not self._starts:
                continue
            address = a.ctypes.data
            i = bisect.bisect_right(self._starts, address) - 1
            if i < 0:
                continue
            start = self._starts[i]
            piece = self._pieces[start]
            if address < start + piece.size and start not in self._free:
                self._free.append(start)
