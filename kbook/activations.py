"""Every activation that ``keras.activations.get`` accepts, with its gradient.

Each activation ``f(x, ...)`` has a partner ``f_grad(x, dy, ...)`` that returns
dL/dx given dL/dy (a vector-Jacobian product, so softmax and friends fit the same
mould).  The formulas copy Keras 3 on the TensorFlow backend, including its
choices at the kinks (relu'(0) = 0, hard_tanh'(+-1) = 1, celu'(0) = 2, ...): the
gradient is what ``tf.GradientTape`` returns for the ops Keras composes.

Arrays keep their dtype: float32 in, float32 out.

Speed (kbook aims to be within 1.5x of tf.keras on a 1M-element array):

* Piecewise formulas avoid ``np.where``: on a mask that flips at random it runs
  at branch-misprediction speed, ten times slower than an add.  Instead they use
  exact identities built from ``np.clip``, whose two-bound loop is vectorised
  (``np.maximum(x, 0)`` is 3-4x slower than ``np.clip(x, 0, inf)`` in NumPy 2.4):
  relu(x) = clip(x, 0, inf), and two branches that are 0 where the other applies
  add up exactly (elu = expm1(min(x, 0)) + max(x, 0)).  ``_pick`` selects with
  arithmetic when no such identity exists.
* The transcendental ones use ufuncs NumPy vectorises (exp, expm1, log1p, tanh)
  rather than scipy.special and ``np.logaddexp``, whose loops are scalar; float32
  gelu evaluates erfc with Numerical Recipes' fit, good to float32 precision.
* TensorFlow runs every kernel on all cores; ``_in_parallel`` (via kbook.parallel) gives the costly
  kernels (sigmoid, softplus, gelu, ...) the same chance, block by block so that
  their temporaries stay in cache.  They compute in place (``out=``), which
  reads less well than a one-line formula, so each says its formula first.
"""
import functools
import warnings

import numpy as np
from scipy import special  # erfc: exact for float64 gelu, which NumPy lacks

from kbook import parallel

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123  # TF's own literal for the product
# tf.nn.gelu makes two of its constants with math_ops.cast(python_float, dtype),
# which goes through float32 first; float64 inputs see the float32-rounded value.
GELU_INV_SQRT_2 = float(np.float32(0.7071067811865476))
GELU_COEFF = float(np.float32(0.044715))
SQRT_2_OVER_PI = 0.7978845608028654


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


def _nan_as_else(y, x, value):
    """y, but value where x is nan.

    TF's where(x > t, ..., value) sends a nan to its else branch; the arithmetic
    that replaces it here keeps the nan.  Checking first costs one cheap reduction
    (min propagates nan) instead of a mask on every call.
    """
    if np.isnan(np.min(x, initial=0)):
        return np.where(np.isnan(x), value, y)
    return y


# --- running a kernel block by block, on every core ------------------------------

# Kernels run on blocks of at most this many elements, so that their temporaries
# (1 MB each in float32) stay in cache and the allocator recycles them; whole-array
# ones can come back as fresh pages from the OS on every call (gelu on 1M
# elements: 2.6 ms in blocks, up to 17 ms in one piece).
BLOCK_SIZE = 1 << 18
# Below this many elements, handing work to a thread costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 17


def _in_parallel(kernel, *arrays, row_size=None):
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


# --- identity and the relu family ---------------------------------------------

def linear(x):
    return x


def linear_grad(x, dy):
    return dy


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    # Mirrors keras.activations.ReLU.static_call step by step.
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return leaky_relu(x, negative_slope)
        negative_part = _pos(-x + _c(x, threshold))
    y = _relu_positive_part(x, max_value, threshold)
    if negative_slope != 0.0:
        y = y - _c(x, negative_slope) * negative_part
    return y


def _relu_positive_part(x, max_value, threshold):
    if threshold != 0:
        y = x * (x > _c(x, threshold))  # Keras's own formula: x * cast(x > threshold)
    elif max_value == 6:
        return relu6(x)
    else:
        y = _pos(x)
    if max_value is not None:
        y = np.clip(y, _c(x, 0), _c(x, max_value))
    return y


def relu_grad(x, dy, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return leaky_relu_grad(x, dy, negative_slope)
    if threshold != 0:
        mask = x > _c(x, threshold)
    elif max_value == 6:
        return dy * _relu6_mask(x) + _relu_negative_grad(x, dy, negative_slope, threshold)
    else:
        mask = x > 0
    if max_value is not None:
        # tf.clip_by_value passes the gradient on the closed interval [0, max];
        # where mask holds, the clipped value is x itself.
        mask = mask & (x >= 0) & (x <= _c(x, max_value))
    return dy * mask + _relu_negative_grad(x, dy, negative_slope, threshold)


def _relu_negative_grad(x, dy, negative_slope, threshold):
    if negative_slope == 0.0:
        return _c(x, 0)
    return dy * (x < _c(x, threshold)) * _c(x, negative_slope)


def _leaky_slope(x, negative_slope):
    # TF's LeakyRelu op stores alpha as a float32 attribute, even for float64 inputs.
    return _c(x, np.float32(negative_slope))


def _leaky_relu_into(x, out, slope):
    # TF: x if x > 0 else alpha * x.  For alpha <= 1 the larger of x and alpha * x is
    # exactly that, for alpha > 1 the smaller.
    np.multiply(x, slope, out=out)
    (np.maximum if slope <= 1 else np.minimum)(x, out, out=out)


def leaky_relu(x, negative_slope=0.2):
    """x where x > 0, else negative_slope * x (see _leaky_relu_into)."""
    slope = _leaky_slope(x, negative_slope)
    if slope == 0:
        return _pos(x)  # 0 * inf would be nan
    return _in_parallel(functools.partial(_leaky_relu_into, slope=slope), x)


def leaky_relu_grad(x, dy, negative_slope=0.2):
    return dy * _pick(x > 0, 1, _leaky_slope(x, negative_slope), x.dtype)


def relu6(x):
    return np.clip(x, _c(x, 0), _c(x, 6))


def _relu6_mask(x):
    return (x > 0) & (x < 6)


def relu6_grad(x, dy):
    return dy * _relu6_mask(x)


def _elu_into(x, out, alpha=1.0):
    # expm1(min(x, 0)) is 0 where x > 0 and max(x, 0) is 0 elsewhere: the sum is exact.
    np.expm1(np.clip(x, -np.inf, 0, out=out), out=out)
    if alpha != 1:
        out *= _c(x, alpha)
    out += _pos(x)


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1) (see _elu_into)."""
    return _in_parallel(functools.partial(_elu_into, alpha=alpha), x)


def elu_grad(x, dy, alpha=1.0):
    # TF's EluGrad works from the output: dy * (y + 1) where y < 0, else dy.  With
    # y = expm1(min(x, 0)) that is dy * (y + 1) everywhere, since y = 0 for x >= 0.
    # fmin, which ignores nan: y = nan fails TF's y < 0 test, so the slope is 1.
    g = np.expm1(np.fmin(x, _c(x, 0)))
    g += 1
    g *= dy
    if alpha != 1:
        g *= _pick(x > 0, 1, _c(x, alpha), x.dtype)
    return g


def _selu_into(x, out):
    # scale*alpha * expm1(min(x, 0)) + scale * max(x, 0), exact as for elu.  TF's
    # kernel says exp(x) - 1: the difference is below float rounding, see selu_grad.
    np.expm1(np.clip(x, -np.inf, 0, out=out), out=out)
    out *= _c(x, SELU_SCALE_ALPHA)
    positive = _pos(x)
    positive *= _c(x, SELU_SCALE)
    out += positive


def selu(x):
    """scale * x where x > 0, else scale * alpha * (exp(x) - 1) (see _selu_into)."""
    return _in_parallel(_selu_into, x)


def _selu_grad_into(x, dy, out):
    # TF's SeluGrad: dy * (y + scale*alpha) where y < 0, else dy * scale.  Here y is
    # TF's own scale*alpha * (exp(x) - 1), not selu's expm1: for a tiny negative x,
    # exp(x) rounds to 1 and y to 0, so TF's slope there is scale, not scale*alpha.
    # (fmin ignores nan: like TF, a nan input gets the slope scale.)
    y = np.exp(np.fmin(x, _c(x, 0)))
    y -= 1
    y *= _c(x, SELU_SCALE_ALPHA)  # 0 for x >= 0
    slope = _pick(y < 0, y + _c(x, SELU_SCALE_ALPHA), _c(x, SELU_SCALE), x.dtype)
    np.multiply(dy, slope, out=out)


def selu_grad(x, dy):
    """See _selu_grad_into."""
    return _in_parallel(_selu_grad_into, x, dy)


def celu(x, alpha=1.0):
    a = _c(x, alpha)
    return _pos(x) + a * np.expm1(_neg(x) / a)


def celu_grad(x, dy, alpha=1.0):
    # max and min both pass the gradient at a tie, so celu'(0) = 2 in TF; at a nan
    # neither does (fmin keeps exp finite there so that the mask can zero it).
    a = _c(x, alpha)
    return dy * (x >= 0) + dy * (x <= 0) * np.exp(np.fmin(x, _c(x, 0)) / a)


def threshold(x, threshold, default_value):
    t, d = _c(x, threshold), _c(x, default_value)
    if not (np.isfinite(t) and np.isfinite(d)):
        return np.where(x > t, x, d)
    if d == t:
        y = np.clip(x, t, np.inf)  # x where x > t, else t
    else:
        # clip keeps the unpicked operand finite (x = -inf would give -inf * 0 = nan).
        y = _pick(x > t, np.clip(x, t, np.inf), d, x.dtype)
    return _nan_as_else(y, x, d)


def threshold_grad(x, dy, threshold, default_value):
    return dy * (x > _c(x, threshold))


# --- sigmoid-like ---------------------------------------------------------------

def _sigmoid_into(x, out):
    # 1 / (1 + exp(-x)) is accurate in both tails. For x < -88.7 (float32) exp(-x)
    # overflows to inf and 1 / inf gives 0, though the exact value is a subnormal
    # number down to x = -104; TensorFlow returns 0 there too (its CPU kernels flush
    # subnormal results to zero from x = -87.3 on): both are within 1.2e-38 of it.
    with np.errstate(over="ignore"):
        np.exp(np.negative(x, out=out), out=out)
    out += 1
    np.divide(1, out, out=out)


def _silu_into(x, out):
    # TF multiplies x by sigmoid(x); dividing by 1 + exp(-x) saves a pass and
    # differs only in the last bit.
    with np.errstate(over="ignore"):
        np.exp(np.negative(x, out=out), out=out)
    out += 1
    np.divide(x, out, out=out)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed in place by _sigmoid_into, on every core."""
    return _in_parallel(_sigmoid_into, x)


def sigmoid_grad(x, dy):
    y = sigmoid(x)
    return dy * y * (1 - y)


def hard_sigmoid(x):
    return relu6(x + _c(x, 3)) / _c(x, 6)


def hard_sigmoid_grad(x, dy):
    return dy * _relu6_mask(x + _c(x, 3)) / _c(x, 6)


def sparse_sigmoid(x):
    # Keras: 0 for x <= -1, 1 for x >= 1, 0.5 * (x + 1) between; the clip is exact.
    return np.clip(_c(x, 0.5) * (x + 1), _c(x, 0), _c(x, 1))


def sparse_sigmoid_grad(x, dy):
    # Not (x > -1) & (x < 1): TF's where passes a nan to the middle branch.
    return dy * ~((x <= -1) | (x >= 1)) * _c(x, 0.5)


def _log_sigmoid_into(x, out):
    # -softplus(-x) = min(x, 0) - log1p(exp(-|x|))
    np.negative(np.abs(x, out=out), out=out)
    np.log1p(np.exp(out, out=out), out=out)
    np.subtract(_neg(x), out, out=out)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) (see _log_sigmoid_into)."""
    return _in_parallel(_log_sigmoid_into, x)


def log_sigmoid_grad(x, dy):
    return dy * sigmoid(-x)


def tanh(x):
    return np.tanh(x)


def tanh_grad(x, dy):
    y = np.tanh(x)
    return dy * (1 - y * y)


def hard_tanh(x):
    return np.clip(x, _c(x, -1), _c(x, 1))


def hard_tanh_grad(x, dy):
    return dy * ((x >= -1) & (x <= 1))


def _softsign_into(x, out):
    np.abs(x, out=out)
    out += 1
    np.divide(x, out, out=out)


def softsign(x):
    """x / (1 + |x|) (see _softsign_into)."""
    return _in_parallel(_softsign_into, x)


def softsign_grad(x, dy):
    d = 1 + np.abs(x)
    return dy / (d * d)


# --- smooth relu-likes ------------------------------------------------------------

def _softplus_into(x, out):
    # max(x, 0) + log1p(exp(-|x|)): np.logaddexp(0, x)'s own formula, exact in both
    # tails, without its scalar loop.
    np.negative(np.abs(x, out=out), out=out)
    np.log1p(np.exp(out, out=out), out=out)
    out += _pos(x)


def softplus(x):
    """log(1 + exp(x)) (see _softplus_into)."""
    return _in_parallel(_softplus_into, x)


def softplus_grad(x, dy):
    return dy * sigmoid(x)


def squareplus(x, b=4):
    return (x + np.sqrt(x * x + _c(x, b))) / 2


def squareplus_grad(x, dy, b=4):
    return dy * (1 + x / np.sqrt(x * x + _c(x, b))) / 2


def sparse_plus(x):
    # Keras: 0 for x <= -1, (x + 1)**2 / 4 for x < 1, x from there on.  Clipping x
    # to [-1, 1] makes the middle formula give 0 below -1 and keeps it finite.
    middle = _c(x, 0.25) * np.square(np.clip(x, _c(x, -1), _c(x, 1)) + 1)
    return _pick(x < 1, middle, np.clip(x, _c(x, 1), np.inf), x.dtype)


def sparse_plus_grad(x, dy):
    # 0.5 * (x + 1) on (-1, 1); the clip to [-1, 1] gives 0 below and 1 above exactly.
    return dy * (_c(x, 0.5) * (np.clip(x, _c(x, -1), _c(x, 1)) + 1))


def silu(x):
    """x * sigmoid(x), computed as x / (1 + exp(-x)) by _silu_into."""
    return _in_parallel(_silu_into, x)


def silu_grad(x, dy):
    s = sigmoid(x)
    return dy * s * (1 + x * (1 - s))


def hard_silu(x):
    return x * hard_sigmoid(x)


def hard_silu_grad(x, dy):
    return dy * hard_sigmoid(x) + x * hard_sigmoid_grad(x, dy)


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


def _gelu_into(x, out):
    # x * Phi(x) = max(x, 0) - |x| * Phi(-|x|): TF's 0.5 * x * erfc(-x * c) with the
    # symmetry erfc(-z) = 2 - erfc(z).  Capping x keeps gelu(inf) = inf rather than
    # inf - inf * 0 = nan; at -inf TF gets nan, and so does this.
    a = np.abs(np.clip(x, -np.inf, 1e4))
    q = _gelu_tail(a)
    q *= a
    np.subtract(_pos(x), q, out=out)


def _gelu_grad_into(x, dy, out):
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


def gelu(x, approximate=False):
    """x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2)) (see _gelu_into), or TF's tanh form."""
    if approximate:
        # x * x * x: NumPy's x ** 3 takes a slow general pow loop.
        inner = _c(x, SQRT_2_OVER_PI) * (x + _c(x, GELU_COEFF) * (x * x * x))
        return _c(x, 0.5) * x * (1 + np.tanh(inner))
    return _in_parallel(_gelu_into, x)


def gelu_grad(x, dy, approximate=False):
    if approximate:
        inner = _c(x, SQRT_2_OVER_PI) * (x + _c(x, GELU_COEFF) * (x * x * x))
        t = np.tanh(inner)
        d_inner = _c(x, SQRT_2_OVER_PI) * (1 + _c(x, 3 * GELU_COEFF) * x * x)
        return dy * (_c(x, 0.5) * (1 + t) + _c(x, 0.5) * x * (1 - t * t) * d_inner)
    return _in_parallel(_gelu_grad_into, x, dy)


def _mish_into(x, out):
    _softplus_into(x, out)
    np.tanh(out, out=out)
    out *= x


def mish(x):
    """x * tanh(softplus(x)) (see _mish_into)."""
    return _in_parallel(_mish_into, x)


def _mish_grad_into(x, dy, out):
    _softplus_into(x, out)
    t = np.tanh(out, out=out)
    s = np.empty_like(x)
    _sigmoid_into(x, s)
    # t + x * (1 - t*t) * sigmoid(x)
    s *= x
    s *= 1 - t * t
    s += t
    np.multiply(dy, s, out=out)


def mish_grad(x, dy):
    """See _mish_grad_into."""
    return _in_parallel(_mish_grad_into, x, dy)


def exponential(x):
    """exp(x), on every core."""
    return _in_parallel(np.exp, x)


def exponential_grad(x, dy):
    return dy * np.exp(x)


# --- shrinkage ----------------------------------------------------------------

def soft_shrink(x, threshold=0.5):
    # x - t above t, x + t below -t, 0 between: x minus x clipped to [-t, t], exactly.
    t = _c(x, threshold)
    return _nan_as_else(x - np.clip(x, -t, t), x, 0)


def soft_shrink_grad(x, dy, threshold=0.5):
    return dy * ((x > threshold) | (x < -threshold))


def hard_shrink(x, threshold=0.5):
    y = (np.abs(x) > _c(x, threshold)).astype(x.dtype)
    y *= x
    return _nan_as_else(y, x, 0)


def hard_shrink_grad(x, dy, threshold=0.5):
    return dy * (np.abs(x) > _c(x, threshold))


def tanh_shrink(x):
    return x - np.tanh(x)


def tanh_shrink_grad(x, dy):
    t = np.tanh(x)
    return dy * t * t


# --- along an axis: softmax, log_softmax, sparsemax, glu --------------------------

def _softmax_into(x, out):
    # Shifting a row leaves its softmax unchanged; shifted by its max, exp cannot overflow.
    np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)


def _log_softmax_into(x, out):
    shifted = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _along_axis(kernel, x, axis):
    """kernel(rows, out) on x's rows along axis; on all cores when that axis is the last."""
    if axis is None:  # Keras: softmax over every element at once
        return _in_parallel(kernel, x.reshape(1, -1), row_size=x.size).reshape(x.shape)
    if axis in (-1, x.ndim - 1):
        return _in_parallel(kernel, x, row_size=x.shape[-1])
    rows = np.moveaxis(x, axis, -1)
    out = np.empty(rows.shape, np.result_type(rows, np.float16))
    kernel(rows, out)
    return np.moveaxis(out, -1, axis)


def softmax(x, axis=-1):
    """exp(x - max(x)) / sum(exp(x - max(x))) along axis (see _softmax_into)."""
    if isinstance(axis, int) and -x.ndim <= axis < x.ndim and x.shape[axis] == 1:
        # Keras's warning, word for word: Dense(1, activation="softmax") is a classic slip.
        warnings.warn(
            f"You are using a softmax over axis {axis} of a tensor of shape {x.shape}. This axis "
            "has size 1. The softmax operation will always return the value 1, which is likely "
            "not what you intended. Did you mean to use a sigmoid instead?",
            stacklevel=2,
        )
    return _along_axis(_softmax_into, x, axis)


def softmax_grad(x, dy, axis=-1):
    if axis is None:
        return softmax_grad(x.reshape(-1), dy.reshape(-1)).reshape(x.shape)
    y = softmax(x, axis)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    """x - max(x) - log(sum(exp(x - max(x)))) along axis (see _log_softmax_into)."""
    return _along_axis(_log_softmax_into, x, axis)


def log_softmax_grad(x, dy, axis=-1):
    if axis is None:
        return log_softmax_grad(x.reshape(-1), dy.reshape(-1)).reshape(x.shape)
    return dy - softmax(x, axis) * dy.sum(axis=axis, keepdims=True)


def _sparsemax_parts(z_sorted):
    """Keras 3.15's sparsemax pieces along the last axis, from z sorted descending.

    Keras computes tau as (sum of the cumulative sums over the support - 1) / k,
    not (cumulative sum at k - 1) / k as in Martins & Astudillo (2016), so its
    outputs need not sum to 1.  kbook copies Keras; chapter 2 shows the gap.
    """
    cumsum = np.cumsum(z_sorted, axis=-1)
    r = np.arange(1, z_sorted.shape[-1] + 1, dtype=z_sorted.dtype)
    support = z_sorted - (cumsum - 1) / r > 0
    k = support.sum(axis=-1, keepdims=True).astype(z_sorted.dtype)
    tau = (np.where(support, cumsum, _c(z_sorted, 0)).sum(axis=-1, keepdims=True) - 1) / k
    return support, k, tau


def sparsemax(x, axis=-1):
    z = np.moveaxis(x, axis, -1)
    # The values alone fix tau, so a plain (vectorised) sort will do; ties need no order.
    _, _, tau = _sparsemax_parts(np.sort(z, axis=-1)[..., ::-1])
    return np.moveaxis(_pos(z - tau), -1, axis)


def sparsemax_grad(x, dy, axis=-1):
    z = np.moveaxis(x, axis, -1)
    g = np.moveaxis(dy, axis, -1)
    order = np.argsort(-z, axis=-1, kind="stable")  # ties: lower index first, like tf.sort
    support, k, tau = _sparsemax_parts(np.take_along_axis(z, order, axis=-1))
    g_direct = g * (z - tau >= 0)  # tf.maximum passes the gradient at a tie
    # d tau / d z_sorted[l] = (support positions j >= l) / k
    later_support = np.cumsum(support[..., ::-1], axis=-1)[..., ::-1].astype(z.dtype)
    g_sorted = -g_direct.sum(axis=-1, keepdims=True) * later_support / k
    g_tau = np.zeros_like(z)
    np.put_along_axis(g_tau, order, g_sorted, axis=-1)
    return np.moveaxis(g_direct + g_tau, -1, axis)


def glu(x, axis=-1):
    if x.shape[axis] % 2 != 0:
        raise ValueError(
            "axis size must be divisible by 2. "
            f"Received: x.shape={x.shape} with axis={axis}"
        )
    a, b = np.split(x, 2, axis=axis)
    y = sigmoid(b)
    y *= a
    return y


def glu_grad(x, dy, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    s = sigmoid(b)
    return np.concatenate([dy * s, dy * a * s * (1 - s)], axis=axis)


# --- lookup -----------------------------------------------------------------------

GRADIENTS = {
    celu: celu_grad, elu: elu_grad, exponential: exponential_grad, gelu: gelu_grad,
    glu: glu_grad, hard_shrink: hard_shrink_grad, hard_sigmoid: hard_sigmoid_grad,
    hard_silu: hard_silu_grad, hard_tanh: hard_tanh_grad, leaky_relu: leaky_relu_grad,
    linear: linear_grad, log_sigmoid: log_sigmoid_grad, log_softmax: log_softmax_grad,
    mish: mish_grad, relu: relu_grad, relu6: relu6_grad, selu: selu_grad,
    sigmoid: sigmoid_grad, silu: silu_grad, soft_shrink: soft_shrink_grad,
    softmax: softmax_grad, softplus: softplus_grad, softsign: softsign_grad,
    sparse_plus: sparse_plus_grad, sparse_sigmoid: sparse_sigmoid_grad,
    sparsemax: sparsemax_grad, squareplus: squareplus_grad, tanh: tanh_grad,
    tanh_shrink: tanh_shrink_grad, threshold: threshold_grad,
}

# Keras's table: every function by its own name, plus two aliases.
ALL_OBJECTS_DICT = {fn.__name__: fn for fn in GRADIENTS}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu

# These act along an axis; every other activation acts on each element alone.
NOT_ELEMENTWISE = {"softmax", "log_softmax", "sparsemax", "glu"}


def get(identifier):
    """Keras's lookup rules: None -> linear, a name -> that function, a callable -> itself.

    Example:
        >>> get("relu") is relu
        True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret activation function identifier: {identifier}")


def gradient(fn, x, dy, **kwargs):
    """dL/dx for activation ``fn`` at ``x`` given dL/dy.

    Raises NotImplementedError for a user-supplied callable: kbook cannot
    differentiate arbitrary code (that is what autodiff frameworks are for).
    """
    grad = GRADIENTS.get(fn)
    if grad is None:
        name = getattr(fn, "__name__", repr(fn))
        raise NotImplementedError(
            f"kbook knows no gradient for the custom activation {name!r}; "
            "backward needs one of the built-in activations."
        )
    return grad(x, dy, **kwargs)


def derivative(fn, x, **kwargs):
    """f'(x) for an elementwise activation (what the chapter plots)."""
    return gradient(fn, x, np.ones_like(x), **kwargs)
