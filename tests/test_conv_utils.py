"""conv_utils: output sizes equal Keras's, "same" padding is TensorFlow's split, arguments are validated."""
import itertools

import numpy as np
import pytest

from kbook.layers.conv_utils import (conv_output_length, conv_padding, dilated_size, normalize_data_format,
                                     normalize_padding, normalize_tuple, same_padding)

SIZES = list(itertools.product(range(1, 13), range(1, 6), range(1, 5), range(1, 4)))  # L, k, s, d


def test_output_length_equals_keras_for_many_sizes():
    from keras.src.ops.operation_utils import compute_conv_output_shape

    checked = 0
    for length, k, s, d in SIZES:
        for padding in ("valid", "same"):
            ours = conv_output_length(length, k, padding, s, d)
            try:
                keras = compute_conv_output_shape((1, length, 1), 1, (k,), strides=s, padding=padding,
                                                  dilation_rate=d)[1]
            except ValueError:  # Keras refuses an empty output
                assert ours == 0 and padding == "valid"
                continue
            assert ours == keras, (length, k, s, d, padding)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize("length,k,s,d", [(7, 3, 1, 1), (8, 3, 2, 1), (10, 4, 3, 1), (9, 2, 1, 3)])
def test_valid_formula_in_both_forms(length, k, s, d):
    span = dilated_size(k, d)
    assert span == (k - 1) * d + 1
    assert conv_output_length(length, k, "valid", s, d) == (length - span) // s + 1


def test_same_padding_is_tensorflows_split(tf):
    """conv(x, SAME) == conv(pad(x, our (before, after)), VALID), for every small case TF accepts."""
    rng = np.random.default_rng(0)
    odd_cases = 0
    for length, k, s, d in SIZES:
        if s > 1 and d > 1:
            continue  # TensorFlow's conv2d refuses strides > 1 with dilations > 1
        before, after = same_padding(length, k, s, d)
        assert conv_padding(length, k, "same", s, d) == (before, after)
        assert conv_padding(length, k, "valid", s, d) == (0, 0)
        assert before <= after <= before + 1
        x = rng.standard_normal((1, length, 1, 1))
        kernel = rng.standard_normal((k, 1, 1, 1))
        same = tf.nn.conv2d(x, kernel, strides=(s, 1), padding="SAME", dilations=(d, 1)).numpy()
        padded = np.pad(x, ((0, 0), (before, after), (0, 0), (0, 0)))
        valid = tf.nn.conv2d(padded, kernel, strides=(s, 1), padding="VALID", dilations=(d, 1)).numpy()
        assert same.shape[1] == conv_output_length(length, k, "same", s, d)
        np.testing.assert_allclose(valid, same, rtol=1e-12, atol=1e-12)
        if (before + after) % 2 == 1:
            odd_cases += 1
            # The other split (extra cell first) differs in general: the side matters.
            other = np.pad(x, ((0, 0), (after, before), (0, 0), (0, 0)))
            if not np.allclose(tf.nn.conv2d(other, kernel, strides=(s, 1), padding="VALID",
                                            dilations=(d, 1)).numpy(), same):
                odd_cases += 1000
    assert odd_cases > 1000  # odd totals were met, and the wrong side was caught at least once


def test_stride_two_odd_kernel_is_asymmetric():
    # ceil(8 / 2) = 4 outputs need (4 - 1) * 2 + 3 = 9 rows: one padded row, at the bottom.
    assert same_padding(8, 3, 2) == (0, 1)
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(5, 1, 3) == (0, 0)  # a total of zero is never negative
    assert same_padding(6, 4, 1) == (1, 2)


@pytest.mark.parametrize("value,expected", [(3, (3, 3)), ((2, 5), (2, 5)), ([1, 4], (1, 4))])
def test_normalize_tuple_accepts_ints_and_pairs(value, expected):
    assert normalize_tuple(value, 2, "kernel_size", "conv2d") == expected


@pytest.mark.parametrize("value", [True, 2.0, (3,), (3, 3, 3), (3, "3"), (3, 2.0), None, "3"])
def test_normalize_tuple_rejects_non_integers(value):
    with pytest.raises(ValueError, match=r"Layer 'c': the `strides` argument must be a tuple of 2 integers"):
        normalize_tuple(value, 2, "strides", "c")


@pytest.mark.parametrize("value", [0, -1, (2, 0)])
def test_normalize_tuple_rejects_non_positive(value):
    with pytest.raises(ValueError, match=r"Layer 'c': .*`kernel_size`.*> 0"):
        normalize_tuple(value, 2, "kernel_size", "c")
    if value != -1:
        assert min(normalize_tuple(value, 2, "padding_size", "c", allow_zero=True)) == 0


def test_padding_and_data_format():
    assert normalize_padding("SAME", "c") == "same"
    assert normalize_data_format(None, "c") == "channels_last"
    assert normalize_data_format("Channels_First", "c") == "channels_first"
    with pytest.raises(ValueError, match=r"Layer 'c': the `padding` argument.*Received: padding='full'"):
        normalize_padding("full", "c")
    with pytest.raises(ValueError, match=r"Layer 'c': the `data_format` argument.*'nhwc'"):
        normalize_data_format("nhwc", "c")
