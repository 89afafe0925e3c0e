"""Model subclassing and Sequential against tf.keras: layers, weights, training, freezing."""
import numpy as np
import pytest

from kbook.check import check_model, keras_model_twin
from kbook.layers import Dense, Flatten, Input
from kbook.models import Functional, Model, Sequential


class TestModel(Model):
    """The notes' TestModel, corrected (``self`` and the colon)."""

    __test__ = False  # not a pytest class

    def __init__(self, dtype="float32"):
        super().__init__(dtype=dtype)
        self.flatten = Flatten(dtype=dtype)
        self.dense1 = Dense(units=10, activation="sigmoid", dtype=dtype)
        self.dense2 = Dense(units=20, activation="sigmoid", dtype=dtype)

    def call(self, x):
        x = self.flatten(x)
        x = self.dense1(x)
        return self.dense2(x)


def keras_test_model(tf, dtype):
    class KTestModel(tf.keras.Model):
        def __init__(self):
            super().__init__(dtype=dtype)
            self.flatten = tf.keras.layers.Flatten(dtype=dtype)
            self.dense1 = tf.keras.layers.Dense(10, activation="sigmoid", dtype=dtype)
            self.dense2 = tf.keras.layers.Dense(20, activation="sigmoid", dtype=dtype)

        def call(self, x):
            return self.dense2(self.dense1(self.flatten(x)))

    return KTestModel()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_notes_test_model_matches_keras(tf, rng, dtype):
    model = TestModel(dtype)
    report = check_model(model, rng.standard_normal((3, 7, 5)).astype(dtype), twin=keras_test_model(tf, dtype))
    assert report.ok and len(report.rows) == 6
    assert model.name == "test_model"
    assert [l.name for l in model.layers] == ["flatten", "dense", "dense_1"]
    assert model.get_layer("dense_1") is model.dense2


def test_training_reaches_call_and_defaults_to_none():
    seen = []

    class Probe(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)

        def call(self, x, training=None):
            seen.append(training)
            return self.dense(x)

    probe = Probe()
    probe(np.ones((1, 2)))
    probe(np.ones((1, 2)), training=True)
    assert seen == [None, True]


class Head(Model):
    """A subclassed model holding a Functional backbone (the notes' ex2 pattern, offline)."""

    def __init__(self, backbone):
        super().__init__(dtype="float64")
        self.backbone = backbone
        self.classifier = Dense(3, activation="softmax", dtype="float64")

    def call(self, x, training=None):
        return self.classifier(self.backbone(x, training=training))


def backbone():
    i = Input((4, 4, 1), dtype="float64")
    return Model(i, Dense(5, activation="relu", dtype="float64")(Flatten(dtype="float64")(i)), name="backbone")


@pytest.mark.parametrize("frozen", [False, True])
def test_a_nested_backbone_frozen_and_unfrozen_matches_keras(tf, rng, frozen):
    model = Head(backbone())
    model.backbone.trainable = not frozen
    kb = keras_model_twin(model.backbone)

    class KHead(tf.keras.Model):
        def __init__(self):
            super().__init__(dtype="float64")
            self.backbone = kb
            self.classifier = tf.keras.layers.Dense(3, activation="softmax", dtype="float64")

        def call(self, x, training=None):
            return self.classifier(self.backbone(x, training=training))

    twin = KHead()
    twin.backbone.trainable = not frozen
    report = check_model(model, rng.standard_normal((2, 4, 4, 1)), twin=twin)
    assert report.ok
    assert len(model.trainable_weights) == len(twin.trainable_weights) == (2 if frozen else 4)
    assert len(model.non_trainable_weights) == len(twin.non_trainable_weights)
    if frozen:
        assert all(layer.grads == {} for layer in model.backbone.layers)


def test_unbuilt_subclassed_model_cannot_count_params():
    with pytest.raises(ValueError, match="count_params.*'test_model'.*isn't built"):
        TestModel().count_params()


def test_unused_inputs_are_kept_as_in_keras(tf):
    a, b = Input((4,), name="a"), Input((4,), name="b")
    model = Model([a, b], Dense(2, name="d")(a))
    twin = keras_model_twin(model)
    assert [l.name for l in model.layers] == [l.name for l in twin.layers] == ["a", "b", "d"]
    assert model([np.ones((1, 4)), np.ones((1, 4))]).shape == (1, 2)


def test_sequential_with_and_without_input_and_as_a_layer(tf, rng):
    plain = Sequential([Dense(4, activation="relu", dtype="float64")], dtype="float64")
    plain.add(Dense(2, dtype="float64"))
    assert check_model(plain, rng.standard_normal((3, 5))).ok
    i = Input((5,), dtype="float64")
    outer = Model(i, Dense(1, dtype="float64")(plain(i)))
    assert isinstance(outer, Functional)
    assert check_model(outer, rng.standard_normal((3, 5))).ok
    assert [type(l).__name__ for l in outer.layers] == ["InputLayer", "Sequential", "Dense"]
