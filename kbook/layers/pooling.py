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

How it is computed fast (two 1-D passes per window, cache-sized chunks, every core):
:mod:`kbook.ops.pooling`.  The layers check their arguments and pick the geometry.
"""
import numpy as np

from kbook.layers.base import InputSpec, Layer
from kbook.layers.conv_utils import normalize_data_format, normalize_padding, normalize_tuple
from kbook.ops.pooling import (average_pool2d, average_pool2d_grad, global_average_pool2d, global_max_pool2d,
                               global_max_pool2d_grad, max_pool2d, max_pool2d_grad, pool_geometry)

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
           "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "pool_geometry"]


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
        if self.pool_mode == "max":
            y = max_pool2d(x, geometry, self._axes)
            # backward finds the max cells by comparing with y: keep our own copy, so a caller
            # that edits the returned array in place cannot change the gradient
            self._cache = (x, y.copy(), geometry)
        else:
            y = average_pool2d(x, geometry, self._axes, self._count_map(geometry))
            self._cache = (x, None, geometry)
        return y

    # --- backward -----------------------------------------------------------------------

    def backward(self, dy):
        """dy: the output's shape -> dx: the input's shape (pooling has no weights)."""
        dy = self._check_dy(dy)
        x, y, geometry = self._cache
        self.grads = {}
        if self.pool_mode == "max":
            return max_pool2d_grad(x, y, dy, geometry, self._axes)
        return average_pool2d_grad(x, dy, geometry, self._axes, self._count_map(geometry))

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
        y = global_average_pool2d(x, self.data_format == "channels_last")
        h_axis, w_axis = self._axes
        self._cache = (x.shape, x.shape[h_axis] * x.shape[w_axis])
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
        y = global_max_pool2d(x, self.data_format == "channels_last")
        self._cache = (x, y.copy())  # see _Pooling2D.call: backward compares with y
        return self._kept(y) if self.keepdims else y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x, y = self._cache
        self.grads = {}
        return global_max_pool2d_grad(x, self._kept(y), self._kept(dy.reshape(y.shape)), self._axes)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
