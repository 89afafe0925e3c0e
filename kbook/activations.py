"""Every activation that ``keras.activations.get`` accepts, with its gradient.

Each activation ``f(x, ...)`` has a partner ``f_grad(x, dy, ...)`` that returns
dL/dx given dL/dy (a vector-Jacobian product, so softmax and friends fit the same
mould).  The formulas copy Keras 3 on the TensorFlow backend, including its
choices at the kinks (relu'(0) = 0, hard_tanh'(+-1) = 1, celu'(0) = 2, ...): the
gradient is what ``tf.GradientTape`` returns for the ops Keras composes.

Arrays keep their dtype: float32 in, float32 out.

Each function reads as its formula.  Where a line of NumPy is too slow (sigmoid, gelu,
softmax, ...), it runs an in-place kernel from :mod:`kbook.ops.activations` block by block on
every core (``ops.in_parallel(ops.sigmoid_into, x)``), as TensorFlow's kernels do; that module's
docstring says why.  Piecewise formulas use exact identities built from ``np.clip`` (``_pos``,
``_neg``) and ``_pick`` rather than ``np.where``, which is slow on a mask that flips at random;
these small helpers are shared with the kernels.
"""
import functools
import warnings

import numpy as np

from kbook.ops import activations as ops
from kbook.ops.activations import _c, _neg, _pick, _pos

# tf.nn.gelu's tanh form makes this constant with math_ops.cast(python_float, dtype), which
# goes through float32 first; float64 inputs see the float32-rounded value.
GELU_COEFF = float(np.float32(0.044715))
SQRT_2_OVER_PI = 0.7978845608028654


def _nan_as_else(y, x, value):
    """y, but value where x is nan.

    TF's where(x > t, ..., value) sends a nan to its else branch; the arithmetic
    that replaces it here keeps the nan.  Checking first costs one cheap reduction
    (min propagates nan) instead of a mask on every call.
    """
    if np.isnan(np.min(x, initial=0)):
        return np.where(np.isnan(x), value, y)
    return y


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


def leaky_relu(x, negative_slope=0.2):
    """x where x > 0, else negative_slope * x (see ops.leaky_relu_into)."""
    slope = _leaky_slope(x, negative_slope)
    if slope == 0:
        return _pos(x)  # 0 * inf would be nan
    return ops.in_parallel(functools.partial(ops.leaky_relu_into, slope=slope), x)


def leaky_relu_grad(x, dy, negative_slope=0.2):
    return dy * _pick(x > 0, 1, _leaky_slope(x, negative_slope), x.dtype)


def relu6(x):
    return np.clip(x, _c(x, 0), _c(x, 6))


def _relu6_mask(x):
    return (x > 0) & (x < 6)


def relu6_grad(x, dy):
    return dy * _relu6_mask(x)


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1) (see ops.elu_into)."""
    return ops.in_parallel(functools.partial(ops.elu_into, alpha=alpha), x)


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


def selu(x):
    """scale * x where x > 0, else scale * alpha * (exp(x) - 1), with Keras's scale = 1.0507...
    and alpha = 1.6733... (``ops.SELU_SCALE``, ``ops.SELU_ALPHA``; see ops.selu_into)."""
    return ops.in_parallel(ops.selu_into, x)


def selu_grad(x, dy):
    """dy * scale where x > 0, else dy * scale * alpha * exp(x) (TF's rounding near 0: see
    ops.selu_grad_into)."""
    return ops.in_parallel(ops.selu_grad_into, x, dy)


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

def sigmoid(x):
    """1 / (1 + exp(-x)), computed in place by ops.sigmoid_into, on every core."""
    return ops.in_parallel(ops.sigmoid_into, x)


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


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) (see ops.log_sigmoid_into)."""
    return ops.in_parallel(ops.log_sigmoid_into, x)


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


def softsign(x):
    """x / (1 + |x|) (see ops.softsign_into)."""
    return ops.in_parallel(ops.softsign_into, x)


def softsign_grad(x, dy):
    d = 1 + np.abs(x)
    return dy / (d * d)


# --- smooth relu-likes ------------------------------------------------------------

def softplus(x):
    """log(1 + exp(x)) (see ops.softplus_into)."""
    return ops.in_parallel(ops.softplus_into, x)


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
    """x * sigmoid(x), computed as x / (1 + exp(-x)) by ops.silu_into."""
    return ops.in_parallel(ops.silu_into, x)


def silu_grad(x, dy):
    s = sigmoid(x)
    return dy * s * (1 + x * (1 - s))


def hard_silu(x):
    return x * hard_sigmoid(x)


def hard_silu_grad(x, dy):
    return dy * hard_sigmoid(x) + x * hard_sigmoid_grad(x, dy)


def gelu(x, approximate=False):
    """x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2)) (see ops.gelu_into), or TF's tanh form."""
    if approximate:
        # x * x * x: NumPy's x ** 3 takes a slow general pow loop.
        inner = _c(x, SQRT_2_OVER_PI) * (x + _c(x, GELU_COEFF) * (x * x * x))
        return _c(x, 0.5) * x * (1 + np.tanh(inner))
    return ops.in_parallel(ops.gelu_into, x)


def gelu_grad(x, dy, approximate=False):
    """dy * (Phi(x) + x * phi(x)) (see ops.gelu_grad_into), or the derivative of TF's tanh form."""
    if approximate:
        inner = _c(x, SQRT_2_OVER_PI) * (x + _c(x, GELU_COEFF) * (x * x * x))
        t = np.tanh(inner)
        d_inner = _c(x, SQRT_2_OVER_PI) * (1 + _c(x, 3 * GELU_COEFF) * x * x)
        return dy * (_c(x, 0.5) * (1 + t) + _c(x, 0.5) * x * (1 - t * t) * d_inner)
    return ops.in_parallel(ops.gelu_grad_into, x, dy)


def mish(x):
    """x * tanh(softplus(x)) (see ops.mish_into)."""
    return ops.in_parallel(ops.mish_into, x)


def mish_grad(x, dy):
    """dy * (t + x * (1 - t * t) * sigmoid(x)), t = tanh(softplus(x)) (see ops.mish_grad_into)."""
    return ops.in_parallel(ops.mish_grad_into, x, dy)


def exponential(x):
    """exp(x), on every core."""
    return ops.in_parallel(np.exp, x)


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

def softmax(x, axis=-1):
    """exp(x - max(x)) / sum(exp(x - max(x))) along axis (see ops.softmax_into)."""
    if isinstance(axis, int) and -x.ndim <= axis < x.ndim and x.shape[axis] == 1:
        # Keras's warning, word for word: Dense(1, activation="softmax") is a classic slip.
        warnings.warn(
            f"You are using a softmax over axis {axis} of a tensor of shape {x.shape}. This axis "
            "has size 1. The softmax operation will always return the value 1, which is likely "
            "not what you intended. Did you mean to use a sigmoid instead?",
            stacklevel=2,
        )
    return ops.along_axis(ops.softmax_into, x, axis)


def softmax_grad(x, dy, axis=-1):
    if axis is None:
        return softmax_grad(x.reshape(-1), dy.reshape(-1)).reshape(x.shape)
    y = softmax(x, axis)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    """x - max(x) - log(sum(exp(x - max(x)))) along axis (see ops.log_softmax_into)."""
    return ops.along_axis(ops.log_softmax_into, x, axis)


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
