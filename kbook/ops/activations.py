"""The fast kernels behind :mod:`kbook.activations`: in place, block by block, on every core.

``kbook.activations`` holds the formulas, as ``keras.activations`` does.  Where a one-line NumPy
formula is too slow, it runs a kernel from here instead: ``in_parallel(sigmoid_into, x)``, or
``along_axis(softmax_into, x, axis)`` for the kernels that reduce along an axis.  A kernel
``f_into(x, [dy,] out)`` writes f into ``out``.  kbook aims to be within 1.5x of tf.keras on a
1M-element array; why the kernels look as they do:

* Piecewise formulas avoid ``np.where``: on a mask that flips at random it runs
  at branch-misprediction speed, ten times slower than an add.  Instead they use
  exact identities built from ``np.clip``, whose two-bound loop is vectorised
  (``np.maximum(x, 0)`` is 3-4x slower than ``np.clip(x, 0, inf)`` in NumPy 2.4):
  relu(x) = clip(x, 0, inf), and two branches that are 0 where the other applies
  add up exactly (elu = expm1(min(x, 0)) + max(x, 0)).  ``_pick`` selects with
  arithmetic when no such identity exists.  These helpers (``_c``, ``_pos``, ``_neg``,
  ``_pick``) serve the formulas in kbook.activations too.
* The transcendental ones use ufuncs NumPy vectorises (exp, expm1, log1p, tanh)
  rather than scipy.special and ``np.logaddexp``, whose loops are scalar; float32
  gelu evaluates erfc with Numerical Recipes' fit, good to float32 precision.
* TensorFlow runs every kernel on all cores; ``in_parallel`` (via kbook.parallel) gives the costly
  kernels (sigmoid, softplus, gelu, ...) the same chance, block by block so that
  their temporaries stay in cache.  They compute in place (``out=``), which
  reads less well than a one-line formula, so each says its formula first.
"""
import numpy as np
from scipy import special  # erfc: exact for float64 gelu, which NumPy lacks

from kbook import parallel

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123  # TF's own literal for the product
# tf.nn.gelu makes two of its constants (this one, and kbook.activations.GELU_COEFF for the tanh
# form) with math_ops.cast(python_float, dtype), which goes through float32 first; float64 inputs
# see the float32-rounded value.
GELU_INV_SQRT_2 = float(np.float32(0.7071067811865476))


def _c(x, value):
    """A Python number as a scalar of x's dtype, so float32 math stays float32."""
    return np.asarray(value, dtype=x.dtype)


def _pos(x):
    """max(x, 0), through np.clip's vectorised loop."""
    return np.clip(x, 0, np.inf)


def _neg(x):
    """min(x, 0), through np.clip's vectorised loop."""
    return np.clip(x, -np.inf, 0)


def _pick(mask, if_true, if_false, dtype):
    """np.where(mask, if_true, if_false) for finite operands, without branches.

    With m = 1.0 where mask holds and 0.0 elsewhere, if_true*m + if_false*(1-m)
    is exact: one of the two terms is 0.  (A non-finite operand would give
    inf*0 = nan, so callers clip them away first.)
    """
    m = np.asarray(mask, dtype=dtype)
    out = if_true * m
    np.subtract(1, m, out=m)
    m *= if_false
    out += m
    return out


# --- running a kernel block by block, on every core ------------------------------

# Kernels run on blocks of at most this many elements, so that their temporaries
# (1 MB each in float32) stay in cache and the allocator recycles them; whole-array
# ones can come back as fresh pages from the OS on every call (gelu on 1M
# elements: 2.6 ms in blocks, up to 17 ms in one piece).
BLOCK_SIZE = 1 << 18
# Below this many elements, handing work to a thread costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 17


def in_parallel(kernel, *arrays, row_size=None):
    """Return out, filled by kernel(*arrays, out) in blocks, spread over the cores.

    TF splits every big elementwise op across the cores, NumPy runs it on one; but
    NumPy and SciPy ufuncs release the GIL, so threads working on disjoint blocks
    do run at the same time.  The arrays (all of one shape) are cut into blocks:
    anywhere for an elementwise kernel, between rows of ``row_size`` elements for
    one that reduces along the last axis (softmax).  Each thread takes the next
    block when it is free, so a core that another program is busy with does less.
    ``kernel`` writes its result into its last argument; it may run in a worker
    thread, so it sets its own ``np.errstate``.
    """
    shape = (-1,) if row_size is None else (-1, row_size)
    ins = [np.ascontiguousarray(a).reshape(shape) for a in arrays]
    out = np.empty(ins[0].shape, np.result_type(ins[0], np.float16))  # ints give floats
    rows = len(out)
    cores = min(parallel.cores(), rows) if out.size >= PARALLEL_MIN_SIZE else 1
    n_blocks = max(cores, -(-out.size // BLOCK_SIZE))  # ceiling division
    n_blocks = max(1, min(rows, n_blocks))  # blocks hold whole rows
    cuts = [rows * i // n_blocks for i in range(n_blocks + 1)]
    blocks = [[a[lo:hi] for a in ins + [out]] for lo, hi in zip(cuts, cuts[1:])]
    parallel.run(lambda block: kernel(*block), blocks, threads=cores)
    return out.reshape(np.shape(arrays[0]))


# --- the relu family --------------------------------------------------------------

def leaky_relu_into(x, out, slope):
    # TF: x if x > 0 else alpha * x.  For alpha <= 1 the larger of x and alpha * x is
    # exactly that, for alpha > 1 the smaller.
    np.multiply(x, slope, out=out)
    (np.maximum if slope <= 1 else np.minimum)(x, out, out=out)


def elu_into(x, out, alpha=1.0):
    # expm1(min(x, 0)) is 0 where x > 0 and max(x, 0) is 0 elsewhere: the sum is exact.
    np.expm1(np.clip(x, -np.inf, 0, out=out), out=out)
    if alpha != 1:
        out *= _c(x, alpha)
    out += _pos(x)


def selu_into(x, out):
    # scale*alpha * expm1(min(x, 0)) + scale * max(x, 0), exact as for elu.  TF's
    # kernel says exp(x) - 1: the difference is below float rounding, see selu_grad_into.
    np.expm1(np.clip(x, -np.inf, 0, out=out), out=out)
    out *= _c(x, SELU_SCALE_ALPHA)
    positive = _pos(x)
    positive *= _c(x, SELU_SCALE)
    out += positive


def selu_grad_into(x, dy, out):
    # TF's SeluGrad: dy * (y + scale*alpha) where y < 0, else dy * scale.  Here y is
    # TF's own scale*alpha * (exp(x) - 1), not selu's expm1: for a tiny negative x,
    # exp(x) rounds to 1 and y to 0, so TF's slope there is scale, not scale*alpha.
    # (fmin ignores nan: like TF, a nan input gets the slope scale.)
    y = np.exp(np.fmin(x, _c(x, 0)))
    y -= 1
    y *= _c(x, SELU_SCALE_ALPHA)  # 0 for x >= 0
    slope = _pick(y < 0, y + _c(x, SELU_SCALE_ALPHA), _c(x, SELU_SCALE), x.dtype)
    np.multiply(dy, slope, out=out)


# --- sigmoid-like ---------------------------------------------------------------

def sigmoid_into(x, out):
    # 1 / (1 + exp(-x)) is accurate in both tails. For x < -88.7 (float32) exp(-x)
    # overflows to inf and 1 / inf gives 0, though the exact value is a subnormal
    # number down to x = -104; TensorFlow returns 0 there too (its CPU kernels flush
    # subnormal results to zero from x = -87.3 on): both are within 1.2e-38 of it.
    with np.errstate(over="ignore"):
        np.exp(np.negative(x, out=out), out=out)
    out += 1
    np.divide(1, out, out=out)


def silu_into(x, out):
    # TF multiplies x by sigmoid(x); dividing by 1 + exp(-x) saves a pass and
    # differs only in the last bit.
    with np.errstate(over="ignore"):
        np.exp(np.negative(x, out=out), out=out)
    out += 1
    np.divide(x, out, out=out)


def log_sigmoid_into(x, out):
    # -softplus(-x) = min(x, 0) - log1p(exp(-|x|))
    np.negative(np.abs(x, out=out), out=out)
    np.log1p(np.exp(out, out=out), out=out)
    np.subtract(_neg(x), out, out=out)


def softsign_into(x, out):
    np.abs(x, out=out)
    out += 1
    np.divide(x, out, out=out)


# --- smooth relu-likes ------------------------------------------------------------

def softplus_into(x, out):
    # max(x, 0) + log1p(exp(-|x|)): np.logaddexp(0, x)'s own formula, exact in both
    # tails, without its scalar loop.
    np.negative(np.abs(x, out=out), out=out)
    np.log1p(np.exp(out, out=out), out=out)
    out += _pos(x)


# Numerical Recipes' erfc(z) = t * exp(-z*z + P(t)) with t = 1 / (1 + z/2), z >= 0:
# relative error below 1.2e-7 everywhere, as good as float32 gets, and built from
# vectorised ufuncs (scipy's float32 erfc is five times slower than all of TF's gelu).
_ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _gelu_tail(a):
    """Phi(-a) = erfc(a * c) / 2 for a = |x| >= 0, with TF's float32-rounded c = 1/sqrt(2).

    The lower tail of the normal cdf is small, so only its relative accuracy matters.
    """
    z = a * _c(a, GELU_INV_SQRT_2)
    if a.dtype != np.float32:
        z = special.erfc(z, out=z)
        z *= _c(a, 0.5)
        return z
    t = z * _c(a, 0.5)
    t += 1
    np.divide(1, t, out=t)
    p = t * _c(a, _ERFC_COEFFS[-1])
    for coeff in _ERFC_COEFFS[-2:0:-1]:
        p += _c(a, coeff)
        p *= t
    p += _c(a, _ERFC_COEFFS[0])
    p -= np.square(z, out=z)
    np.exp(p, out=p)
    p *= t
    p *= _c(a, 0.5)
    return p


def gelu_into(x, out):
    # x * Phi(x) = max(x, 0) - |x| * Phi(-|x|): TF's 0.5 * x * erfc(-x * c) with the
    # symmetry erfc(-z) = 2 - erfc(z).  Capping x keeps gelu(inf) = inf rather than
    # inf - inf * 0 = nan; at -inf TF gets nan, and so does this.
    a = np.abs(np.clip(x, -np.inf, 1e4))
    q = _gelu_tail(a)
    q *= a
    np.subtract(_pos(x), q, out=out)


def gelu_grad_into(x, dy, out):
    # Phi(x) + x * phi(x), phi being d/dx of 0.5 * erfc(-c x) with TF's rounded c
    # (in float64 not exactly the normal pdf).
    a = np.abs(np.clip(x, -np.inf, 1e4))
    q = _gelu_tail(a)
    cdf = _pick(x > 0, 1 - q, q, x.dtype)
    c = _c(x, GELU_INV_SQRT_2)
    pdf = np.square(c * a)  # the square is even, and a is capped above
    np.negative(pdf, out=pdf)
    np.exp(pdf, out=pdf)
    pdf *= c / _c(x, np.sqrt(np.pi))
    pdf *= x
    pdf += cdf
    np.multiply(dy, pdf, out=out)


def mish_into(x, out):
    softplus_into(x, out)
    np.tanh(out, out=out)
    out *= x


def mish_grad_into(x, dy, out):
    softplus_into(x, out)
    t = np.tanh(out, out=out)
    s = np.empty_like(x)
    sigmoid_into(x, s)
    # t + x * (1 - t*t) * sigmoid(x)
    s *= x
    s *= 1 - t * t
    s += t
    np.multiply(dy, s, out=out)


# --- along an axis: softmax, log_softmax ------------------------------------------

def softmax_into(x, out):
    # Shifting a row leaves its softmax unchanged; shifted by its max, exp cannot overflow.
    np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)


def log_softmax_into(x, out):
    shifted = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def along_axis(kernel, x, axis):
    """kernel(rows, out) on x's rows along axis; on all cores when that axis is the last."""
    if axis is None:  # Keras: softmax over every element at once
        return in_parallel(kernel, x.reshape(1, -1), row_size=x.size).reshape(x.shape)
    if axis in (-1, x.ndim - 1):
        return in_parallel(kernel, x, row_size=x.shape[-1])
    rows = np.moveaxis(x, axis, -1)
    out = np.empty(rows.shape, np.result_type(rows, np.float16))
    kernel(rows, out)
    return np.moveaxis(out, -1, axis)
