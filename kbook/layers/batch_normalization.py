"""``BatchNormalization``: normalise every channel by a mean and a variance (``keras.layers.BatchNormalization``).

Per channel (an entry of ``axis``), with statistics over every other axis:
``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``.

* ``training=True``: the batch's mean and *biased* variance; then, in place,
  ``moving = moving * momentum + batch * (1 - momentum)`` (Keras 3 also keeps the biased variance).
* ``training=False`` or ``None``, or a frozen layer (``trainable=False``): the moving statistics,
  as TensorFlow computes it: ``x * scale + (beta - mean * scale)``, ``scale = gamma / sqrt(var + eps)``.

Numerics.  Two passes, as ``tf.nn.moments`` (which Keras calls): the mean, then the mean of
(x - mean)^2, so a large offset (1e4 + x) does not cancel as E[x^2] - E[x]^2 would.  Two things
TensorFlow does not do, so float32 stays within ~1e-7 of the float64 answer where TensorFlow's
float32 is off by 1e-3: sums are float64 over float32 partial sums of about 256 values per channel
(over 131072 rows of 1e4 + x, TensorFlow's float32 mean is off by 0.05 channels_last and by 9.5
channels_first, as a plain NumPy sum; this by 0.0005), and the data are centred on the mean
rounded to float32 (exact), with the part rounding lost put back per channel ("corrected
two-pass").  A constant channel (a batch of one included) has variance 0 and gives beta.

The input is seen as (A, C, B): the axes before the channel axis, the channels, the axes after it
(channels_last: B = 1).  The work runs on parts of A of about a core's cache, on every core
(:mod:`kbook.parallel`); partial sums are added in a fixed order, so no result depends on threads.
"""
import math

import numpy as np

from kbook import parallel
from kbook.layers.base import InputSpec, Layer

_PART_BYTES = 1 << 19  # one work item for a core: about its L2 cache
_GROUP = 256  # values per channel summed in the input's precision before float64 takes over
# Keras arguments kbook does not implement, with the value that means "off" (accepted).
_UNSUPPORTED = {"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": 0.99, "synchronized": False}


class _Parts:
    """An (A, C, B) array cut into parts of whole groups of rows (a group: about _GROUP values per channel)."""

    def __init__(self, a3):
        self.rows, self.channels, self.inner = a3.shape
        self.group = max(1, _GROUP // max(self.inner, 1))
        per = max(1, _PART_BYTES // max(a3[0].nbytes * self.group, 1)) * self.group
        self.parts = [slice(i, min(i + per, self.rows)) for i in range(0, self.rows, per)]

    def total(self, work, size=()):
        """Sum of work(rows) over the parts, computed on every core, added in a fixed order."""
        results = [None] * len(self.parts)
        parallel.run(lambda k: results.__setitem__(k, work(self.parts[k])), range(len(self.parts)))
        return sum(results, np.zeros(size + (self.channels,)))

    def sum(self, *blocks):
        """Per-channel float64 sum of the product of (rows, C, B) blocks: einsum per group, then float64."""
        whole = blocks[0].shape[0] // self.group * self.group
        spec = ",".join(["kacb"] * len(blocks)) + "->kc"
        groups = np.einsum(spec, *(b[:whole].reshape(-1, self.group, self.channels, self.inner) for b in blocks))
        rest = np.einsum(spec, *(b[whole:][None] for b in blocks))
        return groups.sum(axis=0, dtype=np.float64) + rest[0]

    def constant(self, values, dtype):
        """Per-channel values (C,) for ``map``: tiled over a flattened group when rows are short, and a column."""
        v = np.asarray(values, dtype)
        short = self.channels * self.inner < _GROUP
        return (np.tile(np.repeat(v, self.inner), self.group) if short else None), v[:, None]

    def map(self, fn, arrays, constants):
        """fn(*blocks, *constants) over every part, on every core; the constants broadcast per channel.

        Over short rows (channels_last: C values) NumPy loops in steps of C; a group of rows seen as
        one long row, with the constant tiled to match, is about twice as fast (measured).
        """
        def work(rows):
            whole = rows.start
            if constants[0][0] is not None:
                whole += (rows.stop - rows.start) // self.group * self.group
                flat = (-1, self.group * self.channels * self.inner)
                fn(*(a[rows.start:whole].reshape(flat) for a in arrays), *(c[0] for c in constants))
            if rows.stop > whole:
                fn(*(a[whole:rows.stop] for a in arrays), *(c[1] for c in constants))
        parallel.run(lambda k: work(self.parts[k]), range(len(self.parts)))


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class BatchNormalization(Layer):
    """Normalise each channel to mean 0 and variance 1, then scale by ``gamma`` and shift by ``beta``.

    Args:
        axis: int, the channel axis (default -1; ``axis=1`` after a channels_first Conv2D).
        momentum: in [0, 1], the share of the moving statistics each training step keeps.
        epsilon: >= 0, added to the variance before the square root.
        center: whether to add ``beta``; scale: whether to multiply by ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            names or callables (defaults "zeros", "ones", "zeros", "ones").

    Shapes: x: any rank, C = x.shape[axis] -> y: the shape of x; each weight: (C,), in Keras's
    order [gamma, beta, moving_mean, moving_variance] (gamma only with ``scale``, beta only with
    ``center``); the moving statistics are non-trainable.

    Example:
        >>> bn = BatchNormalization(momentum=0.9)
        >>> x = np.random.default_rng(0).normal(5.0, 2.0, (64, 3))
        >>> y = bn(x, training=True)          # the batch's statistics; moving ones move 10% there
        >>> bool(np.abs(y.mean(axis=0)).max() < 1e-6), bn.moving_mean.round(1)
        (True, array([0.5, 0.5, 0.5], dtype=float32))
        >>> bn(x).shape                        # inference: the moving statistics
        (64, 3)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        unsupported = {k: kwargs.pop(k) for k in _UNSUPPORTED if k in kwargs}
        super().__init__(**kwargs)
        for key, value in unsupported.items():
            if not (value is _UNSUPPORTED[key] or value == _UNSUPPORTED[key]):
                raise ValueError(f"Layer '{self.name}': `{key}`={value!r} is not supported by kbook "
                                 f"(only the default, {_UNSUPPORTED[key]!r}).")
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"Layer '{self.name}': `axis` must be an integer (one axis). Received: axis={axis!r}")
        for arg, value, high in (("momentum", momentum, 1.0), ("epsilon", epsilon, math.inf)):
            if not _is_real(value):
                raise TypeError(f"Layer '{self.name}': `{arg}` must be a number. Received: {arg}={value!r}")
            if not 0.0 <= value <= high:  # NaN fails too
                bounds = "between 0 and 1" if arg == "momentum" else ">= 0"
                raise ValueError(f"Layer '{self.name}': `{arg}` must be {bounds}. Received: {arg}={value!r}")
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    def build(self, input_shape):
        channels = self.compute_output_shape(input_shape)[self.axis]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the channel axis {self.axis} must have a known size. "
                             f"Received input shape {tuple(input_shape)}")
        if self.scale:
            self.gamma = self.add_weight("gamma", (channels,), self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", (channels,), self.beta_initializer)
        self.moving_mean = self.add_weight("moving_mean", (channels,), self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (channels,), self.moving_variance_initializer,
                                               trainable=False)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: channels})  # as Keras: both fixed
        self.built = True

    def _view(self, a):
        """a as (A, C, B); a view when a is C-contiguous."""
        axis = self.axis % a.ndim
        return a.reshape(math.prod(a.shape[:axis]), a.shape[axis], math.prod(a.shape[axis + 1:]))

    def call(self, x, training=None):
        x3 = self._view(x)
        parts = _Parts(x3)
        n = x.size // max(x3.shape[1], 1)  # values per channel
        use_batch = bool(training) and self.trainable  # a frozen layer always infers, as in Keras 3
        y = np.empty(x.shape, x.dtype)
        y3, xc3 = self._view(y), None
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty batch gives NaN, as in TensorFlow
            if use_batch:
                rounded = (parts.total(lambda rows: parts.sum(x3[rows])) / n).astype(x.dtype)
                xc3 = np.empty_like(y3)  # x - rounded mean, kept for backward
                parts.map(lambda a, out, m: np.subtract(a, m, out=out), (x3, xc3), [parts.constant(rounded, x.dtype)])
                s1, s2 = parts.total(lambda rows: np.stack([parts.sum(xc3[rows]), parts.sum(xc3[rows], xc3[rows])]),
                                     size=(2,))
                # What rounding the mean to x's dtype lost, measured on the data ("corrected two-pass"):
                # float32 stays exact even when |mean| >> std.
                low = s1 / n
                var = np.maximum(s2 / n - low ** 2, 0.0)
                self._update_moving((rounded + low).astype(x.dtype), var.astype(x.dtype))
                centre = low
            else:
                centre, var = self.moving_mean.astype(np.float64), self.moving_variance.astype(np.float64)
            rstd = 1.0 / np.sqrt(var + self.epsilon)
        scale = (rstd * (self.gamma if self.scale else 1.0)).astype(x.dtype)
        beta = np.broadcast_to(self.beta if self.center else np.zeros((), x.dtype), rstd.shape)
        # Training: (x - mean) * scale + beta from the centred values at hand.  Inference: TensorFlow's
        # multiply-add with its rounding (shift in x's dtype: x == moving_mean gives beta exactly).
        src3, shift = (xc3, beta - low * scale) if use_batch else (x3, beta - centre.astype(x.dtype) * scale)

        def affine(a, out, s, t):
            np.multiply(a, s, out=out)
            out += t
        parts.map(affine, (src3, y3), [parts.constant(v, x.dtype) for v in (scale, shift)])
        self._cache = (x3, xc3, centre, rstd, n, parts)
        return y

    def _update_moving(self, mean, var):
        # TensorFlow's arithmetic in the weights' dtype (momentum and 1 - momentum rounded to it),
        # in place, so that layer.moving_mean stays the live array and set_weights keeps working.
        keep, take = np.asarray(self.momentum, mean.dtype), np.asarray(1.0 - self.momentum, mean.dtype)
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
            moving *= keep
            moving += batch * take

    def backward(self, dy):
        """dy -> dx (the shape of x); fills grads["gamma"] and grads["beta"].

        Training: the mean and variance depend on x too; per channel (n values, xhat = (x - mean) * rstd)
        dx = gamma * rstd * (dy - sum(dy) / n - xhat * sum(dy * xhat) / n): the paths straight to x,
        through the mean and through the variance.  Inference: dx = dy * gamma * rstd.
        The moving statistics get no gradient, as in Keras: GradientTape does not watch
        non-trainable variables.
        """
        dy = self._check_dy(dy)
        x3, xc3, centre, rstd, n, parts = self._cache
        dy3 = self._view(dy)
        use_batch = xc3 is not None
        moving_mean = centre.astype(self.dtype)[:, None]

        def sums(rows):
            centred = xc3[rows] if use_batch else x3[rows] - moving_mean
            return np.stack([parts.sum(dy3[rows]), parts.sum(dy3[rows], centred)])
        sum_dy, sum_dy_xc = parts.total(sums, size=(2,))
        if use_batch:
            sum_dy_xc -= centre * sum_dy  # xc3 is x - rounded mean; x - mean = xc3 - low
        self.grads = {}
        if self.scale:
            self.grads["gamma"] = (rstd * sum_dy_xc).astype(self.dtype)
        if self.center:
            self.grads["beta"] = sum_dy.astype(self.dtype)
        a = rstd * (self.gamma if self.scale else 1.0)
        dx = np.empty(dy.shape, self.dtype)
        dx3 = self._view(dx)
        if not use_batch:
            parts.map(lambda g, out, s: np.multiply(g, s, out=out), (dy3, dx3), [parts.constant(a, self.dtype)])
            return dx
        with np.errstate(invalid="ignore", divide="ignore"):
            k = -rstd ** 2 * sum_dy_xc / n  # dx = a * (dy - mean(dy) + k * (x - mean))
            shift = sum_dy / n + k * centre  # x - mean = xc3 - low

        def input_grad(g, xc, out, m, a, b):  # out = (dy - m) * a + xc * b
            np.subtract(g, m, out=out)  # first: a batch of one gives exactly 0
            out *= a
            out += xc * b
        parts.map(input_grad, (dy3, xc3, dx3), [parts.constant(v, self.dtype) for v in (shift, a, a * k)])
        return dx

    def compute_output_shape(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape):
            raise ValueError(f"Layer '{self.name}': Axis {self.axis} is out of bounds for input shape "
                             f"{tuple(input_shape)}. Received: axis={self.axis}")
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": self.beta_initializer, "gamma_initializer": self.gamma_initializer,
            "moving_mean_initializer": self.moving_mean_initializer,
            "moving_variance_initializer": self.moving_variance_initializer,
        }
