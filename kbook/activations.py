"""Every activation that ``keras.activations.get`` accepts, with its gradient.

Each activation ``f(x, ...)`` has a partner ``f_grad(x, dy, ...)`` that returns
dL/dx given dL/dy (a vector-Jacobian product, so softmax and friends fit the same
mould).  The formulas copy Keras 3 on the TensorFlow backend, including its
choices at the kinks (relu'(0) = 0, hard_tanh'(+-1) = 1, celu'(0) = 2, ...): the
gradient is what ``tf.GradientTape`` returns for the ops Keras composes.

Arrays keep their dtype: float32 in, float32 out.
"""
import numpy as np
from scipy import special  # erf and expit: exact and vectorised, which NumPy lacks

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# tf.nn.gelu makes two of its constants with math_ops.cast(python_float, dtype),
# which goes through float32 first; float64 inputs see the float32-rounded value.
GELU_INV_SQRT_2 = float(np.float32(0.7071067811865476))
GELU_COEFF = float(np.float32(0.044715))
SQRT_2_OVER_PI = 0.7978845608028654


def _c(x, value):
    """A Python number as a scalar of x's dtype, so float32 math stays float32."""
    return np.asarray(value, dtype=x.dtype)


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
        negative_part = np.maximum(-x + _c(x, threshold), 0)
    y = _relu_positive_part(x, max_value, threshold)
    if negative_slope != 0.0:
        y = y - _c(x, negative_slope) * negative_part
    return y


def _relu_positive_part(x, max_value, threshold):
    if threshold != 0:
        y = np.where(x > _c(x, threshold), x, _c(x, 0))
    elif max_value == 6:
        return relu6(x)
    else:
        y = np.maximum(x, _c(x, 0))
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
        # tf.clip_by_value passes the gradient on the closed interval [0, max].
        y = np.where(mask, x, _c(x, 0))
        mask = mask & (y >= 0) & (y <= _c(x, max_value))
    return dy * mask + _relu_negative_grad(x, dy, negative_slope, threshold)


def _relu_negative_grad(x, dy, negative_slope, threshold):
    if negative_slope == 0.0:
        return _c(x, 0)
    return dy * (x < _c(x, threshold)) * _c(x, negative_slope)


def _leaky_slope(x, negative_slope):
    # TF's LeakyRelu op stores alpha as a float32 attribute, even for float64 inputs.
    return _c(x, np.float32(negative_slope))


def leaky_relu(x, negative_slope=0.2):
    return np.where(x > 0, x, x * _leaky_slope(x, negative_slope))


def leaky_relu_grad(x, dy, negative_slope=0.2):
    return np.where(x > 0, dy, dy * _leaky_slope(x, negative_slope))


def relu6(x):
    return np.minimum(np.maximum(x, _c(x, 0)), _c(x, 6))


def _relu6_mask(x):
    return (x > 0) & (x < 6)


def relu6_grad(x, dy):
    return dy * _relu6_mask(x)


def elu(x, alpha=1.0):
    y = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if alpha == 1:
        return y
    return np.where(x > 0, y, _c(x, alpha) * y)


def elu_grad(x, dy, alpha=1.0):
    # TF's EluGrad works from the output: dy * (y + 1) where y < 0.
    y = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    g = np.where(y < 0, dy * (y + 1), dy)
    if alpha == 1:
        return g
    return np.where(x > 0, g, _c(x, alpha) * g)


def selu(x):
    return _c(x, SELU_SCALE) * np.where(x > 0, x, _c(x, SELU_ALPHA) * np.expm1(np.minimum(x, 0)))


def selu_grad(x, dy):
    y = selu(x)
    return np.where(y < 0, dy * (y + _c(x, SELU_SCALE * SELU_ALPHA)), dy * _c(x, SELU_SCALE))


def celu(x, alpha=1.0):
    a = _c(x, alpha)
    return np.maximum(x, _c(x, 0)) + a * np.expm1(np.minimum(x, _c(x, 0)) / a)


def celu_grad(x, dy, alpha=1.0):
    # max and min both pass the gradient at a tie, so celu'(0) = 2 in TF.
    a = _c(x, alpha)
    return dy * (x >= 0) + dy * (x <= 0) * np.exp(np.minimum(x, _c(x, 0)) / a)


def threshold(x, threshold, default_value):
    return np.where(x > _c(x, threshold), x, _c(x, default_value))


def threshold_grad(x, dy, threshold, default_value):
    return dy * (x > _c(x, threshold))


# --- sigmoid-like ---------------------------------------------------------------

def sigmoid(x):
    return special.expit(x)


def sigmoid_grad(x, dy):
    y = special.expit(x)
    return dy * y * (1 - y)


def hard_sigmoid(x):
    return relu6(x + _c(x, 3)) / _c(x, 6)


def hard_sigmoid_grad(x, dy):
    return dy * _relu6_mask(x + _c(x, 3)) / _c(x, 6)


def sparse_sigmoid(x):
    return np.where(x <= -1, _c(x, 0), np.where(x >= 1, _c(x, 1), _c(x, 0.5) * (x + 1)))


def sparse_sigmoid_grad(x, dy):
    return dy * ((x > -1) & (x < 1)) * _c(x, 0.5)


def log_sigmoid(x):
    return -softplus(-x)


def log_sigmoid_grad(x, dy):
    return dy * special.expit(-x)


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
    return x / (1 + np.abs(x))


def softsign_grad(x, dy):
    d = 1 + np.abs(x)
    return dy / (d * d)


# --- smooth relu-likes ------------------------------------------------------------

def softplus(x):
    return np.logaddexp(_c(x, 0), x)


def softplus_grad(x, dy):
    return dy * special.expit(x)


def squareplus(x, b=4):
    return (x + np.sqrt(x * x + _c(x, b))) / 2


def squareplus_grad(x, dy, b=4):
    return dy * (1 + x / np.sqrt(x * x + _c(x, b))) / 2


def sparse_plus(x):
    return np.where(x <= -1, _c(x, 0), np.where(x < 1, _c(x, 0.25) * (x + 1) ** 2, x))


def sparse_plus_grad(x, dy):
    return dy * np.where(x <= -1, _c(x, 0), np.where(x < 1, _c(x, 0.5) * (x + 1), _c(x, 1)))


def silu(x):
    return x * special.expit(x)


def silu_grad(x, dy):
    s = special.expit(x)
    return dy * s * (1 + x * (1 - s))


def hard_silu(x):
    return x * hard_sigmoid(x)


def hard_silu_grad(x, dy):
    return dy * hard_sigmoid(x) + x * hard_sigmoid_grad(x, dy)


def gelu(x, approximate=False):
    if approximate:
        inner = _c(x, SQRT_2_OVER_PI) * (x + _c(x, GELU_COEFF) * x ** 3)
        return _c(x, 0.5) * x * (1 + np.tanh(inner))
    # TF writes it with erfc, which keeps full precision for negative x.
    return _c(x, 0.5) * x * special.erfc(-x * _c(x, GELU_INV_SQRT_2))


def gelu_grad(x, dy, approximate=False):
    if approximate:
        inner = _c(x, SQRT_2_OVER_PI) * (x + _c(x, GELU_COEFF) * x ** 3)
        t = np.tanh(inner)
        d_inner = _c(x, SQRT_2_OVER_PI) * (1 + _c(x, 3 * GELU_COEFF) * x * x)
        return dy * (_c(x, 0.5) * (1 + t) + _c(x, 0.5) * x * (1 - t * t) * d_inner)
    cdf = _c(x, 0.5) * special.erfc(-x * _c(x, GELU_INV_SQRT_2))
    pdf = np.exp(-x * x / 2) / _c(x, np.sqrt(2 * np.pi))
    return dy * (cdf + x * pdf)


def mish(x):
    return x * np.tanh(softplus(x))


def mish_grad(x, dy):
    t = np.tanh(softplus(x))
    return dy * (t + x * (1 - t * t) * special.expit(x))


def exponential(x):
    return np.exp(x)


def exponential_grad(x, dy):
    return dy * np.exp(x)


# --- shrinkage ----------------------------------------------------------------

def soft_shrink(x, threshold=0.5):
    t = _c(x, threshold)
    return np.where(x > t, x - t, np.where(x < -t, x + t, _c(x, 0)))


def soft_shrink_grad(x, dy, threshold=0.5):
    return dy * ((x > threshold) | (x < -threshold))


def hard_shrink(x, threshold=0.5):
    return np.where(np.abs(x) > _c(x, threshold), x, _c(x, 0))


def hard_shrink_grad(x, dy, threshold=0.5):
    return dy * (np.abs(x) > _c(x, threshold))


def tanh_shrink(x):
    return x - np.tanh(x)


def tanh_shrink_grad(x, dy):
    t = np.tanh(x)
    return dy * t * t


# --- along an axis: softmax, log_softmax, sparsemax, glu --------------------------

def softmax(x, axis=-1):
    if axis is None:
        return softmax(x.reshape(-1)).reshape(x.shape)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_grad(x, dy, axis=-1):
    if axis is None:
        return softmax_grad(x.reshape(-1), dy.reshape(-1)).reshape(x.shape)
    y = softmax(x, axis)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    if axis is None:
        return log_softmax(x.reshape(-1)).reshape(x.shape)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_grad(x, dy, axis=-1):
    if axis is None:
        return log_softmax_grad(x.reshape(-1), dy.reshape(-1)).reshape(x.shape)
    return dy - softmax(x, axis) * dy.sum(axis=axis, keepdims=True)


def _sparsemax_parts(z):
    """Keras 3.15's sparsemax pieces along the last axis of z.

    Keras computes tau as (sum of the cumulative sums over the support - 1) / k,
    not (cumulative sum at k - 1) / k as in Martins & Astudillo (2016), so its
    outputs need not sum to 1.  kbook copies Keras; chapter 2 shows the gap.
    """
    order = np.argsort(-z, axis=-1, kind="stable")  # ties: lower index first, like tf.sort
    z_sorted = np.take_along_axis(z, order, axis=-1)
    cumsum = np.cumsum(z_sorted, axis=-1)
    r = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = z_sorted - (cumsum - 1) / r > 0
    k = support.sum(axis=-1, keepdims=True).astype(z.dtype)
    tau = (np.where(support, cumsum, _c(z, 0)).sum(axis=-1, keepdims=True) - 1) / k
    return order, support, k, tau


def sparsemax(x, axis=-1):
    z = np.moveaxis(x, axis, -1)
    _, _, _, tau = _sparsemax_parts(z)
    return np.moveaxis(np.maximum(z - tau, _c(x, 0)), -1, axis)


def sparsemax_grad(x, dy, axis=-1):
    z = np.moveaxis(x, axis, -1)
    g = np.moveaxis(dy, axis, -1)
    order, support, k, tau = _sparsemax_parts(z)
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
    return a * special.expit(b)


def glu_grad(x, dy, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    s = special.expit(b)
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
