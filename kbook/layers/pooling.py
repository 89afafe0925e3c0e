"""Pooling: ``MaxPooling2D``, ``AveragePooling2D``, ``GlobalAveragePooling2D``, ``GlobalMaxPooling2D``.

What TensorFlow does, and therefore what kbook does:

* ``"valid"``: windows start at 0, s, 2s, ... and must fit: ``floor((L - k) / s) + 1`` outputs.
* ``"same"``: ``ceil(L / s)`` outputs, padded exactly as Conv2D (the odd cell goes
  bottom/right, see :mod:`kbook.layers.conv_utils`).  The padding is never a value:
  max pooling takes the max of the real cells only (a window of negative numbers next
  to the border does not return 0), and average pooling divides by the number of
  real cells in each window, not by ``pool_h * pool_w``.  Every window holds at least
  one real cell, so there is always something to take the max or mean of.
* Gradients: average pooling spreads ``dy / count`` over the window's real cells;
  max pooling sends ``dy`` to one cell per window, the *first* maximum in row-major
  order when several cells tie (TensorFlow's CPU kernel scans the input row by row and
  only replaces the running max on a strictly larger value).  Windows that overlap
  (``strides < pool_size``) add their contributions.
* Global max pooling is ``reduce_max``, whose gradient splits ``dy`` *equally* among
  tied maxima: a different rule from MaxPooling2D's, and kbook follows both.

How it is fast without a Python loop over pixels:

* A 2-D window is reduced in two 1-D passes (rows, then columns), each a short loop over
  the window's taps with whole-array ``np.maximum`` / ``np.add``: ``ph + pw`` array
  operations instead of ``ph * pw``.  The row pass runs over long contiguous rows.
* A tap only touches the output positions where it lands on a real cell, so no padded
  copy of the input is ever made and padding never needs a value.
* The batch goes through in chunks whose intermediate (the row pass's output) is about
  512 KiB, so it is still in the CPU cache when the column pass reads it.
* Large inputs are split into contiguous batch slices on a few threads (NumPy releases
  the GIL inside its loops), as TensorFlow's kernels use every core.  Every element is
  computed the same way whatever the split: results do not depend on it.
* Max-pooling backward walks the ``ph * pw`` taps in row-major order with a mask of the
  windows already served, which is exactly TensorFlow's tie rule.
"""
import math

import numpy as np

from kbook import parallel
from kbook.layers.base import InputSpec, Layer
from kbook.layers.conv_utils import (conv_output_length, normalize_data_format, normalize_padding,
                                     normalize_tuple, same_padding)

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
           "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "pool_geometry"]

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


class _Pooling2D(Layer):
    """What MaxPooling2D and AveragePooling2D share (Keras's ``BasePooling``)."""

    pool_mode = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self.name)
        # Keras: strides=None means "same as pool_size" (non-overlapping windows).
        self.strides = normalize_tuple(pool_size if strides is None else strides, 2, "strides", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = normalize_data_format(data_format, self.name)
        self.input_spec = InputSpec(ndim=4)

    # --- geometry -------------------------------------------------------------------

    @property
    def _axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def _geometry(self, input_shape):
        h_axis, w_axis = self._axes
        hw = (input_shape[h_axis], input_shape[w_axis])
        geometry = pool_geometry(hw, self.pool_size, self.strides, self.padding)
        if any(g.out <= 0 for g in geometry) or 0 in hw:
            why = ("the input has an empty spatial axis" if 0 in hw else
                   "with padding=\"valid\" each spatial axis must be at least as long as the pool")
            raise ValueError(
                f"Layer '{self.name}': computed output size would be zero or negative. Received: "
                f"`inputs.shape={tuple(input_shape)}`, `pool_size={self.pool_size}`, "
                f"`strides={self.strides}`, `padding={self.padding}`: {why}."
            )
        return geometry

    def compute_output_shape(self, input_shape):
        gh, gw = self._geometry(input_shape)
        shape = list(input_shape)
        shape[self._axes[0]], shape[self._axes[1]] = gh.out, gw.out
        return tuple(shape)

    def _count_map(self, geometry):
        """Real cells per window, shaped to broadcast against the output (a scalar for "valid")."""
        gh, gw = geometry
        if self.padding == "valid":
            return self.pool_size[0] * self.pool_size[1]
        counts = np.outer(gh.counts(), gw.counts()).astype(self.dtype)
        return counts[:, :, None] if self.data_format == "channels_last" else counts

    # --- forward ----------------------------------------------------------------------

    def call(self, x, training=None):
        geometry = self._geometry(x.shape)
        (h_axis, w_axis), (gh, gw) = self._axes, geometry
        y = np.empty(self.compute_output_shape(x.shape), dtype=x.dtype)
        if self.pool_mode == "max":
            # TF's kernel starts from the dtype's lowest finite value and replaces it only by a
            # strictly greater cell: a nan never wins, an all -inf window gives that lowest value.
            # np.fmax skips nan the same way; the lowest value is applied after the reduction.
            lowest = np.finfo(x.dtype).min
            op, identity, count = np.fmax, lowest, None
        else:
            op, identity, count = np.add, 0.0, self._count_map(geometry)
        rows_shape = list(x.shape[1:])
        rows_shape[h_axis - 1] = gh.out
        item_bytes = math.prod(rows_shape) * x.itemsize
        plan_h, plan_w = _AxisPlan(gh, x.ndim, h_axis), _AxisPlan(gw, x.ndim, w_axis)

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
        # backward finds the max cells by comparing with y: keep our own copy, so a caller
        # that edits the returned array in place cannot change the gradient
        self._cache = (x, y.copy() if self.pool_mode == "max" else None, geometry)
        return y

    # --- backward -----------------------------------------------------------------------

    def _taps(self, geometry):
        """Every (out_key, in_key) pair of the window, in row-major tap order."""
        gh, gw = geometry
        taps = []
        for dh in range(gh.k):
            rows = gh.source(dh)
            for dw in range(gw.k):
                cols = gw.source(dw)
                if rows is not None and cols is not None:
                    taps.append((_at2(4, self._axes, (rows[0], cols[0])),
                                 _at2(4, self._axes, (rows[1], cols[1]))))
        return taps

    def backward(self, dy):
        """dy: the output's shape -> dx: the input's shape (pooling has no weights)."""
        dy = self._check_dy(dy)
        x, y, geometry = self._cache
        self.grads = {}
        dx = np.zeros_like(x)
        if self.pool_mode == "max":
            taps = self._taps(geometry)
            # Windows share input cells only when a pool is longer than its stride.
            overlap = any(k > s for k, s in zip(self.pool_size, self.strides))
            # dy * hit is the fast way to keep dy where hit; it differs from "dy where hit,
            # else 0" only if dy holds inf or nan (0 * inf = nan): then take np.where.
            finite = bool(np.isfinite(dy).all())
            item_bytes = x[:1].nbytes

            def work(part):
                for chunk in _chunks(part, item_bytes):
                    _max_backward(x[chunk], y[chunk], dy[chunk], dx[chunk], taps, overlap, finite)
        else:
            (h_axis, w_axis), (gh, gw) = self._axes, geometry
            share = dy / self._count_map(geometry)
            rows_shape = list(x.shape[1:])
            rows_shape[h_axis - 1] = gh.out
            item_bytes = math.prod(rows_shape) * x.itemsize
            plan_h, plan_w = _AxisPlan(gh, x.ndim, h_axis), _AxisPlan(gw, x.ndim, w_axis)

            def work(part):  # the adjoint of the forward's two passes: columns, then rows
                for chunk in _chunks(part, item_bytes):
                    rows = np.zeros((chunk.stop - chunk.start, *rows_shape), dtype=x.dtype)
                    plan_w.spread(share[chunk], out=rows)
                    plan_h.spread(rows, out=dx[chunk])

        _over_batch(work, x.shape[0], x.nbytes)
        return dx

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }


class MaxPooling2D(_Pooling2D):
    """Max pooling over 2-D windows of each channel (``keras.layers.MaxPooling2D``).

    Args:
        pool_size: int or 2 ints, the window (rows, cols); default ``(2, 2)``.
        strides: int, 2 ints or ``None`` (default: ``pool_size``, windows side by side).
        padding: ``"valid"`` (windows must fit) or ``"same"`` (``ceil(L / s)`` outputs;
            padded cells never win the max).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shapes: x: (N, H, W, C) -> y: (N, H_out, W_out, C) (channels_first: (N, C, H, W) ->
    (N, C, H_out, W_out)); H_out = floor((H - pool_h) / s_h) + 1 ("valid") or ceil(H / s_h) ("same").

    Example:
        >>> pool = MaxPooling2D(pool_size=2, strides=2)
        >>> pool(np.zeros((1, 7, 7, 1))).shape
        (1, 3, 3, 1)
        >>> dx = pool.backward(np.ones((1, 3, 3, 1)))   # one 1 per window, at its first max
    """

    pool_mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling2D):
    """Average pooling over 2-D windows of each channel (``keras.layers.AveragePooling2D``).

    Args:
        pool_size: int or 2 ints, the window (rows, cols).  Required, as in Keras 3
            (only MaxPooling2D has a default).
        strides: int, 2 ints or ``None`` (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"``; with ``"same"`` each window is divided by
            the number of real (unpadded) cells it covers.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Shapes: as :class:`MaxPooling2D`.

    Example:
        >>> AveragePooling2D(2, strides=1, padding="same")(np.arange(9.0).reshape(1, 3, 3, 1))[0, :, :, 0]
        array([[2. , 3. , 3.5],
               [5. , 6. , 6.5],
               [6.5, 7.5, 8. ]], dtype=float32)
    """

    pool_mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling2D(Layer):
    """What the global poolings share (Keras's ``BaseGlobalPooling``): one value per channel."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, self.name)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypeError(
                f"Layer '{self.name}': the `keepdims` argument must be a boolean. "
                f"Received: keepdims={keepdims!r}"
            )
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    @property
    def _axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        n = input_shape[0]
        if self.data_format == "channels_last":
            c = input_shape[-1]
            return (n, 1, 1, c) if self.keepdims else (n, c)
        c = input_shape[1]
        return (n, c, 1, 1) if self.keepdims else (n, c)

    def _check_spatial(self, shape):
        if shape[self._axes[0]] == 0 or shape[self._axes[1]] == 0:
            raise ValueError(
                f"Layer '{self.name}': cannot pool over an empty spatial axis. "
                f"Full shape received: {tuple(shape)}"
            )

    def _channels(self, shape):
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def _kept(self, values):
        """(N, C) -> the output's shape, or to the shape that broadcasts against the input."""
        n, c = values.shape
        return values.reshape((n, 1, 1, c) if self.data_format == "channels_last" else (n, c, 1, 1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the whole feature map (``keras.layers.GlobalAveragePooling2D``).

    Not a scalar: one value per channel per sample.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: ``False`` -> (N, C); ``True`` -> (N, 1, 1, C) (channels_first: (N, C, 1, 1)).

    Shapes: x: (N, H, W, C) -> y: (N, C).

    Example:
        >>> GlobalAveragePooling2D()(np.ones((8, 3, 3, 16))).shape
        (8, 16)
    """

    def call(self, x, training=None):
        self._check_spatial(x.shape)
        n = x.shape[0]
        if self.data_format == "channels_last":
            h, w, c = x.shape[1:]
            # ones @ (N, H*W, C): a BLAS reduction, much faster than a sum over a middle axis.
            # Long float32 sums lose digits (TF's pairwise reduction keeps more): above 64k
            # cells per channel, add up in float64.
            wide = x.dtype == np.float32 and h * w > 1 << 16
            acc = np.float64 if wide else x.dtype
            total = np.matmul(np.ones(h * w, dtype=acc), x.reshape(n, h * w, c).astype(acc, copy=False))
        else:
            c, h, w = x.shape[1:]
            wide = x.dtype == np.float32 and h * w > 1 << 16
            acc = np.float64 if wide else x.dtype
            total = np.matmul(x.reshape(n, c, h * w).astype(acc, copy=False), np.ones(h * w, dtype=acc))
        y = (total / (h * w)).astype(x.dtype, copy=False)
        self._cache = (x.shape, h * w)
        return self._kept(y) if self.keepdims else y

    def backward(self, dy):
        dy = self._check_dy(dy)
        shape, cells = self._cache
        self.grads = {}
        share = self._kept(dy.reshape(shape[0], self._channels(shape))) / dy.dtype.type(cells)
        dx = np.empty(shape, dtype=dy.dtype)
        dx[...] = share
        return dx


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The max of each channel over the whole feature map (``keras.layers.GlobalMaxPooling2D``).

    The gradient follows ``tf.reduce_max``: tied maxima share ``dy`` equally.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: ``False`` -> (N, C); ``True`` -> (N, 1, 1, C) (channels_first: (N, C, 1, 1)).

    Shapes: x: (N, H, W, C) -> y: (N, C).

    Example:
        >>> GlobalMaxPooling2D()(np.arange(8.0).reshape(1, 2, 2, 2))
        array([[6., 7.]], dtype=float32)
    """

    def call(self, x, training=None):
        self._check_spatial(x.shape)
        n = x.shape[0]
        y = np.empty((n, self._channels(x.shape)), dtype=x.dtype)
        if self.data_format == "channels_last":
            def work(part):  # two reductions with a long contiguous inner loop beat one over (1, 2)
                np.max(x[part].max(axis=1), axis=1, out=y[part])
        else:
            flat = x.reshape(n, x.shape[1], x.shape[2] * x.shape[3])

            def work(part):
                np.max(flat[part], axis=2, out=y[part])
        _over_batch(work, n, x.nbytes)
        self._cache = (x, y.copy())  # see _Pooling2D.call: backward compares with y
        return self._kept(y) if self.keepdims else y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x, y = self._cache
        self.grads = {}
        h_axis, w_axis = self._axes
        upstream = self._kept(dy.reshape(y.shape))
        kept_y = self._kept(y)
        dx = np.empty_like(x)

        def work(part):
            hit = np.equal(x[part], kept_y[part])
            ties = hit.sum(axis=h_axis, keepdims=True, dtype=np.int64).sum(axis=w_axis, keepdims=True)
            # tf.reduce_max's gradient, (indicator / number_of_maxima) * dy, a product even
            # where the indicator is 0: so an inf in dy gives nan there, in TensorFlow and here.
            share = (1.0 / ties).astype(x.dtype) * upstream[part]
            with np.errstate(invalid="ignore"):
                np.multiply(hit, share, out=dx[part])

        _over_batch(work, x.shape[0], x.nbytes)
        return dx


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
