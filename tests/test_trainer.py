"""compile / fit / evaluate / predict against tf.keras: the same batches give the same history."""
import numpy as np
import pytest

from kbook import losses, optimizers
from kbook.check import keras_model_twin, relative_error
from kbook.layers import Activation, Conv2D, Dense, Flatten, Input, MaxPooling2D
from kbook.models import Sequential

# Learning rates a float32 holds exactly: Keras keeps the rate in a floatx variable, kbook in float32.
LR = 2.0 ** -6


@pytest.fixture
def keras64(tf):
    import keras

    keras.config.set_floatx("float64")  # Keras's metrics then add up in float64 too
    yield keras
    keras.config.set_floatx("float32")


def dense_model():
    return Sequential([Input((4,), dtype="float64"), Dense(8, activation="relu", dtype="float64"),
                       Dense(3, activation="softmax", dtype="float64")], dtype="float64")


def data(rng, n=50):
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


OPTIMIZERS = {
    "sgd": (lambda: optimizers.SGD(LR, momentum=0.5, nesterov=True),
            lambda k: k.optimizers.SGD(LR, momentum=0.5, nesterov=True)),
    "adam": (lambda: optimizers.Adam(LR), lambda k: k.optimizers.Adam(LR)),
    "rmsprop": (lambda: optimizers.RMSprop(LR, centered=True), lambda k: k.optimizers.RMSprop(LR, centered=True)),
}


def assert_same_history(ours, theirs, tol):
    assert list(ours.history) == list(theirs.history)
    for key in ours.history:
        assert relative_error(ours.history[key], theirs.history[key]) <= tol, key


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_dense_model_fit_history_equals_keras(keras64, rng, name):
    x, y = data(rng)
    model = dense_model()
    twin = keras_model_twin(model)
    twin.set_weights(model.get_weights())
    ours, theirs = OPTIMIZERS[name]
    model.compile(ours(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    twin.compile(theirs(keras64), "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.2)
    k = twin.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.2)
    assert_same_history(h, k, 1e-8)
    assert max(relative_error(a, b) for a, b in zip(model.get_weights(), twin.get_weights())) <= 1e-8
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), twin.evaluate(x, y, verbose=0), rtol=1e-8)
    assert relative_error(model.predict(x, batch_size=7), twin.predict(x, batch_size=7, verbose=0)) <= 1e-10


def test_small_cnn_fit_with_one_hot_targets_equals_keras(keras64, rng):
    x = rng.standard_normal((24, 6, 6, 1))
    y = np.eye(4)[rng.integers(0, 4, 24)]
    model = Sequential([Input((6, 6, 1), dtype="float64"), Conv2D(3, 3, padding="same", dtype="float64"),
                        Activation("relu", dtype="float64"), MaxPooling2D(dtype="float64"),
                        Flatten(dtype="float64"), Dense(4, dtype="float64")], dtype="float64")
    twin = keras_model_twin(model)
    twin.set_weights(model.get_weights())
    model.compile(optimizers.Adam(LR), losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    twin.compile(keras64.optimizers.Adam(LR), keras64.losses.CategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
    h = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, validation_data=(x[:8], y[:8]))
    k = twin.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, validation_data=(x[:8], y[:8]))
    assert_same_history(h, k, 1e-8)


def test_shuffling_is_seeded_and_reproducible(rng):
    import kbook

    x, y = data(rng)
    histories = []
    for _ in range(2):
        kbook.set_seed(3)
        model = dense_model()
        model.compile(optimizers.SGD(LR), "sparse_categorical_crossentropy")
        histories.append(model.fit(x, y, batch_size=8, epochs=2, verbose=0).history["loss"])
    assert histories[0] == histories[1]


def compiled():
    model = dense_model()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model(np.zeros((1, 4)))
    return model


@pytest.mark.parametrize("call, message", [
    (lambda m, x, y: m.fit(x, y[:-1], verbose=0), "same number of samples"),
    (lambda m, x, y: m.fit(x, np.where(y == 2, 3, y), verbose=0), "out of range|3"),
    (lambda m, x, y: m.fit(x, np.eye(4)[y], verbose=0), r"y_true.shape=\(50, 4\), y_pred.shape=\(50, 3\)"),
    (lambda m, x, y: m.fit(x, y, batch_size=0, verbose=0), "`batch_size`"),
    (lambda m, x, y: m.fit(x, y, validation_split=1.5, verbose=0), "validation_split"),
])
def test_a_fit_that_fails_changes_no_weight(rng, call, message):
    model = compiled()
    x, y = data(rng)
    y = y.copy()
    y[-1] = 2
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        call(model, x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fit_before_compile_and_unknown_names():
    model = dense_model()
    with pytest.raises(ValueError, match="compile"):
        model.fit(np.zeros((2, 4)), np.zeros(2), verbose=0)
    with pytest.raises(ValueError):
        model.compile("adamw_typo", "mse")
    with pytest.raises(ValueError):
        model.compile("adam", "msee")
    with pytest.raises(ValueError, match="unknown metric 'precision'"):
        model.compile("adam", "mse", metrics=["precision"])


def test_progress_bar_prints_keras_style_lines(rng, capsys):
    model = compiled()
    x, y = data(rng, 20)
    model.fit(x, y, batch_size=8, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/2\n") and "Epoch 2/2\n" in out
    final = out.split("\r")[-1]
    assert final.startswith("3/3 " + "━" * 20) and "- accuracy: " in final and "- loss: " in final
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
