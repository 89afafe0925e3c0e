"""Layers made of layers: tracking, weight order, training flag, and the automatic backward."""
import numpy as np
import pytest

from kbook.check import check_model
from kbook.layers import Activation, Add, Conv2D, Dense, Flatten, Layer, MaxPooling2D, Multiply
from kbook.tape import UntraceableError


class ConvLayer(Layer):
    """The notes' ConvLayer."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.conv = Conv2D(filters=filters, kernel_size=kernel_size, padding="same", dtype=self.dtype)
        self.conv_act = Activation("relu", dtype=self.dtype)
        self.conv_pool = MaxPooling2D(pool_size=2, strides=2, dtype=self.dtype)

    def call(self, x):
        x = self.conv(x)
        x = self.conv_act(x)
        return self.conv_pool(x)


def keras_conv_layer(tf, filters, kernel_size, dtype):
    class KConvLayer(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__(dtype=dtype)
            self.conv = tf.keras.layers.Conv2D(filters, kernel_size, padding="same", dtype=dtype)
            self.conv_act = tf.keras.layers.Activation("relu", dtype=dtype)
            self.conv_pool = tf.keras.layers.MaxPooling2D(pool_size=2, strides=2, dtype=dtype)

        def call(self, x):
            return self.conv_pool(self.conv_act(self.conv(x)))

    return KConvLayer()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv_layer_forward_and_every_gradient_match_keras(tf, rng, dtype):
    layer = ConvLayer(4, 3, dtype=dtype)
    x = rng.standard_normal((2, 8, 8, 3)).astype(dtype)
    report = check_model(layer, x, twin=keras_conv_layer(tf, 4, 3, dtype))
    assert report.ok and len(report.rows) == 4  # y, dx, kernel, bias


def test_weights_follow_keras_order_and_keras_weights_load(tf, rng):
    layer = ConvLayer(5, 3)
    assert layer.weights == [] and not layer.built
    with pytest.raises(ValueError, match="count_params.*isn't built"):
        layer.count_params()
    x = rng.standard_normal((1, 6, 6, 2)).astype("float32")
    layer(x)
    twin = keras_conv_layer(tf, 5, 3, "float32")
    twin(x)
    assert [w.shape for w in layer.weights] == [tuple(v.shape) for v in twin.weights]
    layer.set_weights(twin.get_weights())
    np.testing.assert_allclose(layer(x), twin(x).numpy(), rtol=1e-5, atol=1e-6)
    assert layer.count_params() == twin.count_params() == 3 * 3 * 2 * 5 + 5


class Owner(Layer):
    def __init__(self):
        super().__init__()
        self.blocks = [Dense(2, name="b0"), {"x": Dense(3, name="b1"), "y": Dense(4, name="b2")}]
        self.head = Dense(1, name="head")

    def build(self, input_shape):
        self.scale = self.add_weight("scale", (1,), "ones")
        self.count = self.add_weight("count", (1,), "zeros", trainable=False)
        self.built = True

    def call(self, x):
        return self.head(self.blocks[0](x))


def test_sublayers_in_lists_and_dicts_are_tracked_in_assignment_order(tf):
    layer = Owner()
    layer(np.ones((1, 3)))
    # Keras's order: own trainable, own non-trainable, then sublayers in assignment order
    assert [l.name for l in layer._sublayers()] == ["b0", "b1", "b2", "head"]
    shapes = [w.shape for w in layer.weights]
    assert shapes[:2] == [(1,), (1,)]
    assert shapes[2:] == [(3, 2), (2,), (2, 1), (1,)]  # b1 and b2 were never called: not built
    assert len(layer.trainable_weights) == 5 and len(layer.non_trainable_weights) == 1


def test_training_flag_reaches_sublayers_that_do_not_pass_it():
    seen = []

    class Probe(Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

        def backward(self, dy):
            return dy

    class Outer(Layer):
        def __init__(self):
            super().__init__()
            self.probe = Probe()

        def call(self, x):  # like the notes' ConvLayer: no training argument at all
            return self.probe(x)

    outer = Outer()
    outer(np.ones((1, 2)), training=True)
    outer(np.ones((1, 2)))
    outer(np.ones((1, 2)), training=False)
    assert seen == [True, None, False]


class Residual(Layer):
    """x used twice (fan-out) and a Dense shared by two calls."""

    def __init__(self, dtype="float64"):
        super().__init__(dtype=dtype)
        self.dense = Dense(4, activation="tanh", dtype=dtype)
        self.add = Add(dtype=dtype)
        self.mul = Multiply(dtype=dtype)

    def call(self, x):
        h = self.dense(x)
        h = self.dense(h)          # shared: called twice
        return self.mul([self.add([h, x]), x])


def keras_residual(tf, dtype="float64"):
    class KResidual(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__(dtype=dtype)
            self.dense = tf.keras.layers.Dense(4, activation="tanh", dtype=dtype)
            self.add = tf.keras.layers.Add(dtype=dtype)
            self.mul = tf.keras.layers.Multiply(dtype=dtype)

        def call(self, x):
            h = self.dense(self.dense(x))
            return self.mul([self.add([h, x]), x])

    return KResidual()


def test_fan_out_and_shared_layer_gradients_are_summed(tf, rng):
    layer = Residual()
    x = rng.standard_normal((3, 4))
    report = check_model(layer, x, twin=keras_residual(tf))
    assert report.ok
    # a second backward gives the same sums (nothing accumulates across calls)
    kernel_grad = layer.dense.grads["kernel"].copy()
    layer(x)
    layer.backward(_upstream(layer(x)))
    np.testing.assert_allclose(layer.dense.grads["kernel"], kernel_grad)


def _upstream(y):
    return np.random.default_rng(0).standard_normal(y.shape)


def test_raw_numpy_on_an_intermediate_is_a_clear_error():
    class Doubler(Layer):
        def __init__(self):
            super().__init__()
            self.dense = Dense(2)
            self.act = Activation("relu")

        def call(self, x):
            return self.act(self.dense(x) * 2)

    layer = Doubler()
    y = layer(np.ones((1, 3)))
    with pytest.raises(UntraceableError, match=r"Layer 'doubler'.*input 0 of 'activation'.*Multiply"):
        layer.backward(np.ones_like(y))


def test_raw_numpy_on_the_output_is_a_clear_error():
    class Halver(Layer):
        def __init__(self):
            super().__init__()
            self.dense = Dense(2)

        def call(self, x):
            return self.dense(x) / 2

    layer = Halver()
    y = layer(np.ones((1, 3)))
    with pytest.raises(UntraceableError, match=r"Layer 'halver'.*output 0 of Halver.call.*by hand"):
        layer.backward(np.ones_like(y))


def test_a_hand_written_backward_is_used():
    class Scaled(Layer):
        def __init__(self):
            super().__init__()
            self.dense = Dense(2, use_bias=False, kernel_initializer="ones")

        def call(self, x):
            self._cache = True
            return self.dense(x) * 3

        def backward(self, dy):
            return self.dense.backward(self._check_dy(dy) * 3)

    layer = Scaled()
    y = layer(np.ones((1, 3)))
    np.testing.assert_allclose(layer.backward(np.ones_like(y)), np.full((1, 3), 6.0))


def test_freezing_empties_trainable_weights_and_grads():
    layer = ConvLayer(2, 3, dtype="float64")
    x = np.random.default_rng(1).standard_normal((1, 4, 4, 1))
    layer(x)
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not layer.conv.trainable
    layer.backward(np.ones_like(layer(x)))
    assert layer.conv.grads == {}
    layer.trainable = True
    layer.backward(np.ones_like(layer(x)))
    assert set(layer.conv.grads) == {"kernel", "bias"}


def test_set_weights_on_a_composite_is_all_or_nothing():
    layer = ConvLayer(2, 3)
    layer(np.ones((1, 4, 4, 1)))
    before = layer.get_weights()
    with pytest.raises(ValueError, match="expecting 2 weights"):
        layer.set_weights(before[:1])
    with pytest.raises(ValueError, match=r"Layer conv2d.* weight shape \(2,\)"):
        layer.set_weights([np.zeros_like(before[0]), np.zeros(3)])
    for old, new in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_several_outputs_need_one_dy_each():
    class Two(Layer):
        def __init__(self):
            super().__init__()
            self.a = Dense(2)
            self.b = Dense(3)

        def call(self, x):
            return [self.a(x), self.b(x)]

    layer = Two()
    ya, yb = layer(np.ones((4, 5)))
    with pytest.raises(ValueError, match="list of 2 arrays, one per output"):
        layer.backward(np.ones_like(ya))
    dx = layer.backward([np.ones_like(ya), None])  # None: that output does not reach the loss
    np.testing.assert_allclose(dx, np.ones((4, 2)) @ layer.a.kernel.T)
    assert layer.b.grads == {} or not np.any(layer.b.grads.get("kernel", 0))


def test_nested_composites_fill_every_sublayer_grads(tf, rng):
    class Stack(Layer):
        def __init__(self):
            super().__init__(dtype="float64")
            self.first = ConvLayer(3, 3, dtype="float64")
            self.flatten = Flatten(dtype="float64")
            self.out = Dense(2, dtype="float64")

        def call(self, x):
            return self.out(self.flatten(self.first(x)))

    class KStack(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__(dtype="float64")
            self.first = keras_conv_layer(tf, 3, 3, "float64")
            self.flatten = tf.keras.layers.Flatten(dtype="float64")
            self.out = tf.keras.layers.Dense(2, dtype="float64")

        def call(self, x):
            return self.out(self.flatten(self.first(x)))

    report = check_model(Stack(), rng.standard_normal((2, 6, 6, 2)), twin=KStack())
    assert report.ok and len(report.rows) == 6
