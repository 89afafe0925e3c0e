"""The engine behind kbook's pooling layers (:mod:`kbook.layers.pooling`): windows reduced fast.

``pool_geometry`` (two ``AxisGeometry``) says where the windows land along each axis, by
TensorFlow's "valid" / "same" rules.  The layers check their arguments and call the functions at
the end of this module: ``max_pool2d`` and ``average_pool2d`` with their gradients
``max_pool2d_grad`` and ``average_pool2d_grad``, and ``global_average_pool2d``,
``global_max_pool2d`` and ``global_max_pool2d_grad``.  They check no arguments.

How it is fast without a Python loop over pixels:

* A 2-D window is reduced in two 1-D passes (rows, then columns), each a short loop over
  the window's taps with whole-array ``np.maximum`` / ``np.add``: ``ph + pw`` array
  operations instead of ``ph * pw``.  The row pass runs over long contiguous rows.
* A tap only touches the output positions where it lands on a real cell, so no padded
  copy of the input is ever made and padding never needs a value (``AxisGeometry.tap``).
* The batch goes through in chunks whose intermediate (the row pass's output) is about
  512 KiB, so it is still in the CPU cache when the column pass reads it.
* Large inputs are split into contiguous batch slices on a few threads (NumPy releases
  the GIL inside its loops), as TensorFlow's kernels use every core.  Every element is
  computed the same way whatever the split: results do not depend on it.
* Max-pooling backward walks the ``ph * pw`` taps in row-major order with a mask of the
  windows already served, which is exactly TensorFlow's tie rule.
* Global average pooling is one matrix product with a vector of ones per batch (BLAS),
  much faster than a sum over a middle axis; global max pooling reduces in two passes
  with a long contiguous inner loop.
"""
import math

import numpy as np

from kbook import parallel
from kbook.layers.conv_utils import conv_output_length, same_padding

_CHUNK_BYTES = 1 << 19     # intermediate per batch chunk: stays in L2 on current CPUs
_PARALLEL_BYTES = 4 << 20  # inputs smaller than this are not worth a thread hand-off
_MAX_THREADS = 4
_PARTS_PER_THREAD = 2


class AxisGeometry:
    """Where a window of ``k`` taps with stride ``s`` lands along one axis of length ``length``.

    Attributes: ``out`` (number of windows) and ``before`` (padding before the first cell;
    the padding after is whatever the last window needs).
    """

    def __init__(self, length, k, s, padding):
        self.length, self.k, self.s = length, k, s
        self.out = conv_output_length(length, k, padding, s)
        self.before = same_padding(length, k, s)[0] if padding == "same" else 0

    def tap(self, d):
        """Tap ``d`` of window ``i`` reads cell ``i*s - before + d``.

        Returns ``(i0, i1, first)``: the windows ``i0 <= i < i1`` for which that cell is
        real (not padding), and the cell read by window ``i0``.
        """
        s, shift = self.s, self.before - d
        i0 = max(0, -(-shift // s))                                   # ceil(shift / s)
        i1 = min(self.out, (self.length - 1 + shift) // s + 1)
        return i0, max(i0, i1), i0 * s - shift

    def source(self, d):
        """``(out_slice, in_slice)`` for tap ``d``, or ``None`` if it only ever reads padding."""
        i0, i1, first = self.tap(d)
        if i1 == i0:
            return None
        return slice(i0, i1), slice(first, first + (i1 - i0 - 1) * self.s + 1, self.s)

    def counts(self):
        """How many real cells each window covers along this axis."""
        counts = np.zeros(self.out)
        for d in range(self.k):
            i0, i1, _ = self.tap(d)
            counts[i0:i1] += 1
        return counts


def pool_geometry(input_hw, pool_size, strides, padding):
    """The two :class:`AxisGeometry` (rows, cols) of a 2-D pooling, e.g. for drawing windows."""
    return tuple(AxisGeometry(n, k, s, padding) for n, k, s in zip(input_hw, pool_size, strides))


def _at(ndim, axis, index):
    key = [slice(None)] * ndim
    key[axis] = index
    return tuple(key)


def _at2(ndim, axes, indices):
    key = [slice(None)] * ndim
    for axis, index in zip(axes, indices):
        key[axis] = index
    return tuple(key)


class _AxisPlan:
    """The taps of one axis turned into index tuples once per call, reused for every chunk."""

    def __init__(self, geometry, ndim, axis):
        taps = [t for t in map(geometry.source, range(geometry.k)) if t is not None]
        whole = slice(0, geometry.out)
        full = [src for dst, src in taps if dst == whole]
        partial = [(dst, src) for dst, src in taps if dst != whole]
        self.start = tuple(_at(ndim, axis, src) for src in full[:2])
        rest = [(whole, src) for src in full[2:]] + partial
        self.rest = [(_at(ndim, axis, dst), _at(ndim, axis, src)) for dst, src in rest]
        self.taps = [(_at(ndim, axis, dst), _at(ndim, axis, src)) for dst, src in taps]
        self.disjoint = geometry.k <= geometry.s  # no two taps of different windows share a cell

    def reduce(self, x, op, identity, out):
        """``out[..., i, ...] = op over taps d of x[..., i*s - before + d, ...]`` (real cells only)."""
        if len(self.start) == 2:
            op(x[self.start[0]], x[self.start[1]], out=out)
        elif self.start:
            np.copyto(out, x[self.start[0]])
        else:  # every tap misses some border window; each window still has a real cell
            out.fill(identity)
        for dst, src in self.rest:
            view = out[dst]
            op(view, x[src], out=view)
        return out

    def spread(self, g, out):
        """The adjoint of ``reduce`` for a sum: each window's ``g`` is added to the real cells
        it covers (``out`` starts as zeros)."""
        for dst, src in self.taps:
            if self.disjoint:
                out[src] = g[dst]
            else:
                out[src] += g[dst]
        return out


def _chunks(part, bytes_per_item):
    """Cut the batch slice ``part`` into pieces of about ``_CHUNK_BYTES``."""
    step = max(1, _CHUNK_BYTES // max(1, bytes_per_item))
    return [slice(i, min(part.stop, i + step)) for i in range(part.start, part.stop, step)]


def _max_backward(x, y, dy, dx, taps, overlap, finite):
    """Send each window's dy to its first maximum in row-major order (TensorFlow's CPU rule)."""
    free = np.ones(y.shape, dtype=bool)  # windows whose gradient is not placed yet
    hits = []
    for out_key, in_key in taps:
        hit = np.equal(x[in_key], y[out_key])
        window_free = free[out_key]
        hit &= window_free
        window_free ^= hit  # this tap takes these windows; later ties find them taken
        if overlap:
            hits.append((hit, out_key, in_key))
        elif finite:
            np.multiply(dy[out_key], hit, out=dx[in_key])
        else:  # dy * hit would turn an inf into nan in the cells it does not reach
            dx[in_key] = np.where(hit, dy[out_key], x.dtype.type(0))
    # Overlapping windows add up in a cell.  TensorFlow adds them in output (row-major) order,
    # which for one input cell is the *reverse* tap order; the same order gives the same bits.
    for hit, out_key, in_key in reversed(hits):
        target, upstream = dx[in_key], dy[out_key]
        target += upstream * hit if finite else np.where(hit, upstream, x.dtype.type(0))


def _over_batch(work, n, nbytes):
    """Run ``work(batch_slice)`` over the whole batch, split across threads for large inputs.

    More parts than threads, so a thread slowed down by another process does not hold
    back a fixed share of the work (see kbook.parallel).
    """
    threads = min(parallel.cores(), _MAX_THREADS) if nbytes >= _PARALLEL_BYTES else 1
    parts = min(n, threads * _PARTS_PER_THREAD)
    if parts <= 1:  # also an empty batch
        work(slice(0, n))
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    parallel.run(work, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])], threads=threads)


def _taps(geometry, axes):
    """Every (out_key, in_key) pair of the 2-D window, in row-major tap order."""
    gh, gw = geometry
    taps = []
    for dh in range(gh.k):
        rows = gh.source(dh)
        for dw in range(gw.k):
            cols = gw.source(dw)
            if rows is not None and cols is not None:
                taps.append((_at2(4, axes, (rows[0], cols[0])),
                             _at2(4, axes, (rows[1], cols[1]))))
    return taps


def _row_pass(x, geometry, axes):
    """The row pass's output shape per batch item, its size in bytes, and both axes' plans."""
    (h_axis, w_axis), (gh, gw) = axes, geometry
    rows_shape = list(x.shape[1:])
    rows_shape[h_axis - 1] = gh.out
    item_bytes = math.prod(rows_shape) * x.itemsize
    return rows_shape, item_bytes, _AxisPlan(gh, x.ndim, h_axis), _AxisPlan(gw, x.ndim, w_axis)


def _pool(x, geometry, axes, op, identity, count):
    """``op`` over each window's real cells (then ``/ count``): rows pass, columns pass, chunk by chunk."""
    shape = list(x.shape)
    shape[axes[0]], shape[axes[1]] = geometry[0].out, geometry[1].out
    y = np.empty(shape, dtype=x.dtype)
    rows_shape, item_bytes, plan_h, plan_w = _row_pass(x, geometry, axes)

    def work(part):
        for chunk in _chunks(part, item_bytes):
            rows = np.empty((chunk.stop - chunk.start, *rows_shape), dtype=x.dtype)
            plan_h.reduce(x[chunk], op, identity, out=rows)
            y_chunk = plan_w.reduce(rows, op, identity, out=y[chunk])
            if count is not None:
                y_chunk /= count
            elif y_chunk.size and not y_chunk.min() >= identity:  # a nan or -inf window (rare)
                np.fmax(y_chunk, identity, out=y_chunk)

    _over_batch(work, x.shape[0], x.nbytes)
    return y


def max_pool2d(x, geometry, axes):
    """The max of each window's real cells.  x: 4-D; ``geometry``: ``pool_geometry(...)`` of its
    (H, W); ``axes``: where H and W are, (1, 2) or (2, 3)."""
    # TF's kernel starts from the dtype's lowest finite value and replaces it only by a
    # strictly greater cell: a nan never wins, an all -inf window gives that lowest value.
    # np.fmax skips nan the same way; the lowest value is applied after the reduction.
    return _pool(x, geometry, axes, np.fmax, np.finfo(x.dtype).min, None)


def average_pool2d(x, geometry, axes, count):
    """The mean of each window's real cells: their sum / ``count`` (real cells per window, broadcast
    against the output)."""
    return _pool(x, geometry, axes, np.add, 0.0, count)


def max_pool2d_grad(x, y, dy, geometry, axes):
    """dL/dx of ``max_pool2d`` (y its output): each window's dy goes to its first maximum."""
    dx = np.zeros_like(x)
    taps = _taps(geometry, axes)
    # Windows share input cells only when a pool is longer than its stride.
    overlap = any(g.k > g.s for g in geometry)
    # dy * hit is the fast way to keep dy where hit; it differs from "dy where hit,
    # else 0" only if dy holds inf or nan (0 * inf = nan): then take np.where.
    finite = bool(np.isfinite(dy).all())
    item_bytes = x[:1].nbytes

    def work(part):
        for chunk in _chunks(part, item_bytes):
            _max_backward(x[chunk], y[chunk], dy[chunk], dx[chunk], taps, overlap, finite)

    _over_batch(work, x.shape[0], x.nbytes)
    return dx


def average_pool2d_grad(x, dy, geometry, axes, count):
    """dL/dx of ``average_pool2d``: each window's ``dy / count`` spread over its real cells."""
    dx = np.zeros_like(x)
    share = dy / count
    rows_shape, item_bytes, plan_h, plan_w = _row_pass(x, geometry, axes)

    def work(part):  # the adjoint of the forward's two passes: columns, then rows
        for chunk in _chunks(part, item_bytes):
            rows = np.zeros((chunk.stop - chunk.start, *rows_shape), dtype=x.dtype)
            plan_w.spread(share[chunk], out=rows)
            plan_h.spread(rows, out=dx[chunk])

    _over_batch(work, x.shape[0], x.nbytes)
    return dx


def global_average_pool2d(x, channels_last):
    """The mean of each channel over H and W: (N, H, W, C) or (N, C, H, W) -> (N, C)."""
    n = x.shape[0]
    if channels_last:
        h, w, c = x.shape[1:]
        # einsum's summing loop is 1.5x faster than a sum over a middle axis, and as fast as a
        # BLAS product with a vector of ones without waking NumPy's BLAS threads (kbook/ops/blas.py).
        # Long float32 sums lose digits (TF's pairwise reduction keeps more): above 64k
        # cells per channel, add up in float64.
        wide = x.dtype == np.float32 and h * w > 1 << 16
        acc = np.float64 if wide else x.dtype
        total = np.einsum("npc->nc", x.reshape(n, h * w, c).astype(acc, copy=False))
    else:
        c, h, w = x.shape[1:]
        wide = x.dtype == np.float32 and h * w > 1 << 16
        acc = np.float64 if wide else x.dtype
        total = np.einsum("ncp->nc", x.reshape(n, c, h * w).astype(acc, copy=False))
    return (total / (h * w)).astype(x.dtype, copy=False)


def global_max_pool2d(x, channels_last):
    """The max of each channel over H and W: (N, H, W, C) or (N, C, H, W) -> (N, C)."""
    n = x.shape[0]
    y = np.empty((n, x.shape[-1] if channels_last else x.shape[1]), dtype=x.dtype)
    if channels_last:
        def work(part):  # two reductions with a long contiguous inner loop beat one over (1, 2)
            np.max(x[part].max(axis=1), axis=1, out=y[part])
    else:
        flat = x.reshape(n, x.shape[1], x.shape[2] * x.shape[3])

        def work(part):
            np.max(flat[part], axis=2, out=y[part])
    _over_batch(work, n, x.nbytes)
    return y


def global_max_pool2d_grad(x, y, dy, axes):
    """dL/dx of ``global_max_pool2d``, y and dy shaped to broadcast against x ((N, 1, 1, C) or
    (N, C, 1, 1)): ``tf.reduce_max``'s rule, tied maxima share dy equally."""
    h_axis, w_axis = axes
    dx = np.empty_like(x)

    def work(part):
        hit = np.equal(x[part], y[part])
        ties = hit.sum(axis=h_axis, keepdims=True, dtype=np.int64).sum(axis=w_axis, keepdims=True)
        # tf.reduce_max's gradient, (indicator / number_of_maxima) * dy, a product even
        # where the indicator is 0: so an inf in dy gives nan there, in TensorFlow and here.
        share = (1.0 / ties).astype(x.dtype) * dy[part]
        with np.errstate(invalid="ignore"):
            np.multiply(hit, share, out=dx[part])

    _over_batch(work, x.shape[0], x.nbytes)
    return dx
