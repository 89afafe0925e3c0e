"""The Layer base class: names, dtypes, weights, input checks, the backward contract."""
import numpy as np
import pytest

from kbook.layers import Activation, Dense, Layer
from kbook.layers.base import InputSpec, to_snake_case


def test_snake_case_matches_keras_rule():
    assert to_snake_case("Dense") == "dense"
    assert to_snake_case("MaxPooling2D") == "max_pooling2d"
    assert to_snake_case("GlobalAveragePooling2D") == "global_average_pooling2d"
    assert to_snake_case("BatchNormalization") == "batch_normalization"


def test_automatic_names_count_per_class():
    names = [Dense(1).name, Dense(1).name, Activation("relu").name, Dense(1).name]
    assert names == ["dense", "dense_1", "activation", "dense_2"]
    assert Dense(1, name="head").name == "head"


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float64])
def test_dtype_casts_inputs_and_weights(dtype):
    layer = Dense(2, dtype=dtype)
    y = layer(np.ones((1, 3), dtype=np.int64))
    assert y.dtype == np.dtype(dtype)
    assert all(w.dtype == np.dtype(dtype) for w in layer.get_weights())


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex64", "bogus"])
def test_unsupported_dtype_is_a_value_error_naming_layer_and_argument(dtype):
    with pytest.raises(ValueError, match=r"Layer 'd'.*`dtype`"):
        Dense(2, dtype=dtype, name="d")


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([{"x": 1}], dtype=object), "text", np.array([1j])])
def test_non_numeric_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match=r"Layer 'd'.*`inputs` must be numeric"):
        Dense(2, name="d")(bad)


def test_get_weights_returns_copies_in_keras_order():
    layer = Dense(3)
    layer(np.ones((2, 4)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    kernel[...] = 7
    assert not np.any(layer.get_weights()[0] == 7)


def test_set_weights_round_trip_and_cast():
    layer = Dense(3, dtype="float32")
    layer(np.ones((2, 4)))
    new = [np.arange(12.0).reshape(4, 3), np.arange(3)]
    layer.set_weights(new)
    got = layer.get_weights()
    assert got[0].dtype == np.float32 and np.array_equal(got[0], new[0])
    assert np.array_equal(layer(np.ones((1, 4))), np.ones((1, 4)) @ new[0] + new[1])


def test_set_weights_wrong_count():
    layer = Dense(3, name="d")
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"layer 'd' with a weight list of length 1, but the layer was expecting 2"):
        layer.set_weights([np.ones((4, 3))])


def test_set_weights_wrong_shape_names_both_shapes():
    layer = Dense(3, name="d")
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Layer d weight shape \(4, 3\) is not compatible with provided weight shape \(3, 4\)"):
        layer.set_weights([np.ones((3, 4)), np.ones(3)])


def test_set_weights_rejects_non_numeric():
    layer = Dense(1, name="d")
    layer(np.ones((1, 1)))
    with pytest.raises(TypeError, match="Layer 'd'"):
        layer.set_weights([np.array([["w"]]), np.zeros(1)])


def test_count_params_needs_build():
    layer = Dense(3, name="d")
    with pytest.raises(ValueError, match="count_params.*'d'.*isn't built"):
        layer.count_params()
    layer(np.ones((1, 4)))
    assert layer.count_params() == 4 * 3 + 3


def test_input_spec_checks_rank_and_last_axis():
    layer = Layer(name="l")
    layer.input_spec = InputSpec(ndim=3, axes={-1: 2})
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.ones((1, 2)))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 2"):
        layer(np.ones((1, 1, 3)))


def test_backward_before_forward_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="Layer 'd'.*before `backward"):
        Dense(2, name="d").backward(np.ones((1, 2)))


def test_backward_checks_dy_shape():
    layer = Dense(2, name="d")
    layer(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"`dy` must have the shape of the last output \(3, 2\)"):
        layer.backward(np.ones((2, 3)))


def test_base_layer_requires_call_and_backward():
    layer = Layer()
    with pytest.raises(NotImplementedError):
        layer(np.ones(2))
    with pytest.raises(NotImplementedError):
        layer.backward(np.ones(2))


def test_get_config_has_keras_argument_names():
    config = Dense(4, activation="relu", use_bias=False, name="d").get_config()
    assert config == {"name": "d", "dtype": "float32", "trainable": True, "units": 4,
                      "activation": "relu", "use_bias": False,
                      "kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}


def test_misspelt_keyword_is_keras_value_error():
    with pytest.raises(ValueError, match=r"Unrecognized keyword arguments passed to Dense: \{'activaton': 'relu'\}"):
        Dense(3, activaton="relu")


def test_set_weights_is_all_or_nothing_and_keeps_attributes_live():
    layer = Dense(2, name="d")
    layer(np.ones((1, 3)))
    kernel_before = layer.get_weights()[0]
    with pytest.raises(ValueError):
        layer.set_weights([np.zeros((3, 2)), np.zeros(5)])  # second one is wrong
    assert np.array_equal(layer.get_weights()[0], kernel_before)
    layer.set_weights([np.ones((3, 2)), np.zeros(2)])
    assert np.array_equal(layer.kernel, np.ones((3, 2)))  # the attribute sees the new values
