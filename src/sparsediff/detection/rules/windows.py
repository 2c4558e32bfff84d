"""Index arithmetic of sliding windows (pooling and convolution).

For one spatial dimension, output index ``o`` and window tap ``k`` read the
(padded, base-dilated) coordinate ``o*stride + k*window_dilation``; subtracting
the low padding gives a coordinate in the dilated operand, which is a real
operand element only when it is in range and a multiple of the base dilation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tap_table", "window_positions"]


def tap_table(
    in_len: int,
    window: int,
    stride: int = 1,
    pad: tuple[int, int] = (0, 0),
    base_dilation: int = 1,
    window_dilation: int = 1,
) -> np.ndarray:
    """Array ``(out_len, window)`` of operand indices read by each tap, ``-1`` for padding."""
    dilated = (in_len - 1) * base_dilation + 1 if in_len > 0 else 0
    padded = dilated + pad[0] + pad[1]
    span = (window - 1) * window_dilation + 1
    out_len = max(0, (padded - span) // stride + 1) if padded >= span else 0
    o = np.arange(out_len, dtype=np.int64)[:, None]
    k = np.arange(window, dtype=np.int64)[None, :]
    c = o * stride + k * window_dilation - pad[0]
    valid = (c >= 0) & (c < dilated) & (c % base_dilation == 0)
    return np.where(valid, c // base_dilation, -1)


def window_positions(
    shape: tuple[int, ...],
    window: tuple[int, ...],
    strides: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    base_dilation: tuple[int, ...],
    window_dilation: tuple[int, ...],
) -> np.ndarray:
    """Flat operand position for every (output element, window tap), ``-1`` when padding.

    Returns an array of shape ``(out_size, window_size)``; outputs in C order.
    """
    tables = [
        tap_table(n, w, s, tuple(p), bd, wd)
        for n, w, s, p, bd, wd in zip(
            shape, window, strides, padding, base_dilation, window_dilation
        )
    ]
    nd = len(shape)
    out_shape = tuple(t.shape[0] for t in tables)
    flat = np.zeros((1,) * (2 * nd), dtype=np.int64)
    invalid = np.zeros((1,) * (2 * nd), dtype=bool)
    stride_el = 1
    for d in range(nd - 1, -1, -1):
        t = tables[d]
        view = [1] * (2 * nd)
        view[d] = t.shape[0]
        view[nd + d] = t.shape[1]
        td = t.reshape(view)
        flat = flat + np.where(td < 0, 0, td) * stride_el
        invalid = invalid | (td < 0)
        stride_el *= shape[d]
    full = tuple(out_shape) + tuple(t.shape[1] for t in tables)
    flat = np.broadcast_to(np.where(invalid, -1, flat), full)
    out_size = int(np.prod(out_shape, dtype=np.int64))
    win_size = int(np.prod([t.shape[1] for t in tables], dtype=np.int64))
    return flat.reshape(out_size, win_size)
