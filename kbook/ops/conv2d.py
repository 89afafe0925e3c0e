"""The engine behind ``kbook.layers.Conv2D``: 2-D cross-correlation as matrix products.

The layer checks its arguments and calls the three functions at the end of this module:
``conv2d_nhwc`` (forward), ``conv2d_kernel_grad`` (dL/dkernel) and ``conv2d_input_grad`` (dL/dx).
They check no arguments.  Everything above them is how they are fast.

No Python loop runs over pixels or images; the work is matrix products (GEMMs) on cache-sized
blocks: several whole images when images are small, or a range of output rows of one image when
they are large.  Three engines:

* **Stride 1, one group, and no banded tiles (below): shifted GEMMs, no im2col.**
  Flatten a block's zero-padded input rows to a (rows * Wp, C) matrix (Wp = padded width).
  Output position p = r * Wp + c needs, for tap (i, j), input row p + i * dh * Wp + j * dw,
  so tap (i, j) contributes ``flat[off:off + R] @ kernel[i, j]``: a GEMM on a slice that is
  already contiguous, nothing copied.  BLAS's ``gemm`` with ``beta = 1`` adds every tap into
  the same output block (NumPy's ``matmul`` cannot accumulate in place; SciPy's BLAS wrapper
  can, and takes Fortran-ordered views without copying).  The block is computed over the
  padded width; the last ``span_w - 1`` columns of each row are thrown away.  The output block
  starts as a copy of the bias, so the first tap accumulates onto it too.
* **Stride 1, one group, at most 32 input channels (8 when the kernel's dilated width span_w is
  at most 3), span_w > 1, and no inf or NaN in the input: banded tiles.**  The shifted GEMMs'
  inner dimension is C, too short for BLAS when C is small (an RGB photo: 3).  Cut the same flat
  rows into tiles of T consecutive positions: a tile's T * C input values are one row of the flat
  buffer seen as a (positions / T, T * C) matrix, and a tile's T * F outputs one row of the output
  block seen as (positions / T, T * F) -- both views, nothing copied.  Output tile t under kernel
  row i needs the input positions from t * T to t * T + T + span_w - 2: with T = span_w - 1, its
  own tile and the next.  So kernel row i is two GEMMs, ``tiles @ A0 + next tiles @ A1``, where
  ``A_m`` (T * C, T * F) holds kernel[i, j] in block (u, v) when m * T + u - v = j * dw and zeros
  elsewhere: a band.  T is capped so that T * C <= ``_BAND_INNER``; a capped T needs
  M = ceil((T + span_w - 1) / T) tiles, M GEMMs a kernel row.  So kh * M GEMMs with inner
  dimension T * C instead of kh * kw with inner dimension C, at M * T / kw times the arithmetic
  (3x3: T = 2, 1.33x).  Measured, against the shifted GEMMs (the time taken, as a fraction):
  8 channels, 3x3 / 5x5 / 7x7: 0.44 / 0.29 / 0.24; 16 channels: 0.88-1.08 / 0.78 / ~0.75;
  32 channels, T = 2: 1.03-1.15 / 0.91 / 0.89-0.93; 64 channels: 1.04-1.09.  Hence the limits:
  for a 3x3 kernel T = 2 only doubles the inner dimension, which pays for the extra third of
  arithmetic only up to 8 channels.  Against im2col, which few channels used before: 2x512x512x3
  input, 8 filters, 3x3: 17-21 ms instead of 42-46.  A zero in the band times an inf in the input
  is NaN, so an input with an inf or a NaN goes to the shifted GEMMs, which touch only the taps.
  (An inf in the kernel, or in dy for the gradients, is safe: the zeros only ever multiply x.)
* **Strides > 1 or groups > 1: im2col, one block at a time.**
  Each output pixel's ``kh * kw * C`` input values form one row of a "column" matrix, and the convolution is
  ``cols @ kernel.reshape(-1, filters)``.  Built whole, that matrix is ``kh * kw`` times the
  input (75 MB for the benchmark); built per block it stays in cache: ``kh`` strided copies
  (one per kernel row) fill it, then one GEMM writes the block's output rows in place.  When
  the rows are long (many channels), a block holds at least ``_MIN_GEMM_ROWS`` of them, cache
  or not: a GEMM of a few dozen rows cannot keep two cores busy.  A
  column of ones and a bias row in the kernel matrix add the bias inside the same GEMM.

Padding is built per block in the block's own buffer, never as a padded copy of the input.
Every product goes through SciPy's BLAS (see :mod:`kbook.ops.blas`).  No Python threads: OpenBLAS already
spreads each GEMM over every core, and threads on top of it only made the two fight (measured).

Backward: ``dkernel`` sums, per tap, (input slice).T @ dy over the blocks (the slices are
rebuilt, not kept from the forward pass), on smaller blocks than the forward pass (see
``_KERNEL_GRAD_BLOCK_BYTES``); with at most ``_KERNEL_GRAD_BAND_CHANNELS`` input channels it sums
each band's gradient the same way, (input tiles).T @ (dy tiles), and adds each tap's blocks out of
them.  Both the shifted and the banded products multiply inputs at thrown-away positions by a
zero dy, so for an input with an inf or a NaN ``dkernel`` is the exact im2col sum instead.

``dx`` is itself a stride-1 convolution: dy, spread out by the strides and padded, correlated
with the kernel flipped in space and with its two channel axes swapped (the "transposed
convolution").  Its products have the input's channels as their output width, too narrow for
BLAS when the input has few channels (an RGB photo: 3), so with at most ``_FEW_CHANNELS``
channels ``dx`` is computed the other way round: one product per chunk of dy, every tap's and
channel's contribution at once, ``(kh * kw * C, F) @ (F, chunk)``, then each tap's rows added
into dx at that tap's offset (64x32x32x3 input, 16 filters, 3x3: 5.6 ms instead of 10.1;
8 channels: 8.3 instead of 5.7, hence the threshold; measured).  With strides > 1 the spread-out
dy is mostly zeros (3 in 4 for strides 2), so there (one group) ``dx`` is col2im, the adjoint of
im2col: per block, ``dy rows @ kernel matrix.T`` gives every window's shares in im2col's layout,
and one strided addition per tap puts them back where im2col took them from (32x16x16x256,
256 filters, 3x3, strides 2: 38 ms instead of 144; 1x224x224x3, 32 filters: 5.8 instead of
6.7 by scattering; measured).

Tried and not used (measured against these engines, float32, 2 cores):
* Strides > 1 as a sum of stride-1 convolutions on the sh * sw phase images (space-to-depth, then
  shifted GEMMs with inner dimension C): correct, but 0.85-1.5x the time of im2col (32x16x16x256,
  256 filters, 3x3, strides 2: 35-43 ms against 41), because the phase grids carry a row and a
  column that no output uses.
* One product per kernel row on a kw-wide copy of the input rows (inner dimension kw * C): the
  forward pass no faster (7x7, 32 channels: 84 ms against 83; 128 channels: 45-50 against 35).
* ``dkernel`` in two Python threads (NumPy's ``matmul`` releases the GIL, SciPy's BLAS wrapper does
  not): up to 2x faster on 4x112x112x32, 7x7, but only while each product is small enough for
  OpenBLAS to run it on the calling thread; larger ones made the two threads' OpenBLAS calls fight
  (206 ms against 107), and where that limit lies depends on the BLAS build.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.linalg import blas

from kbook.layers.conv_utils import dilated_size
from kbook.ops.blas import gemm_into

_BLOCK_BYTES = 1 << 20  # a block's working buffers: about a core's L2 cache
# dL/dkernel's products have a small (C, F) output and a long inner dimension, which OpenBLAS
# cannot split across cores; on a quarter of the block they stay in cache from tap to tap
# (64x32x32, 16 -> 16 channels, 3x3: 29 ms with 1 MB blocks, 13 ms with 256 kB; measured).
_KERNEL_GRAD_BLOCK_BYTES = 1 << 18
# An im2col block's product gets at least this many rows, however long they are: OpenBLAS splits a
# product across the cores by rows, and a few dozen rows leave it mostly waiting (32x16x16x256,
# 256 filters, 3x3, strides 2: a 1 MB block holds one image, 64 rows of 2,305 values, and the
# forward pass took 65-69 ms; 36-38 ms with 512 rows or more; measured).
_MIN_GEMM_ROWS = 512
_FEW_CHANNELS = 4  # inputs with at most this many channels: dx by scattering (measured)
_BAND_INNER = 64  # the banded engine's tiles hold at most this many input values (T * C; measured)
_BAND_NARROW_CHANNELS = 8  # kernels at most 3 wide (dilated): bands only up to this many channels (measured)
# dL/dkernel by the bands only up to this many input channels: their products have small
# (T*C, T*F) outputs over a long inner dimension, as the shifted ones do, and wider tiles stop paying
# (4x112x112x32, 32 filters, 7x7: 142 ms by bands, 106 by shifts; 8 channels, 5x5: 7 against 12; measured).
_KERNEL_GRAD_BAND_CHANNELS = 8


def _band_width(channels, span_w):
    """Positions per tile for the banded engine (T), or 0 for the shifted GEMMs.

    T * C is the bands' inner dimension: up to _BAND_INNER they beat the shifted GEMMs (whose inner
    dimension is C), wider they lose (measured, see the module docstring).  T = span_w - 1 makes
    every output tile need exactly two input tiles (a T capped by _BAND_INNER needs more).  At
    least 2: with T = 1 the bands are the shifted GEMMs.  A kernel one column wide (span_w = 1)
    would have block-diagonal bands, all waste: the shifted GEMMs.
    """
    if channels == 0 or span_w == 1 or 2 * channels > _BAND_INNER:
        return 0
    if span_w <= 3 and channels > _BAND_NARROW_CHANNELS:
        return 0
    return max(2, min(span_w - 1, _BAND_INNER // channels))


class _Geometry:
    """Sizes of one convolution: x (N, H, W, C) * kernel (kh, kw, C // groups, F), explicit pads."""

    def __init__(self, x_shape, kernel_shape, strides, dilation, pads, groups):
        self.N, self.H, self.W, self.C = x_shape
        self.kh, self.kw, self.Cg, self.F = kernel_shape
        self.sh, self.sw = strides
        self.dh, self.dw = dilation
        (self.pt, self.pb), (self.pl, self.pr) = pads
        self.groups = groups
        self.Fg = self.F // groups
        self.span_h = dilated_size(self.kh, self.dh)
        self.span_w = dilated_size(self.kw, self.dw)
        self.Ho = (self.H + self.pt + self.pb - self.span_h) // self.sh + 1
        self.Wo = (self.W + self.pl + self.pr - self.span_w) // self.sw + 1
        self.K = self.kh * self.kw * self.Cg
        self.Wp = self.W + self.pl + self.pr

    def plan(self, bytes_per_row, block_bytes):
        """Blocks (n0, n1, h0, h1) of about ``block_bytes``: output rows h0..h1 of images n0..n1.

        Several whole images per block when one image is small (so a batch of small images is a
        few large GEMMs, not many tiny ones); otherwise row ranges of one image.
        """
        rows = max(1, block_bytes // max(bytes_per_row, 1))
        if self.N == 0:  # an empty batch: nothing to compute, an empty output
            self.block_images, self.block_rows = 1, max(1, min(rows, self.Ho))
            return []
        if rows >= self.Ho:
            per = max(1, min(self.N, rows // self.Ho))
            per = math.ceil(self.N / math.ceil(self.N / per))  # even blocks
            self.block_images, self.block_rows = per, self.Ho
            return [(n, min(n + per, self.N), 0, self.Ho) for n in range(0, self.N, per)]
        rows = math.ceil(self.Ho / math.ceil(self.Ho / rows))
        self.block_images, self.block_rows = 1, rows
        return [(n, n + 1, h0, min(h0 + rows, self.Ho)) for n in range(self.N) for h0 in range(0, self.Ho, rows)]


def _fill_padded(slab, x, g, n0, n1, r0, r1):
    """slab[:n1-n0, 0:r1-r0] = input rows r0..r1-1 of images n0..n1-1, zero outside the images.

    The pad columns are zero from the start and never written; rows past r1 - r0 are zeroed too,
    so a short last block reads nothing stale.
    """
    a, b = max(r0, 0), min(r1, g.H)
    part = slab[:n1 - n0]
    part[:, :max(a - r0, 0)] = 0
    if b > a:
        part[:, a - r0:b - r0, g.pl:g.pl + g.W] = x[n0:n1, a:b]
    part[:, max(b - r0, 0):] = 0


class _ShiftBuffers:
    """The stride-1 engine's buffers for one block: the flat padded rows and the output block.

    Images of a block lie one below the other, rows_in padded rows each; the taps' slices run
    across the image boundaries too, and those positions, like the padded columns, are discarded.
    """

    def __init__(self, g, dtype, out_channels, tail):
        self.g = g
        self.rows_in = g.block_rows + g.span_h - 1
        size = g.block_images * self.rows_in * g.Wp
        # ``tail`` extra zero cells at the end: the last row's discarded columns read them, and the
        # banded tiles' rounding up to whole tiles.
        self.flat = np.zeros((size + tail, g.C), dtype)
        self.slab = self.flat[:size].reshape(g.block_images, self.rows_in, g.Wp, g.C)
        self.z = np.zeros((size + tail, out_channels), dtype)
        self.gemm = blas.get_blas_funcs("gemm", dtype=dtype)
        self.offsets = [i * g.dh * g.Wp + j * g.dw for i in range(g.kh) for j in range(g.kw)]

    def fill(self, x, n0, n1, h0, h1):
        """Load the padded input rows under the block; returns R, the positions computed."""
        g = self.g
        _fill_padded(self.slab, x, g, n0, n1, h0 - g.pt, h1 - 1 - g.pt + g.span_h)
        return ((n1 - n0 - 1) * self.rows_in + (h1 - h0)) * g.Wp

    def taps(self, R):
        """Each tap's slice of the flat rows, transposed: a Fortran-ordered (C, R) view, no copy."""
        return [self.flat[off:off + R].T for off in self.offsets]

    def tiles(self, count, T, M):
        """The banded engine's input tiles: [i][m] is kernel row i's tiles t + m, t < count, as a
        Fortran-ordered (T * C, count) view of the flat rows, no copy."""
        g = self.g
        return [[self.flat[i * g.dh * g.Wp + m * T:][:count * T].reshape(count, T * g.C).T for m in range(M)]
                for i in range(g.kh)]

    def outputs(self, n0, n1, h0, h1):
        """The block's real output positions inside z: (images, rows, W_out, channels)."""
        z = self.z[:(n1 - n0) * self.rows_in * self.g.Wp]
        return z.reshape(n1 - n0, self.rows_in, self.g.Wp, -1)[:, :h1 - h0, :self.g.Wo]

    def put_dy(self, dy, n0, n1, h0, h1):
        """dy's block on the padded grid of z, zero at every other position, so that those add nothing:
        the rows past the block's, the image slots past its images and the tail (the columns past
        W_out are never written).  Without the image slots, a kernel one row high leaves no rows
        between images, and the bands' round-up to whole tiles read an earlier block's dy there."""
        g = self.g
        used = (n1 - n0) * self.rows_in * g.Wp
        self.outputs(n0, n1, h0, h1)[...] = dy[n0:n1, h0:h1]
        self.z[:used].reshape(n1 - n0, self.rows_in, g.Wp, g.F)[:, h1 - h0:] = 0
        self.z[used:] = 0


def _shift_plan(g, dtype, out_channels, block_bytes, tail=None):
    blocks = g.plan(g.Wp * (g.C + out_channels) * np.dtype(dtype).itemsize, block_bytes)
    return blocks, _ShiftBuffers(g, dtype, out_channels, g.span_w - 1 if tail is None else tail)


def _conv_shift(x, kernel, bias, pads, dilation):
    g = _Geometry(x.shape, kernel.shape, (1, 1), dilation, pads, 1)
    out = np.empty((g.N, g.Ho, g.Wo, g.F), dtype=x.dtype)
    blocks, buf = _shift_plan(g, x.dtype, g.F, _BLOCK_BYTES)
    kmats = [kernel[i, j].T for i in range(g.kh) for j in range(g.kw)]  # (F, C), Fortran-ordered
    if bias is not None:  # every block starts as the bias, a plain copy (cheaper than a rank-1 GEMM)
        bias_rows = np.broadcast_to(bias.astype(x.dtype), buf.z.shape).copy()
    for n0, n1, h0, h1 in blocks:
        R = buf.fill(x, n0, n1, h0, h1)
        zt = buf.z[:R].T  # (F, R): the C-ordered output block seen in Fortran order, as BLAS wants
        beta = 0.0
        if bias is not None:
            np.copyto(buf.z[:R], bias_rows[:R])
            beta = 1.0
        for kmat, tap in zip(kmats, buf.taps(R)):
            buf.gemm(1.0, kmat, tap, beta=beta, c=zt, overwrite_c=1)  # zt += kernel[i, j].T @ slice.T
            beta = 1.0
        out[n0:n1, h0:h1] = buf.outputs(n0, n1, h0, h1)
    return out


def _band_taps(g, T):
    """(M, [(m, u, v, j)]): the tiles an output tile needs, and which tap j joins input position u
    of tile t + m to output position v of tile t (m*T + u - v = j*dw); other pairs are zeros."""
    M = math.ceil((T + g.span_w - 1) / T)
    taps = []
    for m in range(M):
        for u in range(T):
            for v in range(T):
                j, rest = divmod(m * T + u - v, g.dw)
                if rest == 0 and 0 <= j < g.kw:
                    taps.append((m, u, v, j))
    return M, taps


def _band_kernels(kernel, g, T):
    """Kernel row i as banded matrices: mats[i][m] is (T*F, T*C), Fortran-ordered, for input tile t + m."""
    M, taps = _band_taps(g, T)
    band = np.zeros((g.kh, M, T, g.C, T, g.F), kernel.dtype)
    for m, u, v, j in taps:
        band[:, m, u, :, v, :] = kernel[:, j]
    return [[np.ascontiguousarray(band[i, m].reshape(T * g.C, T * g.F)).T for m in range(M)] for i in range(g.kh)]


def _conv_bands(x, kernel, bias, pads, dilation, T):
    """The stride-1 convolution on the padded grid in tiles of T positions (see the module docstring)."""
    g = _Geometry(x.shape, kernel.shape, (1, 1), dilation, pads, 1)
    out = np.empty((g.N, g.Ho, g.Wo, g.F), dtype=x.dtype)
    mats = _band_kernels(kernel, g, T)
    M = len(mats[0])
    blocks, buf = _shift_plan(g, x.dtype, g.F, _BLOCK_BYTES, tail=M * T)
    if bias is not None:  # as in _conv_shift (adding it on the way out, with NumPy, took half as long again)
        bias_rows = np.broadcast_to(bias.astype(x.dtype), buf.z.shape).copy()
    for n0, n1, h0, h1 in blocks:
        tiles = math.ceil(buf.fill(x, n0, n1, h0, h1) / T)
        zt = buf.z[:tiles * T].reshape(tiles, T * g.F).T  # (T*F, tiles): T output positions per column
        beta = 0.0
        if bias is not None:
            np.copyto(buf.z[:tiles * T], bias_rows[:tiles * T])
            beta = 1.0
        for mat_row, tile_row in zip(mats, buf.tiles(tiles, T, M)):
            for mat, tile_rows in zip(mat_row, tile_row):
                buf.gemm(1.0, mat, tile_rows, beta=beta, c=zt, overwrite_c=1)
                beta = 1.0
        out[n0:n1, h0:h1] = buf.outputs(n0, n1, h0, h1)
    return out


def _kernel_grad_bands(x, dy, kernel_shape, pads, dilation, T):
    """dL/dkernel by the banded tiles: the bands' gradients, then each tap's blocks summed out of them."""
    g = _Geometry(x.shape, kernel_shape, (1, 1), dilation, pads, 1)
    M, taps = _band_taps(g, T)
    blocks, buf = _shift_plan(g, x.dtype, g.F, _KERNEL_GRAD_BLOCK_BYTES, tail=M * T)
    acc = np.zeros((g.kh, M, T * g.C, T * g.F), x.dtype)  # each band's gradient
    for n0, n1, h0, h1 in blocks:
        tiles = math.ceil(buf.fill(x, n0, n1, h0, h1) / T)
        buf.put_dy(dy, n0, n1, h0, h1)
        dyt = buf.z[:tiles * T].reshape(tiles, T * g.F).T  # (T*F, tiles), Fortran-ordered
        for i, tile_row in enumerate(buf.tiles(tiles, T, M)):
            for m, tile_rows in enumerate(tile_row):
                # acc[i, m].T (T*F, T*C) += dy tiles.T @ input tiles; the input arrives transposed, hence trans_b.
                buf.gemm(1.0, dyt, tile_rows, beta=1.0, c=acc[i, m].T, trans_b=1, overwrite_c=1)
    acc = acc.reshape(g.kh, M, T, g.C, T, g.F)
    dkernel = np.zeros((g.kh, g.kw, g.C, g.F), x.dtype)
    for m, u, v, j in taps:
        dkernel[:, j] += acc[:, m, u, :, v]
    return dkernel


def _kernel_grad_shift(x, dy, kernel_shape, pads, dilation):
    g = _Geometry(x.shape, kernel_shape, (1, 1), dilation, pads, 1)
    blocks, buf = _shift_plan(g, x.dtype, g.F, _KERNEL_GRAD_BLOCK_BYTES)
    acc = np.zeros((g.kh * g.kw, g.C, g.F), x.dtype)
    for n0, n1, h0, h1 in blocks:
        R = buf.fill(x, n0, n1, h0, h1)
        buf.put_dy(dy, n0, n1, h0, h1)
        dyt = buf.z[:R].T  # (F, R), Fortran-ordered
        for t, tap in enumerate(buf.taps(R)):
            # acc[t].T (F, C) += dy.T (F, R) @ slice (R, C); the slice arrives transposed, hence trans_b.
            buf.gemm(1.0, dyt, tap, beta=1.0, c=acc[t].T, trans_b=1, overwrite_c=1)
    return acc.reshape(g.kh, g.kw, g.C, g.F)


class _Im2colBuffers:
    """The im2col engine's buffers for one block: the padded input rows and the column matrix."""

    def __init__(self, g, dtype, with_ones):
        self.g = g
        rows_in = (g.block_rows - 1) * g.sh + g.span_h
        self.slab = np.zeros((g.block_images, rows_in, g.Wp, g.C), dtype)
        self.cols = np.empty((g.block_images * g.block_rows * g.Wo, g.K + (1 if with_ones else 0)), dtype)
        if with_ones:
            self.cols[:, -1] = 1.0

    def columns(self, x, n0, n1, h0, h1, group):
        """Fill and return the (images * rows * W_out, K [+1]) column matrix of one block and group."""
        g = self.g
        if group == 0:
            _fill_padded(self.slab, x, g, n0, n1, h0 * g.sh - g.pt, (h1 - 1) * g.sh - g.pt + g.span_h)
        src = self.slab[:n1 - n0]
        rows = h1 - h0
        m = (n1 - n0) * rows * g.Wo
        dest = self.cols[:m, :g.K].reshape(n1 - n0, rows, g.Wo, g.kh, g.kw, g.Cg)
        s0, s1, s2, s3 = src.strides
        c0 = group * g.Cg
        for i in range(g.kh):  # one strided copy per kernel row: all images, taps and channels at once
            window = as_strided(src[:, i * g.dh, :, c0:], shape=(n1 - n0, rows, g.Wo, g.kw, g.Cg),
                                strides=(s0, g.sh * s1, g.sw * s2, g.dw * s2, s3), writeable=False)
            np.copyto(dest[:, :, :, i], window)
        return self.cols[:m]


def _column_blocks(g, bytes_per_row):
    """Blocks for a column matrix (im2col's, or col2im's shares): cache-sized, but at least
    ``_MIN_GEMM_ROWS`` product rows each."""
    return g.plan(bytes_per_row, max(_BLOCK_BYTES, math.ceil(_MIN_GEMM_ROWS / max(g.Wo, 1)) * bytes_per_row))


def _im2col_plan(g, dtype, with_ones):
    blocks = _column_blocks(g, g.Wo * (g.K + 1) * np.dtype(dtype).itemsize)
    return blocks, _Im2colBuffers(g, dtype, with_ones)


def _conv_im2col(x, kernel, bias, strides, pads, dilation, groups):
    g = _Geometry(x.shape, kernel.shape, strides, dilation, pads, groups)
    out = np.empty((g.N, g.Ho, g.Wo, g.F), dtype=x.dtype)
    with_ones = bias is not None
    mats = []
    for k in range(groups):
        mat = kernel[..., k * g.Fg:(k + 1) * g.Fg].reshape(g.K, g.Fg)
        if with_ones:
            mat = np.vstack([mat, bias[None, k * g.Fg:(k + 1) * g.Fg]])
        mats.append(np.ascontiguousarray(mat, dtype=x.dtype))
    blocks, buf = _im2col_plan(g, x.dtype, with_ones)
    tmp = np.empty((buf.cols.shape[0], g.Fg), x.dtype) if groups > 1 else None
    for n0, n1, h0, h1 in blocks:
        rows_out = out[n0:n1, h0:h1].reshape(-1, g.F)  # contiguous: whole images, or rows of one image
        for k in range(groups):
            cols = buf.columns(x, n0, n1, h0, h1, k)
            if groups == 1:
                gemm_into(cols, mats[0], rows_out)
            else:
                part = tmp[:cols.shape[0]]
                gemm_into(cols, mats[k], part)
                rows_out[:, k * g.Fg:(k + 1) * g.Fg] = part
    return out


def _kernel_grad_im2col(x, dy, kernel_shape, strides, pads, dilation, groups):
    g = _Geometry(x.shape, kernel_shape, strides, dilation, pads, groups)
    blocks, buf = _im2col_plan(g, x.dtype, False)
    acc = np.zeros((groups, g.K, g.Fg), x.dtype)
    gemm = blas.get_blas_funcs("gemm", dtype=x.dtype)
    for n0, n1, h0, h1 in blocks:
        dy_rows = dy[n0:n1, h0:h1].reshape(-1, g.F)
        for k in range(groups):
            cols = buf.columns(x, n0, n1, h0, h1, k)
            part = np.asfortranarray(dy_rows[:, k * g.Fg:(k + 1) * g.Fg].T)  # (Fg, m); a copy only when groups > 1
            # acc[k].T (Fg, K) += dy.T (Fg, m) @ cols (m, K); cols arrives as its transpose, hence trans_b.
            gemm(1.0, part, cols.T, beta=1.0, c=acc[k].T, trans_b=1, overwrite_c=1)
    dkernel = acc.reshape(groups, g.kh, g.kw, g.Cg, g.Fg).transpose(1, 2, 3, 0, 4)
    return dkernel.reshape(g.kh, g.kw, g.Cg, g.F)


def conv2d_nhwc(x, kernel, bias=None, strides=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """Cross-correlate x (N, H, W, C) with kernel (kh, kw, C // groups, F) after zero padding ``pads``
    ((top, bottom), (left, right)); adds ``bias`` (F,) if given.  Returns (N, H_out, W_out, F).

    The engine behind ``Conv2D`` (no validation: the layer checks its arguments).
    """
    x = np.ascontiguousarray(x)
    kernel = np.ascontiguousarray(kernel, dtype=x.dtype)
    if tuple(strides) != (1, 1) or groups != 1:
        return _conv_im2col(x, kernel, bias, strides, pads, dilation, groups)
    T = _band_width(x.shape[3], dilated_size(kernel.shape[1], dilation[1]))
    # The bands multiply some inputs by zero, and 0 * inf is NaN where the exact sum has none.
    if T and np.isfinite(x).all():
        return _conv_bands(x, kernel, bias, pads, dilation, T)
    return _conv_shift(x, kernel, bias, pads, dilation)


def conv2d_kernel_grad(x, dy, kernel_shape, strides=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """dL/dkernel (kh, kw, C // groups, F) of ``conv2d_nhwc`` for the upstream gradient dy (N, H_out, W_out, F)."""
    x = np.ascontiguousarray(x)
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    # The fast engines multiply inputs at discarded positions by a zero dy: with an inf there, NaN.
    if tuple(strides) == (1, 1) and groups == 1 and np.isfinite(x).all():
        T = _band_width(x.shape[3], dilated_size(kernel_shape[1], dilation[1]))
        if T and x.shape[3] <= _KERNEL_GRAD_BAND_CHANNELS:
            return _kernel_grad_bands(x, dy, kernel_shape, pads, dilation, T)
        # Faster than building the column matrix for every channel count measured (3 to 128, 3x3 to 7x7).
        return _kernel_grad_shift(x, dy, kernel_shape, pads, dilation)
    return _kernel_grad_im2col(x, dy, kernel_shape, strides, pads, dilation, groups)


def _input_grad_scatter(dy, kernel, x_shape, strides, pads, dilation):
    """dL/dx for one group and few input channels: each dy position's share of every tap, scattered.

    Works on the padded input grid flattened to positions p = row * Wp + col (as the shifted
    engine does): dy sits at the positions its windows start from, and tap (i, j) sends its share
    to p + i * dh * Wp + j * dw.  dx is accumulated channel-major, (C, positions), so every tap's
    addition is a contiguous run; one transpose at the end gives NHWC.
    """
    N, H, W, C = x_shape
    kh, kw, _, F = kernel.shape
    (pt, pb), (pl, pr) = pads
    Hp, Wp = H + pt + pb, W + pl + pr
    Ho, Wo = dy.shape[1:3]
    taps = kh * kw
    offsets = [i * dilation[0] * Wp + j * dilation[1] for i in range(kh) for j in range(kw)]
    P = N * Hp * Wp
    grid = np.zeros((N, Hp, Wp, F), dy.dtype)
    grid[:, :(Ho - 1) * strides[0] + 1:strides[0], :(Wo - 1) * strides[1] + 1:strides[1]] = dy
    grid = grid.reshape(P, F)
    shares = kernel.reshape(taps * C, F)  # row t * C + c: tap t's weights from input channel c
    dxt = np.zeros((C, P + offsets[-1]), dy.dtype)
    chunk = max(1, _BLOCK_BYTES // (taps * C * dy.itemsize))
    z = np.empty(taps * C * min(chunk, P), dy.dtype)
    for p0 in range(0, P, chunk):
        p1 = min(P, p0 + chunk)
        zt = z[:taps * C * (p1 - p0)].reshape(taps * C, p1 - p0)
        gemm_into(shares, grid[p0:p1].T, zt)
        for t, off in enumerate(offsets):
            dxt[:, p0 + off:p1 + off] += zt[t * C:(t + 1) * C]
    dx = dxt[:, :P].reshape(C, N, Hp, Wp)[:, :, pt:pt + H, pl:pl + W]
    return np.ascontiguousarray(dx.transpose(1, 2, 3, 0))


def _input_grad_col2im(dy, kernel, x_shape, strides, pads, dilation):
    """dL/dx for one group and strides > 1: col2im, im2col's adjoint.

    A block of dy rows times the kernel matrix transposed, (m, F) @ (F, kh * kw * C), gives every
    output pixel's share of dx for all its taps at once, laid out as im2col's columns; each tap's
    shares are then added into the padded dx with one strided addition, where im2col copied them
    from.  Only the real windows are multiplied (the transposed convolution's spread-out dy has
    sh * sw times as many positions; figures in the module docstring).
    """
    g = _Geometry(x_shape, kernel.shape, strides, dilation, pads, 1)
    dxp = np.zeros((g.N, g.H + g.pt + g.pb, g.Wp, g.C), dy.dtype)
    kmat = kernel.reshape(g.K, g.F)
    blocks = _column_blocks(g, g.Wo * g.K * dy.itemsize)
    cols = np.empty(g.block_images * g.block_rows * g.Wo * g.K, dy.dtype)
    for n0, n1, h0, h1 in blocks:
        m = (n1 - n0) * (h1 - h0) * g.Wo
        shares = cols[:m * g.K].reshape(m, g.K)
        gemm_into(dy[n0:n1, h0:h1].reshape(m, g.F), kmat.T, shares)
        shares = shares.reshape(n1 - n0, h1 - h0, g.Wo, g.kh, g.kw, g.C)
        for i in range(g.kh):
            top = h0 * g.sh + i * g.dh
            rows = slice(top, top + (h1 - h0 - 1) * g.sh + 1, g.sh)
            for j in range(g.kw):
                left = j * g.dw
                dxp[n0:n1, rows, left:left + (g.Wo - 1) * g.sw + 1:g.sw] += shares[:, :, :, i, j]
    return np.ascontiguousarray(dxp[:, g.pt:g.pt + g.H, g.pl:g.pl + g.W])


def _input_grad_transposed(dy, kernel, x_shape, strides, pads, dilation, groups):
    """dL/dx as the transposed convolution: dy spread out by the strides, padded, and correlated
    (stride 1) with the kernel flipped in space, its two channel axes swapped per group."""
    N, H, W, C = x_shape
    kh, kw, Cg, F = kernel.shape
    sh, sw = strides
    (pt, pb), (pl, pr) = pads
    span_h, span_w = dilated_size(kh, dilation[0]), dilated_size(kw, dilation[1])
    Ho, Wo = dy.shape[1:3]
    if (sh, sw) != (1, 1):  # spread dy out: output pixel o sat over input row o * stride
        spread = np.zeros((N, (Ho - 1) * sh + 1, (Wo - 1) * sw + 1, F), dy.dtype)
        spread[:, ::sh, ::sw] = dy
        dy = spread
    # Input rows after the last window (valid padding, a remainder) get no gradient: extra zeros after.
    rest_h = H + pt + pb - span_h - (Ho - 1) * sh
    rest_w = W + pl + pr - span_w - (Wo - 1) * sw
    full_pads = ((span_h - 1 - pt, span_h - 1 - pb + rest_h), (span_w - 1 - pl, span_w - 1 - pr + rest_w))
    # Flip in space; per group, swap the in/out channel axes: (kh, kw, F // groups, C).
    flipped = kernel[::-1, ::-1].reshape(kh, kw, Cg, groups, F // groups).transpose(0, 1, 4, 3, 2)
    flipped = flipped.reshape(kh, kw, F // groups, groups * Cg)
    return conv2d_nhwc(dy, flipped, None, (1, 1), full_pads, dilation, groups)


def conv2d_input_grad(dy, kernel, x_shape, strides=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """dL/dx (N, H, W, C) of ``conv2d_nhwc``: the transposed convolution of dy with ``kernel``."""
    N, H, W, C = x_shape
    dy = np.ascontiguousarray(dy)
    kernel = np.ascontiguousarray(kernel, dtype=dy.dtype)
    if groups == 1 and dy.size and N:
        if tuple(strides) != (1, 1):  # few channels included (1x224x224x3, 32 filters: 5.8 ms, 6.7 by scattering)
            return _input_grad_col2im(dy, kernel, x_shape, strides, pads, dilation)
        if C <= _FEW_CHANNELS:
            return _input_grad_scatter(dy, kernel, x_shape, strides, pads, dilation)
    return _input_grad_transposed(dy, kernel, x_shape, strides, pads, dilation, groups)
