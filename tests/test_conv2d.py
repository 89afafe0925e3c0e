"""Conv2D: identical to tf.keras (forward and every gradient), TensorFlow's padding, Keras's errors;
the photo, the convolution explorer and the chapter's exercise checkers."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kbook.ops.conv2d as conv_module
from kbook.check import TOLERANCES, check_layer, import_tensorflow, keras_twin, relative_error
from kbook.exercises import conv2d as ex
from kbook.images import sample_photo
from kbook.layers import Conv2D
from kbook.layers.conv_utils import conv_output_length, same_padding
from kbook.widgets.conv2d import (CHANNEL_FILTERS, KERNELS, Conv2DChannelsExplorer, Conv2DExplorer,
                                  channel_kernel, make_kernel)

ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "gelu"]


def random_weights(layer, rng):
    """Random kernel and a nonzero bias, so that every path (bias included) is exercised."""
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])


conv_args = st.fixed_dictionaries({
    "kernel_size": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "strides": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "dilation_rate": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "padding": st.sampled_from(["valid", "same"]),
    "groups": st.integers(1, 3),
    "activation": st.sampled_from(ACTIVATIONS),
    "use_bias": st.booleans(),
})


def build_case(args, hw, n, channels_per_group, filters_per_group, dilate, dtype, data_format, seed):
    args = dict(args)
    if dilate:
        args["strides"] = (1, 1)
    else:
        args["dilation_rate"] = (1, 1)
    for axis in (0, 1):
        span = (args["kernel_size"][axis] - 1) * args["dilation_rate"][axis] + 1
        if args["padding"] == "valid":
            assume(hw[axis] >= span)
    groups = args["groups"]
    channels = groups * channels_per_group
    layer = Conv2D(filters=groups * filters_per_group, data_format=data_format, dtype=dtype, **args)
    shape = (n, *hw, channels) if data_format == "channels_last" else (n, channels, *hw)
    rng = np.random.default_rng(seed)
    layer.build(shape)
    random_weights(layer, rng)
    return layer, rng.standard_normal(shape) * 2


@settings(max_examples=40, deadline=None)
@given(args=conv_args, hw=st.tuples(st.integers(1, 9), st.integers(1, 9)), n=st.integers(1, 3),
       cg=st.integers(1, 3), fg=st.integers(1, 3), dilate=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_conv2d_matches_keras(args, hw, n, cg, fg, dilate, dtype, seed):
    layer, x = build_case(args, hw, n, cg, fg, dilate, dtype, "channels_last", seed)
    assume(not tf_grouped_dilated_is_unreliable(layer))  # TensorFlow's defect: see the tests below
    report = check_layer(layer, x, seed=seed, raise_on_failure=False)
    assert report.ok, repr(report)
    assert report.rows[0].shape == layer.compute_output_shape(x.shape)


def tf_grouped_dilated_is_unreliable(layer):
    """TF 2.21 (oneDNN off) sometimes gets a grouped, dilated convolution wrong: a NaN kernel
    gradient or other garbage, different from call to call (dilated along an axis where the kernel
    has size 1: 6 of 8 calls had NaN; kernel (2, 2), dilation (1, 3), groups 2: an output 0.69 off
    and a NaN dL/dx in one pytest run, right in 40 fresh calls; one hypothesis seed aborted the
    process inside TensorFlow).  The two tests below check kbook there against oracles TensorFlow
    gets right: the same layer undilated, and one ungrouped convolution per group."""
    return layer.groups > 1 and any(d > 1 for d in layer.dilation_rate)


@pytest.mark.parametrize("kernel_size,dilation_rate", [((2, 1), (2, 3)), ((1, 3), (2, 2)), ((1, 1), (3, 2))])
def test_grouped_convolution_dilated_along_a_unit_axis(kernel_size, dilation_rate):
    rng = np.random.default_rng(4)
    layer = Conv2D(4, kernel_size, padding="same", dilation_rate=dilation_rate, groups=2, dtype="float64")
    assert tf_grouped_dilated_is_unreliable(layer)
    undilated = tuple(1 if k == 1 else d for k, d in zip(kernel_size, dilation_rate))
    twin = Conv2D(4, kernel_size, padding="same", dilation_rate=undilated, groups=2, dtype="float64")
    x = rng.standard_normal((2, 5, 8, 6))
    for each in (layer, twin):
        each.build(x.shape)
    random_weights(layer, rng)
    twin.set_weights(layer.get_weights())
    dy = rng.standard_normal(layer.compute_output_shape(x.shape))
    np.testing.assert_array_equal(layer(x), twin(x))
    np.testing.assert_array_equal(layer.backward(dy), twin.backward(dy))
    for name in ("kernel", "bias"):
        np.testing.assert_array_equal(layer.grads[name], twin.grads[name])
    assert check_layer(twin, x, raise_on_failure=False).ok      # and that layer is TensorFlow's


@settings(max_examples=25, deadline=None)
@given(kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)), dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.sampled_from(["valid", "same"]), groups=st.integers(2, 3), cg=st.integers(1, 3),
       fg=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_grouped_dilated_convolution_is_one_convolution_per_group(kernel, dilation, padding, groups, cg, fg, seed):
    """Forward, dL/dx and dL/dkernel of a grouped convolution equal those of ``groups`` ungrouped
    convolutions (each checked against TensorFlow by the tests above), side by side."""
    rng = np.random.default_rng(seed)
    layer = Conv2D(groups * fg, kernel, padding=padding, dilation_rate=dilation, groups=groups, dtype="float64")
    x = rng.standard_normal((2, 9, 10, groups * cg))
    layer.build(x.shape)
    random_weights(layer, rng)
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    for g in range(groups):
        part = Conv2D(fg, kernel, padding=padding, dilation_rate=dilation, dtype="float64")
        inputs, filters = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
        part.build(x[..., inputs].shape)
        part.set_weights([layer.kernel[..., filters], layer.bias[filters]])
        np.testing.assert_allclose(y[..., filters], part(x[..., inputs]), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx[..., inputs], part.backward(dy[..., filters]), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["kernel"][..., filters], part.grads["kernel"], rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(args=conv_args, hw=st.tuples(st.integers(1, 8), st.integers(1, 8)), n=st.integers(1, 2),
       cg=st.integers(1, 2), fg=st.integers(1, 3), dilate=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_channels_first_matches_keras_on_transposed_data(tf, args, hw, n, cg, fg, dilate, dtype, seed):
    """With oneDNN off (kbook's setting) TensorFlow's CPU kernel has no NCHW Conv2D, so the twin runs
    channels_last on x transposed."""
    layer, x = build_case(args, hw, n, cg, fg, dilate, dtype, "channels_first", seed)
    assume(not tf_grouped_dilated_is_unreliable(layer))
    y = layer(x)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)

    twin = tf.keras.layers.Conv2D(**{**layer.get_config(), "data_format": "channels_last", "name": None})
    x_tf = tf.constant(x.transpose(0, 2, 3, 1).astype(dtype))
    twin.build(x_tf.shape)
    twin.set_weights(layer.get_weights())
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = twin(x_tf)
    grads = tape.gradient(y_tf, [x_tf] + list(twin.weights), output_gradients=tf.constant(dy.transpose(0, 2, 3, 1)))
    tol = TOLERANCES[dtype]
    assert y.shape == (n, layer.filters) + y_tf.shape[1:3]
    assert relative_error(y, y_tf.numpy().transpose(0, 3, 1, 2)) <= tol
    assert relative_error(dx, grads[0].numpy().transpose(0, 3, 1, 2)) <= tol
    for name, g in zip(layer.weight_names, grads[1:]):
        assert relative_error(layer.grads[name], g.numpy()) <= tol, name


CONFIGS = [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=3, strides=2, padding="same"),        # odd total: extra row at the bottom
    dict(filters=3, kernel_size=(2, 4), strides=(3, 2), padding="same"),
    dict(filters=6, kernel_size=3, padding="same", groups=3, activation="relu"),
    dict(filters=2, kernel_size=(3, 2), dilation_rate=(2, 3), padding="same", activation="tanh"),
    dict(filters=5, kernel_size=1, strides=3, use_bias=False),
    dict(filters=6, kernel_size=5, strides=4, padding="valid", groups=2),  # a remainder row is never seen
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_configurations_match_keras(config, dtype, rng):
    layer = Conv2D(dtype=dtype, **config)
    x = rng.standard_normal((2, 11, 10, 6))
    layer.build(x.shape)
    random_weights(layer, rng)
    check_layer(layer, x)  # raises CheckFailed on any mismatch


@pytest.mark.parametrize("block_bytes", [1, 3000, 30000, 1 << 20])
@pytest.mark.parametrize("config", [dict(padding="same"), dict(strides=2, padding="same"),
                                    dict(padding="valid", dilation_rate=2)])
def test_blocks_of_any_size_give_the_same_answer(monkeypatch, rng, block_bytes, config):
    """One output row per block; a few rows (a short last block); two whole images, then one; all images."""
    monkeypatch.setattr(conv_module, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(conv_module, "_KERNEL_GRAD_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(conv_module, "_MIN_GEMM_ROWS", 1)
    # Stride 1: shifted GEMMs (40 channels), bands (5 and 2); dx by the transposed convolution, then scattering.
    # Strides 2: im2col; dx by col2im, whose blocks (one output row each with block_bytes=1) start mid-image.
    for channels in (40, 5, 2):
        layer = Conv2D(7, 3, dtype="float64", **config)
        x = rng.standard_normal((3, 13, 9, channels))
        layer.build(x.shape)
        random_weights(layer, rng)
        check_layer(layer, x)


@pytest.mark.parametrize("block_bytes", [1, 300, 3000])
def test_kernel_grad_of_a_one_row_kernel_over_uneven_blocks(monkeypatch, rng, block_bytes):
    """A kernel one row high leaves no zeroed rows between the images of a block: the bands' round-up
    to whole tiles must not read the dy an earlier block left in the next image's slot."""
    monkeypatch.setattr(conv_module, "_KERNEL_GRAD_BLOCK_BYTES", block_bytes)
    x = rng.standard_normal((5, 3, 5, 2))
    dy = rng.standard_normal((5, 3, 3, 4))
    pads = ((0, 0), (0, 0))
    exact = conv_module._kernel_grad_im2col(x, dy, (1, 3, 2, 4), (1, 1), pads, (1, 1), 1)
    for T in (2, 4):
        np.testing.assert_allclose(conv_module._kernel_grad_bands(x, dy, (1, 3, 2, 4), pads, (1, 1), T), exact,
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel_shape", [(3, 2), (2, 5), (1, 3), (3, 1)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1), (1, 2), (2, 3)])
def test_the_three_engines_agree(rng, kernel_shape, dilation):
    """Shifted GEMMs, banded tiles (every tile width, the capped ones included) and im2col: the same
    output and the same dL/dkernel, in float64."""
    x = rng.standard_normal((2, 9, 14, 3))
    kernel, bias = rng.standard_normal((*kernel_shape, 3, 4)), rng.standard_normal(4)
    pads = ((1, 1), (0, 1))
    im2col = conv_module._conv_im2col(x, kernel, bias, (1, 1), pads, dilation, 1)
    dy = rng.standard_normal(im2col.shape)
    exact = conv_module._kernel_grad_im2col(x, dy, kernel.shape, (1, 1), pads, dilation, 1)
    np.testing.assert_allclose(conv_module._conv_shift(x, kernel, bias, pads, dilation), im2col, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv_module._kernel_grad_shift(x, dy, kernel.shape, pads, dilation), exact,
                               rtol=1e-12, atol=1e-12)
    for T in (1, 2, 3, 5):
        np.testing.assert_allclose(conv_module._conv_bands(x, kernel, bias, pads, dilation, T), im2col,
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(conv_module._kernel_grad_bands(x, dy, kernel.shape, pads, dilation, T), exact,
                                   rtol=1e-12, atol=1e-12)


def test_band_width_follows_the_measured_rule():
    """T = span - 1 (two tiles per output tile), capped at 64 input values a tile, up to 8 channels
    for kernels at most 3 wide; 0 = the shifted GEMMs."""
    width = conv_module._band_width
    assert [width(3, span) for span in (1, 2, 3, 5, 7)] == [0, 2, 2, 4, 6]
    assert [width(8, span) for span in (3, 5, 9)] == [2, 4, 8]
    assert [width(16, span) for span in (3, 5, 7)] == [0, 4, 4]
    assert [width(32, span) for span in (3, 5, 7)] == [0, 2, 2]
    assert width(33, 7) == width(64, 7) == width(0, 3) == 0


@pytest.mark.parametrize("channels", [3, 8, 16])
def test_an_inf_in_the_input_reaches_only_the_outputs_whose_windows_hold_it(rng, channels):
    """The bands multiply inputs outside a tap by zero, and 0 * inf is NaN: such inputs go to an exact
    engine.  The inf sits where a band (or a thrown-away position of dL/dkernel) would pick it up."""
    x = rng.standard_normal((1, 6, 7, channels))
    x[0, 2, 3, 1] = np.inf
    kernel, bias = rng.standard_normal((3, 3, channels, 2)), rng.standard_normal(2)
    pads = ((0, 0), (0, 0))
    exact = conv_module._conv_im2col(x, kernel, bias, (1, 1), pads, (1, 1), 1)
    assert np.isnan(conv_module._conv_bands(x, kernel, bias, pads, (1, 1), 2)).sum() > np.isnan(exact).sum()
    got = conv_module.conv2d_nhwc(x, kernel, bias, pads=pads)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(exact))
    np.testing.assert_allclose(got[np.isfinite(got)], exact[np.isfinite(exact)], rtol=1e-12)
    assert not np.isfinite(got[0, 0:3, 1:4]).any() and np.isfinite(got[0, 3:]).all()  # windows holding (2, 3)
    # dL/dkernel: an inf in column 0 is read, on the padded grid, by the thrown-away positions at the
    # end of the row above (tap j = 2), where dy is zero; in Keras it meets only tap j = 0.
    x[0, 2, 3, 1], x[0, 3, 0, 1] = 0.5, np.inf
    dy = rng.standard_normal(exact.shape)
    dk_exact = conv_module._kernel_grad_im2col(x, dy, kernel.shape, (1, 1), pads, (1, 1), 1)
    dk = conv_module.conv2d_kernel_grad(x, dy, kernel.shape, pads=pads)
    np.testing.assert_array_equal(np.isfinite(dk), np.isfinite(dk_exact))
    assert not np.isfinite(dk[:, 0, 1]).all() and np.isfinite(dk[:, 1:]).all() and np.isfinite(dk[:, :, 0]).all()


@settings(max_examples=40, deadline=None)
@given(kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)), strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)), hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       pads=st.tuples(*[st.integers(0, 9)] * 4), channels=st.integers(1, 6), n=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_the_three_input_gradients_agree(kernel, strides, dilation, hw, pads, channels, n, seed):
    """dx by scattering each tap's share (few input channels), by col2im (strides > 1) and by the
    transposed convolution (every other case): the same numbers."""
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    # At most span - 1 in all, as 'valid' and 'same' pad: never a window of padding only.
    before = [p % s for p, s in zip(pads[::2], spans)]
    pads = tuple((b, p % (s - b)) for b, p, s in zip(before, pads[1::2], spans))
    sizes = [(h + p[0] + p[1] - s) // st_ + 1 for h, p, s, st_ in zip(hw, pads, spans, strides)]
    assume(min(sizes) >= 1)
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((*kernel, channels, 3))
    dy = rng.standard_normal((n, *sizes, 3))
    x_shape = (n, *hw, channels)
    scattered = conv_module._input_grad_scatter(dy, weights, x_shape, strides, pads, dilation)
    col2im = conv_module._input_grad_col2im(dy, weights, x_shape, strides, pads, dilation)
    transposed = conv_module._input_grad_transposed(dy, weights, x_shape, strides, pads, dilation, 1)
    limits = conv_module._BLOCK_BYTES, conv_module._MIN_GEMM_ROWS
    try:  # col2im again, one output row a block (hypothesis runs the body many times: no monkeypatch fixture)
        conv_module._BLOCK_BYTES, conv_module._MIN_GEMM_ROWS = 1, 1
        col2im_rows = conv_module._input_grad_col2im(dy, weights, x_shape, strides, pads, dilation)
    finally:
        conv_module._BLOCK_BYTES, conv_module._MIN_GEMM_ROWS = limits
    assert scattered.shape == col2im.shape == col2im_rows.shape == transposed.shape == x_shape
    np.testing.assert_allclose(scattered, transposed, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(col2im, transposed, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(col2im_rows, transposed, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels", [3, 40])  # the bands, the shifted GEMMs
def test_infs_in_the_input_spread_as_in_keras(rng, channels):
    """Forward and dL/dkernel: inf and NaN exactly where tf.keras has them, the same numbers elsewhere."""
    tf = import_tensorflow()
    x = rng.standard_normal((1, 6, 7, channels))
    x[0, 3, 0, 1] = np.inf  # read by thrown-away positions of dL/dkernel's fast engines (see the test above)
    layer = Conv2D(2, 3, dtype="float64")
    y = layer(x)
    twin = keras_twin(layer)
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())
    x_tf, dy = tf.constant(x), rng.standard_normal(y.shape)
    with tf.GradientTape() as tape:
        y_tf = twin(x_tf)
    dk_tf = tape.gradient(y_tf, twin.kernel, output_gradients=tf.constant(dy)).numpy()
    layer.backward(dy)
    for ours, theirs in [(y, y_tf.numpy()), (layer.grads["kernel"], dk_tf)]:
        finite = np.isfinite(theirs)
        assert not finite.all()
        np.testing.assert_array_equal(np.isfinite(ours), finite)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-10)


def test_same_padding_stride_two_puts_the_extra_row_at_the_bottom(rng):
    layer = Conv2D(1, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    x = rng.standard_normal((1, 8, 8, 1))
    y = layer(x)
    assert layer.pads(x.shape) == ((0, 1), (0, 1))
    k = layer.kernel[:, :, 0, 0]
    bottom_right = np.pad(x[0, :, :, 0], ((0, 1), (0, 1)))
    top_left = np.pad(x[0, :, :, 0], ((1, 0), (1, 0)))

    def strided_valid(image):
        return np.array([[(image[2 * i:2 * i + 3, 2 * j:2 * j + 3] * k).sum() for j in range(4)] for i in range(4)])

    np.testing.assert_allclose(y[0, :, :, 0], strided_valid(bottom_right), rtol=1e-12)
    assert not np.allclose(y[0, :, :, 0], strided_valid(top_left))


def test_cross_correlation_not_convolution():
    """Keras does not flip the kernel: an impulse reproduces the kernel upside down, a kernel tap k[i, j]
    multiplies x[r + i, c + j]."""
    layer = Conv2D(1, (2, 3), use_bias=False, dtype="float64")
    x = np.zeros((1, 4, 5, 1))
    x[0, 2, 2, 0] = 1.0
    y = layer(x)[0, :, :, 0]
    k = layer.kernel[:, :, 0, 0]
    np.testing.assert_allclose(y[1:3, 0:3], k[::-1, ::-1])  # y[r, c] = k[2 - r, 2 - c]


def test_the_notes_example_7x7_gray_3x3_valid():
    layer = Conv2D(filters=1, kernel_size=3, strides=1, padding="valid")
    y = layer(np.random.default_rng(0).standard_normal((1, 7, 7, 1)))
    w, b = layer.get_weights()
    assert (y.shape, w.shape, b.shape) == ((1, 5, 5, 1), (3, 3, 1, 1), (1,))
    assert layer.count_params() == 10


def test_new_spatial_size_after_build_and_dtype_cast(rng):
    layer = Conv2D(2, 3, strides=2, padding="same")
    assert layer(np.ones((1, 9, 9, 3), dtype=int)).dtype == np.float32
    assert layer(rng.standard_normal((2, 5, 12, 3))).shape == (2, 3, 6, 2)
    twin = keras_twin(layer)
    assert twin.get_config()["padding"] == "same" and twin.get_config()["strides"] == (2, 2)


def test_compute_output_shape_both_formats():
    assert Conv2D(8, 3, strides=2, padding="same").compute_output_shape((4, 7, 7, 3)) == (4, 4, 4, 8)
    layer = Conv2D(8, (3, 1), data_format="channels_first")
    assert layer.compute_output_shape((4, 3, 7, 5)) == (4, 8, 5, 5)


def test_backward_gradient_by_finite_differences(rng):
    layer = Conv2D(2, 3, strides=2, padding="same", activation="tanh", dtype="float64")
    x = rng.standard_normal((1, 5, 6, 2))
    dy = rng.standard_normal(layer.compute_output_shape(x.shape))
    layer(x)
    dx = layer.backward(dy)
    eps = 1e-6
    for index in [(0, 0, 0, 0), (0, 4, 5, 1), (0, 2, 3, 0)]:
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric = ((layer(up) * dy).sum() - (layer(down) * dy).sum()) / (2 * eps)
        assert abs(numeric - dx[index]) < 1e-7


# --- errors: Keras's checks, messages that name the layer and the argument ------------------------------

@pytest.mark.parametrize("kwargs,pattern", [
    (dict(filters=0, kernel_size=3), r"Layer 'c': invalid value for argument `filters`.*filters=0"),
    (dict(filters=-2, kernel_size=3), r"`filters`.*strictly positive.*filters=-2"),
    (dict(filters=2.5, kernel_size=3), r"`filters`.*filters=2.5"),
    (dict(filters=None, kernel_size=3), r"`filters`.*filters=None"),
    (dict(filters=True, kernel_size=3), r"`filters`.*filters=True"),
    (dict(filters=4, kernel_size=3, groups=3), r"Layer 'c': the number of filters must be evenly divisible.*groups=3, filters=4"),
    (dict(filters=4, kernel_size=3, groups=0), r"Layer 'c': the number of groups must be a positive integer.*groups=0"),
    (dict(filters=4, kernel_size=0), r"Layer 'c': the `kernel_size` argument must be a tuple of 2 integers > 0"),
    (dict(filters=4, kernel_size=(3,)), r"the `kernel_size` argument must be a tuple of 2 integers"),
    (dict(filters=4, kernel_size=(3, 2.0)), r"`kernel_size`"),
    (dict(filters=4, kernel_size=3, strides=0), r"the `strides` argument must be a tuple of 2 integers > 0"),
    (dict(filters=4, kernel_size=3, dilation_rate=(1, 0)), r"`dilation_rate`.*> 0"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2),
     r"Layer 'c': `strides > 1` not supported in conjunction with `dilation_rate > 1`"),
    (dict(filters=4, kernel_size=3, strides=(1, 2), dilation_rate=(2, 1)), r"`strides > 1`.*`dilation_rate > 1`"),
    (dict(filters=4, kernel_size=3, padding="full"), r"Layer 'c': the `padding` argument.*'full'"),
    (dict(filters=4, kernel_size=3, data_format="nhwc"), r"Layer 'c': the `data_format` argument.*'nhwc'"),
    (dict(filters=4, kernel_size=3, activation="relu9"), r"activation.*relu9"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Conv2D(name="c", **kwargs)


def test_keras_refuses_the_same_arguments(tf):
    for kwargs in [dict(filters=0, kernel_size=3), dict(filters=4, kernel_size=3, groups=3),
                   dict(filters=4, kernel_size=0), dict(filters=4, kernel_size=3, strides=2, dilation_rate=2),
                   dict(filters=4, kernel_size=3, padding="full")]:
        with pytest.raises(ValueError):
            tf.keras.layers.Conv2D(**kwargs)


@pytest.mark.parametrize("shape,pattern", [
    ((1, 2, 2, 1), r"Layer 'c': computed output size would be zero or negative.*inputs shape=\(1, 2, 2, 1\)"),
    ((1, 5, 5), r"Input 0 of layer 'c' is incompatible with the layer: expected min_ndim=4, found ndim=3"),
    ((1, 5, 5, 2, 1), r"Layer 'c': kernel shape must have the same length as input"),
    ((1, 5, 5, 3), r"Layer 'c': the number of input channels must be evenly divisible.*groups=2.*3 channels"),
])
def test_bad_inputs_at_build(shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        Conv2D(4, 3, groups=2 if shape == (1, 5, 5, 3) else 1, name="c")(np.zeros(shape))


def test_bad_inputs_after_build():
    layer = Conv2D(4, 3, name="c")
    layer(np.zeros((1, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"layer 'c'.*expected axis -1 of input shape to have value 2"):
        layer(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"Layer 'c': computed output size would be zero or negative"):
        layer(np.zeros((1, 2, 9, 2)))
    with pytest.raises(ValueError, match=r"Layer 'c': kernel shape must have the same length"):
        layer(np.zeros((1, 5, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"`dy` must have the shape of the last output \(1, 3, 3, 4\)"):
        layer(np.zeros((1, 5, 5, 2)))
        layer.backward(np.zeros((1, 5, 5, 4)))
    cf = Conv2D(4, 3, data_format="channels_first", name="c")
    cf(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"expected axis 1 of input shape to have value 2"):
        cf(np.zeros((1, 5, 5, 2)))


def test_backward_before_call_and_strings():
    with pytest.raises(RuntimeError, match=r"Layer 'c': call the layer on an input before `backward"):
        Conv2D(1, 1, name="c").backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(TypeError, match=r"Layer 'c': `inputs` must be numeric"):
        Conv2D(1, 1, name="c")(np.array([[[["a"]]]]))


# --- the photo -----------------------------------------------------------------------------------------

def test_sample_photo_is_deterministic_gray_in_unit_range():
    a, b = sample_photo(32), sample_photo(32)
    assert a.shape == (32, 32) and a.dtype == np.float64
    assert np.array_equal(a, b) and a is not b
    assert 0.0 <= a.min() < 0.2 and 0.8 < a.max() <= 1.0  # a real photo: dark and light parts
    assert sample_photo((20, 30), color=True, dtype="float32").shape == (20, 30, 3)
    big = sample_photo(64)
    np.testing.assert_allclose(big.reshape(32, 2, 32, 2).mean(axis=(1, 3)), a, atol=1e-12)  # area averages
    with pytest.raises(ValueError, match="size"):
        sample_photo(0)


# --- the explorer ----------------------------------------------------------------------------------------

def direct_conv(image, kernel, stride, pads, dilation=1):
    padded = np.pad(image, pads)
    k = kernel.shape[0]
    span = (k - 1) * dilation + 1
    rows = (padded.shape[0] - span) // stride + 1
    cols = (padded.shape[1] - span) // stride + 1
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = padded[i * stride:i * stride + span:dilation, j * stride:j * stride + span:dilation]
            out[i, j] = (window * kernel).sum()
    return out


def test_explorer_follows_its_keras_named_controls():
    explorer = Conv2DExplorer(size=24)
    figure, renders = explorer.live.figure, explorer.live.renders
    assert bytes(explorer.live.image.value).startswith(b"\x89PNG")
    explorer.kernel_size.value = 4
    explorer.strides.value = 2
    explorer.padding.value = "same"
    assert explorer.live.renders == renders + 3          # one redraw per control change
    assert explorer.live.figure is figure                # same figure: artists move in place
    assert explorer.output.shape == (12, 12)
    assert explorer.pads == ((1, 1), (1, 1))
    summary = explorer.summary()
    assert "Conv2D(kernel_size=4, strides=2, padding='same', dilation_rate=1)" in summary
    assert "rows: ceil(24 / 2) = 12; padding max((12-1)*2 + 4 - 24, 0) = 2 -> top 1, bottom 1" in summary
    expected = direct_conv(explorer.image, make_kernel("edge", 4), 2, ((1, 1), (1, 1)))
    np.testing.assert_allclose(explorer.output, expected, atol=1e-12)
    assert explorer._output_artist.get_array().shape == (12, 12)
    assert explorer._input_artist.get_array().shape == (26, 26)  # the padded input is what is drawn


def test_explorer_odd_padding_receptive_field_and_slider_limits():
    explorer = Conv2DExplorer(size=8, kernel_size=3, strides=2, padding="same")
    assert explorer.pads == ((0, 1), (0, 1))
    explorer.row.value, explorer.col.value = 3, 3
    assert explorer.receptive_field() == ((6, 8), (6, 8))      # row 8 is the padding below the image
    assert explorer._field.get_xy() == (5.5, 5.5)
    explorer.padding.value = "valid"                          # 3 x 3 output: the selection is clamped
    assert (explorer.row.max, explorer.row.value) == (2, 2)
    assert "output[2, 2] sees input rows 4..6, cols 4..6" in explorer.summary()


def test_explorer_dilation_kernels_and_errors():
    explorer = Conv2DExplorer(size=16, kernel="blur")
    explorer.dilation_rate.value = 2
    np.testing.assert_allclose(explorer.output, direct_conv(explorer.image, make_kernel("blur", 3), 1,
                                                            ((0, 0), (0, 0)), dilation=2), atol=1e-12)
    assert explorer.output.shape == (12, 12) and explorer._taps.get_visible()
    explorer.strides.value = 2  # Keras refuses strides > 1 with dilation_rate > 1; so does the explorer
    assert explorer.output is None and "`strides > 1` not supported" in explorer.summary()
    assert "ValueError" in explorer.caption.value
    explorer.dilation_rate.value = 1
    assert explorer.output.shape == (7, 7) and explorer.error is None
    for name in KERNELS:
        explorer.kernel.value = name
        assert explorer._middle_artist.get_array().shape == (3, 3)
    explorer.set_image(np.ones((10, 6)))
    assert explorer.output.shape == (4, 2)


def test_make_kernel_properties():
    for k in range(1, 8):
        assert make_kernel("edge", k).sum() == pytest.approx(0.0)
        assert make_kernel("blur", k).sum() == pytest.approx(1.0)
        assert make_kernel("sharpen", k).sum() == pytest.approx(1.0)
        assert make_kernel("identity", k).sum() == 1.0
        assert make_kernel("sobel_x", k).sum() == pytest.approx(0.0)
        np.testing.assert_array_equal(make_kernel("sobel_y", k), make_kernel("sobel_x", k).T)
    np.testing.assert_array_equal(make_kernel("sobel_x", 3), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    with pytest.raises(ValueError, match="name"):
        make_kernel("nope", 3)


# --- exercise checkers -------------------------------------------------------------------------------------

def test_output_shape_checker(assert_verdicts):
    assert Conv2D(16, 5, strides=2)(np.zeros((2, 32, 24, 3))).shape == (2, 14, 10, 16)
    assert_verdicts(ex.output_shape, [(2, 14, 10, 16), (np.int64(2), np.int32(14), 10, 16)], [
        ((2, 15, 11, 16), "rounds up"), ((2, 16, 12, 16), "padding='same'"), ((2, 28, 20, 16), "strides=1"),
        ((2, 13, 9, 16), "+ 1"), ((2, 14, 10, 3), "`filters`"), ((2, 10, 14, 16), "swapped"),
        ((1, 14, 10, 16), "batch"), ((14, 10, 16), "batch axis"), ((2, 14.5, 10, 16), "forget the floor"),
        ((2, 14.0, 10, 16), "not the float"), ([2, 14, 10, 16], "Answer with a tuple"), ("(2, 14, 10, 16)", "tuple"),
        ((2, 14, 10, 15), "floor((L - kernel_size) / strides) + 1"),
    ])


def test_param_count_checker(assert_verdicts):
    layer = Conv2D(32, 3)
    layer.build((None, 64, 64, 3))
    assert_verdicts(ex.param_count, [layer.count_params(), np.int64(896)], [
        (864, "kernel alone"), (320, "input channels"), (288, "slice per input channel"), (960, "One bias per filter"),
        (28, "one filter"), (393248, "Dense layer"), (3538976, "weight sharing"), (896.0, "not the float"),
        (896.5, "whole number"), ("896", "not the text"), (True, "True / False"), (1000, "Does the 64 x 64 matter"),
    ])


def test_same_padding_checker(assert_verdicts):
    assert same_padding(8, 3, 2) == (0, 1)
    assert_verdicts(ex.same_padding, [(0, 1), (np.int64(0), np.int64(1))], [
        ((1, 0), "at the bottom"), ((1, 1), "strides=1"), ((0, 0), "one more than 8"), ((2, 0), "Only one row"),
        ((0.5, 0.5), "whole rows"), ([0, 1], "Answer with a tuple"), (1, "tuple"), ((0, 2), "which side"),
        ((-1, 2), "never negative"), ((0, np.int64(-1)), "never negative"), ((0, 1.0), "not the float"),
    ])
    assert "0.5 in your answer" in ex.same_padding((0.5, 0.5)).message


def _valid_correlation(image, kernel):
    kh, kw = kernel.shape
    return np.array([[(image[i:i + kh, j:j + kw] * kernel).sum() for j in range(image.shape[1] - kw + 1)]
                     for i in range(image.shape[0] - kh + 1)])


def _square_images_only(image, kernel):               # the output's side taken from the rows alone
    kh, kw = kernel.shape
    n = image.shape[0] - kh + 1
    return np.array([[(image[i:i + kh, j:j + kw] * kernel).sum() for j in range(n)] for i in range(n)])


def test_conv_single_channel_checker(assert_verdicts):
    def in_place(image, kernel):                       # right, but scribbles on its input afterwards
        out = _valid_correlation(image, kernel)
        image[...] = 0
        return out

    def float32(image, kernel):
        return _valid_correlation(image.astype(np.float32), kernel.astype(np.float32))

    assert_verdicts(ex.conv_single_channel, [_valid_correlation, float32, in_place], [
        (lambda image, kernel: _valid_correlation(image, kernel[::-1, ::-1]), "flips the kernel"),
        (lambda image, kernel: _valid_correlation(image, kernel).T, "transposed"),
        (lambda image, kernel: _valid_correlation(np.pad(image, 1), kernel), "did you pad"),
        (lambda image, kernel: _valid_correlation(image, kernel)[:-1, :-1], "the + 1"),
        (lambda image, kernel: _valid_correlation(image, kernel)[None], "2-D map"),
        (lambda image, kernel: _valid_correlation(image, kernel) + 1e-3, "Rectangular images and kernels too"),
        (_square_images_only, "Your maps are square"),
        (lambda image, kernel: 1 / 0, "ZeroDivisionError"),
        (3, "not a function"),
    ])
    assert "changed its input" in ex.conv_single_channel(in_place).message
    assert ex.conv_single_channel(lambda image, kernel: None).status == "not answered"


def _tf_pads(length, k, s):
    total = max((-(-length // s) - 1) * s + k - length, 0)
    return total // 2, total - total // 2


def test_tf_same_pads_checker(assert_verdicts):
    for length, k, s in [(8, 3, 2), (7, 4, 1), (5, 1, 3)]:
        assert _tf_pads(length, k, s) == same_padding(length, k, s)
    assert_verdicts(ex.tf_same_pads, [_tf_pads, lambda L, k, s: tuple(np.int64(v) for v in _tf_pads(L, k, s))], [
        (lambda L, k, s: _tf_pads(L, k, s)[::-1], "*after*"),
        (lambda L, k, s: ((k - 1) // 2, k - 1 - (k - 1) // 2), "only for strides=1"),
        (lambda L, k, s: (((-(-L // s) - 1) * s + k - L) // 2, ((-(-L // s) - 1) * s + k - L) - ((-(-L // s) - 1) * s + k - L) // 2),
         "never negative"),
        (lambda L, k, s: (max((L // s - 1) * s + k - L, 0) // 2, max((L // s - 1) * s + k - L, 0) - max((L // s - 1) * s + k - L, 0) // 2),
         "not floor"),
        (lambda L, k, s: list(_tf_pads(L, k, s)), "Answer with a tuple"),
        (lambda L, k, s: (sum(_tf_pads(L, k, s)) / 2, sum(_tf_pads(L, k, s)) / 2), "answer with an integer"),
        (lambda L, k, s: (0.5, 0.5), "whole cells"),
        (lambda L, k, s: (0, 1), "your function gives"),
        (lambda L, k, s: _tf_pads(L, k, s) + (0,), "two numbers"),
    ])
    assert ex.tf_same_pads(lambda L, k, s: None).status == "not answered"


def _multi_channel(image, kernel, bias):
    kh, kw, _, F = kernel.shape
    H, W = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    return np.array([[[(image[i:i + kh, j:j + kw, :] * kernel[..., f]).sum() + bias[f] for f in range(F)]
                      for j in range(W)] for i in range(H)])


def test_multi_channel_checker(assert_verdicts, tf):
    rng = np.random.default_rng(1)
    image, kernel, bias = rng.standard_normal((6, 7, 3)), rng.standard_normal((3, 2, 3, 4)), rng.standard_normal(4)
    twin = tf.keras.layers.Conv2D(4, (3, 2), dtype="float64")
    twin.build((1, 6, 7, 3))
    twin.set_weights([kernel, bias])
    np.testing.assert_allclose(_multi_channel(image, kernel, bias), twin(image[None]).numpy()[0], rtol=1e-12)

    def in_place(image, kernel, bias):
        out = _multi_channel(image, kernel, bias)
        bias += 1
        return out

    def by_layer(image, kernel, bias):                 # a right answer through kbook's own layer, in float32
        layer = Conv2D(kernel.shape[-1], kernel.shape[:2], dtype="float32")
        layer.build((1, *image.shape))
        layer.set_weights([kernel, bias])
        return layer(image[None].astype(np.float32))[0]

    assert_verdicts(ex.multi_channel, [_multi_channel, in_place, by_layer,
                                       lambda i, k, b: _multi_channel(i, k, b).tolist()], [
        (lambda i, k, b: _multi_channel(i, k, 0 * b), "bias is missing"),
        (lambda i, k, b: _multi_channel(i[..., :1], k[:, :, :1], b), "first channel"),
        (lambda i, k, b: _multi_channel(i[..., -1:], k[:, :, -1:], b), "last channel"),
        (lambda i, k, b: _multi_channel(i, k / i.shape[-1], b), "averages over the channels"),
        (lambda i, k, b: _multi_channel(i, k, i.shape[-1] * b), "once per filter"),
        (lambda i, k, b: _multi_channel(i, k[::-1, ::-1], b), "flips the kernel"),
        (lambda i, k, b: np.stack([_multi_channel(i[..., c:c + 1], k[:, :, c:c + 1], b) for c in range(i.shape[-1])], 2),
         "keeps the channel axis"),
        (lambda i, k, b: np.moveaxis(_multi_channel(i, k, b), -1, 0), "filters go last"),
        (lambda i, k, b: _multi_channel(i, k, b)[..., 0], "One map per filter"),
        (lambda i, k, b: _multi_channel(i, k, b)[:, :i.shape[0] - k.shape[0] + 1], "maps are square"),
    ])
    assert "changed its input" in ex.multi_channel(in_place).message


def test_output_length_helper_matches_layer():
    for length in range(3, 12):
        assert Conv2D(1, 3, strides=2)(np.zeros((1, length, 3, 1))).shape[1] == conv_output_length(length, 3, "valid", 2)


def test_empty_batch_gives_empty_output_and_gradients():
    layer = Conv2D(2, 3)
    y = layer(np.zeros((0, 6, 6, 3)))
    assert y.shape == (0, 4, 4, 2)
    assert layer.backward(np.zeros(y.shape)).shape == (0, 6, 6, 3)
    assert np.array_equal(layer.grads["kernel"], np.zeros((3, 3, 3, 2)))


# --- the channels explorer ----------------------------------------------------------------------------

def test_channels_explorer_terms_sum_to_the_layer_and_to_tf_keras(tf):
    explorer = Conv2DChannelsExplorer(size=16)
    for filters, kernel_size, padding, index in [(4, 3, "same", 1), (2, 5, "valid", 0), (3, 2, "same", 2)]:
        explorer.filters.value, explorer.kernel_size.value = filters, kernel_size
        explorer.padding.value, explorer.filter_index.value = padding, index
        twin = tf.keras.layers.Conv2D(filters, kernel_size, padding=padding, dtype="float64")
        twin.build(explorer.x.shape)
        twin.set_weights([channel_kernel(filters, kernel_size), np.array(explorer.BIAS[:filters])])
        y = twin(explorer.x).numpy()
        np.testing.assert_allclose(explorer.output, y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(explorer.contributions.sum(axis=0) + explorer.BIAS[index], y[0, :, :, index],
                                   rtol=1e-12, atol=1e-12)
        for c in range(3):   # each term is that channel alone through the filter's slice
            only = np.zeros_like(explorer.x)
            only[..., c] = explorer.x[..., c]
            np.testing.assert_allclose(explorer.contributions[c], twin(only).numpy()[0, :, :, index] - explorer.BIAS[index],
                                       rtol=1e-12, atol=1e-12)
        assert f"= {kernel_size}*{kernel_size}*3*{filters} + {filters}" in explorer.summary()
        assert "params = " in explorer.summary() and "equals Conv2D's map" in explorer.summary()
        assert f"{kernel_size * kernel_size * 3 * filters + filters} params" in explorer.summary()


def test_channels_explorer_filters_clamp_the_index_with_one_redraw():
    explorer = Conv2DChannelsExplorer(size=12, filters=4, filter_index=3)
    renders = explorer.live.renders
    explorer.filters.value = 2
    assert explorer.live.renders == renders + 1
    assert explorer.filter_index.value == 1 and explorer.filter_index.max == 1
    assert explorer.output.shape == (1, 12, 12, 2)
    assert "filter 1 (red - blue" in explorer.summary()


def test_channels_explorer_red_minus_blue_is_blind_to_gray():
    gray = np.repeat(np.linspace(0, 1, 100).reshape(10, 10, 1), 3, axis=-1)
    explorer = Conv2DChannelsExplorer(image=gray, filter_index=1)
    assert CHANNEL_FILTERS[1][0] == "red - blue"
    np.testing.assert_allclose(explorer.output[0, :, :, 1], explorer.BIAS[1], atol=1e-12)
    assert "G 0.00" in explorer.summary()


def test_channels_explorer_and_kernel_refuse_bad_input():
    with pytest.raises(ValueError, match="RGB"):
        Conv2DChannelsExplorer(image=np.zeros((8, 8)))
    with pytest.raises(ValueError, match="`filters` must be 1..4"):
        channel_kernel(5, 3)
    for kwargs, pattern in [(dict(filters=0), "`filters` must be an integer 1..4, got 0"),
                            (dict(filters=5), "`filters` must be an integer 1..4"),
                            (dict(filters=2.0), "`filters` must be an integer"),
                            (dict(kernel_size=8), "`kernel_size` must be an integer 1..7"),
                            (dict(filter_index=-1), "`filter_index` must be an integer >= 0"),
                            (dict(padding="full"), "`padding` must be 'valid' or 'same'"),
                            (dict(image=np.zeros((5, 4, 3)), kernel_size=5), "`kernel_size` must be an integer 1..4")]:
        with pytest.raises(ValueError, match=pattern):
            Conv2DChannelsExplorer(**kwargs)


def test_channels_explorer_clamps_what_it_can():
    explorer = Conv2DChannelsExplorer(size=12, filters=2, filter_index=3)   # past the last filter: the last one
    assert (explorer.filter_index.value, explorer.index) == (1, 1)
    explorer.kernel_size.value = 9                                            # sliders clamp to their range
    assert explorer.kernel_size.value == 7 and explorer.kernel.shape == (7, 7, 3, 2)
    explorer.filter_index.value = 5
    assert explorer.filter_index.value == 1
    small = Conv2DChannelsExplorer(image=np.ones((5, 4, 3)), padding="valid")
    assert small.kernel_size.max == 4                                         # "valid" needs the kernel inside
    small.kernel_size.value = 7
    assert small.output.shape == (1, 2, 1, 4)


def test_channels_explorer_controls_change_what_they_should():
    explorer = Conv2DChannelsExplorer(size=16)
    assert explorer.output.shape == (1, 16, 16, 4) and explorer.kernel.shape == (3, 3, 3, 4)
    assert explorer.titles[0, 1] == "input (16, 16, 3)\nx[..., 1]: green"
    assert explorer.titles[0, 3].startswith("kernel (3, 3, 3, 4)\n")
    assert explorer.titles[1, 4].startswith("output (16, 16, 4)\n")
    explorer.kernel_size.value = 5
    assert explorer.kernel.shape == (5, 5, 3, 4) and explorer.output.shape == (1, 16, 16, 4)   # "same"
    explorer.padding.value = "valid"
    assert explorer.output.shape == (1, 12, 12, 4) and explorer.contributions.shape == (3, 12, 12)
    assert explorer.titles[1, 4].startswith("output (12, 12, 4)")
    before = explorer.contributions.copy()
    explorer.filter_index.value = 3
    assert explorer.index == 3 and not np.allclose(explorer.contributions, before)
    assert explorer.titles[1, 3] == "sum + bias[3]\n= output[..., 3]" and "bias[3] = -0.05" in explorer.titles[0, 4]
    explorer.filters.value = 1
    assert explorer.output.shape == (1, 12, 12, 1) and explorer.index == 0
    assert "kernel (5, 5, 3, 1) + bias (1,) = 76 params = 5*5*3*1 + 1" in explorer.summary()
    assert explorer.layer.count_params() == 76
    picture = bytes(explorer.live.image.value)
    explorer.padding.value = "same"
    assert bytes(explorer.live.image.value) != picture


def test_channels_explorer_summary_adds_up_at_the_centre():
    explorer = Conv2DChannelsExplorer(size=16, filter_index=1)
    lines = explorer.summary().splitlines()
    assert lines[0] == "Conv2D(filters=4, kernel_size=3, padding='same') on one RGB image (1, 16, 16, 3) -> (1, 16, 16, 4)"
    assert lines[1] == "kernel (3, 3, 3, 4) + bias (4,) = 112 params = 3*3*3*4 + 4"
    terms = [explorer.contributions[c, 8, 8] for c in range(3)]
    assert lines[3] == (f"  at the centre, output[0, 8, 8, 1]: R {terms[0]:+.4f} + G {terms[1]:+.4f} + B {terms[2]:+.4f} "
                        f"+ bias +0.0500 = {explorer.output[0, 8, 8, 1]:+.4f}")
    assert sum(terms) + 0.05 == pytest.approx(explorer.output[0, 8, 8, 1], abs=1e-12)
    assert lines[4].endswith("(to 1e-12): True")


def test_channels_explorer_titles_fit_their_stamps():
    explorer = Conv2DChannelsExplorer(size=48)
    for filters, kernel_size, padding in [(4, 7, "valid"), (4, 3, "same"), (2, 1, "valid")]:
        explorer.filters.value, explorer.kernel_size.value, explorer.padding.value = filters, kernel_size, padding
        for index in range(filters):
            explorer.filter_index.value = index
            for text in explorer.titles.values():
                stamp = explorer._stamps.stamp(text)
                ink = (stamp[..., :3] < 200).any(axis=(0, 2))
                assert ink.any() and not ink[0] and not ink[-1], text     # drawn, and not cut at a side


def test_conv2d_explorer_starts_at_the_centre_of_the_output():
    explorer = Conv2DExplorer(size=20, kernel_size=3)          # "valid": an 18 x 18 output
    assert (explorer.row.value, explorer.col.value) == (9, 9)
    assert "output[9, 9] sees input rows 9..11, cols 9..11" in explorer.summary()


def test_im2col_blocks_of_long_rows_still_hold_enough_rows_for_every_core():
    """32x16x16x256 -> 256, 3x3, strides 2: 1 MB holds one image (64 rows of 2,305 values); the
    blocks hold at least _MIN_GEMM_ROWS rows each, so OpenBLAS has rows to share out."""
    g = conv_module._Geometry((32, 16, 16, 256), (3, 3, 256, 256), (2, 2), (1, 1), ((0, 1), (0, 1)), 1)
    blocks, buf = conv_module._im2col_plan(g, np.float32, True)
    rows = [(n1 - n0) * (h1 - h0) * g.Wo for n0, n1, h0, h1 in blocks]
    assert sum(rows) == 32 * 8 * 8
    assert min(rows) >= conv_module._MIN_GEMM_ROWS and buf.cols.shape == (max(rows), 3 * 3 * 256 + 1)
    small = conv_module._Geometry((2, 9, 8, 3), (3, 3, 3, 4), (1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    assert len(conv_module._im2col_plan(small, np.float32, True)[0]) == 1  # short rows: one block, as before
