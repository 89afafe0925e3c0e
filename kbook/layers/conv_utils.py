"""Argument normalisation and output-size arithmetic shared by Conv2D and the pooling layers.

TensorFlow's "same" padding: the output has ceil(L / stride) positions, the
total padding is whatever makes that work, and when the total is odd the extra
row/column goes to the bottom/right (``after``).  With strides > 1 this is
often asymmetric even for odd kernels, which is where from-scratch code slips.
"""
import math


def normalize_tuple(value, n, name, layer_name, allow_zero=False):
    """An int or an n-sequence of ints -> a tuple of n ints, validated like Keras."""
    if isinstance(value, bool):
        value = None  # bools are ints in Python, never valid sizes
    if isinstance(value, int):
        values = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = None
        if values is None or len(values) != n or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError(
                f"Layer '{layer_name}': the `{name}` argument must be a tuple of {n} integers "
                f"(or one integer). Received: {name}={value!r}"
            )
    smallest = 0 if allow_zero else 1
    if any(v < smallest for v in values):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"Layer '{layer_name}': the `{name}` argument must be a tuple of {n} integers {relation}. "
            f"Received: {name}={value!r}"
        )
    return values


def normalize_padding(value, layer_name):
    padding = value.lower() if isinstance(value, str) else value
    if padding not in {"valid", "same"}:
        raise ValueError(
            f"Layer '{layer_name}': the `padding` argument must be one of \"valid\", \"same\". "
            f"Received: padding={value!r}"
        )
    return padding


def normalize_data_format(value, layer_name):
    if value is None:
        return "channels_last"  # keras.config.image_data_format()'s default
    data_format = value.lower() if isinstance(value, str) else value
    if data_format not in {"channels_last", "channels_first"}:
        raise ValueError(
            f"Layer '{layer_name}': the `data_format` argument must be one of "
            f"\"channels_first\", \"channels_last\". Received: data_format={value!r}"
        )
    return data_format


def dilated_size(kernel_size, dilation_rate=1):
    """A kernel of k taps with gaps of d-1 spans (k - 1) * d + 1 cells."""
    return (kernel_size - 1) * dilation_rate + 1


def conv_output_length(input_length, kernel_size, padding, stride, dilation_rate=1):
    """Output positions along one axis: valid -> ceil((L - k' + 1) / s); same -> ceil(L / s)."""
    span = dilated_size(kernel_size, dilation_rate)
    if padding == "same":
        return math.ceil(input_length / stride)
    return max(0, math.ceil((input_length - span + 1) / stride))


def same_padding(input_length, kernel_size, stride, dilation_rate=1):
    """TensorFlow's (before, after) padding for "same": the odd cell goes after."""
    span = dilated_size(kernel_size, dilation_rate)
    out = math.ceil(input_length / stride)
    total = max((out - 1) * stride + span - input_length, 0)
    return total // 2, total - total // 2


def conv_padding(input_length, kernel_size, padding, stride, dilation_rate=1):
    """(before, after) zeros added along one axis: none for "valid", TensorFlow's split for "same"."""
    if padding == "same":
        return same_padding(input_length, kernel_size, stride, dilation_rate)
    return 0, 0
