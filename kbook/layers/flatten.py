"""``Flatten``: (N, d1, d2, ...) -> (N, d1*d2*...), keeping the batch axis (``keras.layers.Flatten``).

The unrolling is row-major (C order) over the channels-last layout: for an image
(N, H, W, C) the output index of ``x[n, i, j, c]`` is ``(i * W + j) * C + c`` (channels
vary fastest).  With ``data_format="channels_first"`` Keras first moves the channel axis
to the end, so the same picture gives the same vector in either layout, and a Dense
layer after Flatten sees its features in the same order.
"""
import math

import numpy as np

from kbook.layers.base import InputSpec, Layer
from kbook.layers.conv_utils import normalize_data_format

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flattens every axis but the batch axis; no weights.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``
            (then (N, C, ...) is transposed to (N, ..., C) before flattening).

    Shapes: x: (N, d1, ..., dk) -> y: (N, d1*...*dk); x: (N,) -> y: (N, 1).

    Example:
        >>> Flatten()(np.zeros((1, 11, 11, 128))).shape
        (1, 15488)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, self.name)
        self.input_spec = InputSpec(min_ndim=1)

    def _to_channels_last(self, ndim):
        """The transpose Keras applies first (``None`` when there is nothing to move)."""
        if self.data_format == "channels_first" and ndim > 2:
            return (0, *range(2, ndim), 1)
        return None

    def call(self, x, training=None):
        order = self._to_channels_last(x.ndim)
        if order is not None:
            x_cl = x.transpose(order)
        else:
            x_cl = x
        self._cache = (x.shape, order, x_cl.shape)
        # the size is given explicitly: reshape(N, -1) cannot infer it when N == 0
        return x_cl.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, dy):
        """dy: (N, features) -> dx: the input's shape (the inverse reshape and transpose)."""
        dy = self._check_dy(dy)
        shape, order, cl_shape = self._cache
        self.grads = {}
        dx = dy.reshape(cl_shape)
        if order is not None:
            dx = np.ascontiguousarray(dx.transpose(np.argsort(order)))
        return dx

    def compute_output_shape(self, input_shape):
        return (input_shape[0], math.prod(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
