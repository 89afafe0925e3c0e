"""``Conv2D``: a 2-D cross-correlation over height and width (``keras.layers.Conv2D``).

Output pixel (i, j), filter f (one group): the sum over the kernel's taps (a, b) and the input
channels c of ``x[i * sh + a * dh, j * sw + b * dw, c] * kernel[a, b, c, f]``, x zero-padded as
TensorFlow pads it, plus ``bias[f]``.

The layer checks its arguments and TensorFlow's padding; the arithmetic runs in
:mod:`kbook.ops.conv2d` (matrix products on cache-sized blocks, no loop over pixels; its
docstring says why).  Backward: ``dkernel`` correlates the input with dy, ``dbias`` sums dy, and
``dx`` is the transposed convolution: dy correlated with the kernel flipped in space (its two
channel axes swapped).
"""
import numpy as np

from kbook import activations
from kbook.layers.base import InputSpec, is_positive_int, Layer
from kbook.layers.conv_utils import (conv_output_length, conv_padding, normalize_data_format, normalize_padding,
                                     normalize_tuple)
from kbook.ops.blas import column_sums
from kbook.ops.conv2d import conv2d_input_grad, conv2d_kernel_grad, conv2d_nhwc


class Conv2D(Layer):
    """2-D convolution (cross-correlation) layer, as ``keras.layers.Conv2D``.

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw), default 1.  ``strides > 1`` cannot go with ``dilation_rate > 1``.
        padding: ``"valid"`` (no padding) or ``"same"`` (output = ceil(input / strides); the total
            padding is split TensorFlow's way, the odd cell at the bottom / right).
        data_format: ``"channels_last"`` (default, (N, H, W, C)) or ``"channels_first"`` ((N, C, H, W)).
        dilation_rate: int or (dh, dw), gaps between kernel taps.
        groups: positive int dividing both the input channels and ``filters``; group g sees input
            channels g*C/groups..(g+1)*C/groups - 1 and makes filters g*F/groups..(g+1)*F/groups - 1.
        activation, use_bias, kernel_initializer, bias_initializer: as in ``Dense``.

    Shapes: x: (N, H, W, C) -> y: (N, H_out, W_out, filters) (channels_first: (N, C, H, W) ->
    (N, filters, H_out, W_out)); kernel: (kh, kw, C // groups, filters); bias: (filters,).

    Example:
        >>> conv = Conv2D(filters=8, kernel_size=3, strides=2, padding="same")
        >>> conv(np.zeros((4, 7, 7, 3))).shape
        (4, 4, 4, 8)
        >>> conv.kernel.shape
        (3, 3, 3, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not is_positive_int(filters):
            raise ValueError(
                f"Layer '{self.name}': invalid value for argument `filters`. Expected a strictly "
                f"positive integer. Received filters={filters!r}."
            )
        if not is_positive_int(groups):
            raise ValueError(
                f"Layer '{self.name}': the number of groups must be a positive integer. "
                f"Received: groups={groups!r}."
            )
        self.filters, self.groups = int(filters), int(groups)
        if self.filters % self.groups != 0:
            raise ValueError(
                f"Layer '{self.name}': the number of filters must be evenly divisible by the number of "
                f"groups. Received: groups={self.groups}, filters={self.filters}."
            )
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, 2, "strides", self.name)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = normalize_data_format(data_format, self.name)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"Layer '{self.name}': `strides > 1` not supported in conjunction with "
                f"`dilation_rate > 1`. Received: strides={self.strides} and "
                f"dilation_rate={self.dilation_rate}"
            )
        self.activation_id = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.input_spec = InputSpec(min_ndim=4)

    # --- shapes -------------------------------------------------------------------------

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, input_shape):
        return tuple(input_shape[1:3]) if self.data_format == "channels_last" else tuple(input_shape[2:4])

    def _check_shape(self, input_shape, in_channels):
        """Keras's checks on an input shape: rank 4 and an output of positive size."""
        kernel_shape = self.kernel_size + (in_channels, self.filters)
        if len(input_shape) != 4:
            raise ValueError(
                f"Layer '{self.name}': kernel shape must have the same length as input, but received "
                f"kernel of shape {kernel_shape} and input of shape {tuple(input_shape)}."
            )
        sizes = [conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                 zip(self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate)]
        if min(sizes) <= 0:
            raise ValueError(
                f"Layer '{self.name}': computed output size would be zero or negative. Received "
                f"`inputs shape={tuple(input_shape)}`, `kernel shape={kernel_shape}`, "
                f"`dilation_rate={self.dilation_rate}`, `strides={self.strides}`, "
                f"`padding={self.padding}`."
            )
        return tuple(sizes)

    def compute_output_shape(self, input_shape):
        in_channels = input_shape[self._channel_axis()] if len(input_shape) == 4 else None
        ho, wo = self._check_shape(input_shape, in_channels)
        if self.data_format == "channels_last":
            return (input_shape[0], ho, wo, self.filters)
        return (input_shape[0], self.filters, ho, wo)

    def pads(self, input_shape):
        """TensorFlow's zero padding ((top, bottom), (left, right)) for an input of this shape."""
        return self._pads_hw(self._spatial(input_shape))

    def _pads_hw(self, spatial):
        return tuple(conv_padding(n, k, self.padding, s, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    # --- the Keras life cycle --------------------------------------------------------------

    def build(self, input_shape):
        if len(input_shape) < 4:
            self._check_input_spec(input_shape)
        in_channels = input_shape[self._channel_axis()]
        if in_channels % self.groups != 0:
            raise ValueError(
                f"Layer '{self.name}': the number of input channels must be evenly divisible by the "
                f"number of groups. Received groups={self.groups}, but the input has {in_channels} "
                f"channels (full input shape is {tuple(input_shape)})."
            )
        self._check_shape(input_shape, in_channels // self.groups)
        shape = self.kernel_size + (in_channels // self.groups, self.filters)
        self.kernel = self.add_weight("kernel", shape, self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.input_spec = InputSpec(min_ndim=4, axes={self._channel_axis(): in_channels})
        self.built = True

    def call(self, x, training=None):
        self._check_shape(x.shape, self.kernel.shape[2])
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        x = np.ascontiguousarray(x)
        pads = self._pads_hw(x.shape[1:3])
        z = conv2d_nhwc(x, self.kernel, self.bias if self.use_bias else None,
                        self.strides, pads, self.dilation_rate, self.groups)
        self._cache = (x, z, pads)
        y = self.activation(z)
        if self.data_format == "channels_first":
            y = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
        return y

    def backward(self, dy):
        """dy: shaped like the last output -> dx shaped like the last input; fills grads."""
        dy = self._check_dy(dy)
        x, z, pads = self._cache
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 3, 1)
        dz = np.ascontiguousarray(activations.gradient(self.activation, z, dy), dtype=self.dtype)
        self.grads = {"kernel": conv2d_kernel_grad(x, dz, self.kernel.shape, self.strides, pads,
                                                   self.dilation_rate, self.groups)}
        if self.use_bias:
            self.grads["bias"] = column_sums(dz)
        dx = conv2d_input_grad(dz, self.kernel, x.shape, self.strides, pads, self.dilation_rate, self.groups)
        if self.data_format == "channels_first":
            dx = np.ascontiguousarray(dx.transpose(0, 3, 1, 2))
        return dx

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": self.activation_id,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }
