"""model.summary() prints what Keras 3 prints, character for character."""
from pathlib import Path

import numpy as np
import pytest

from kbook.check import keras_model_twin
from kbook.layers import (Activation, Add, AveragePooling2D, Concatenate, Conv2D, Dense, Flatten, Input,
                          Layer, MaxPooling2D)
from kbook.models import Model, Sequential
from kbook.summary import readable_memory_size, summary_text

# A copy of shared/reference/keras-summary-examples.txt (printed by Keras 3.15), kept with the tests.
REFERENCE = Path(__file__).resolve().parent / "reference" / "keras-summary-examples.txt"


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    # Keras sizes the table to the terminal; the reference was printed without one (80 columns).
    monkeypatch.setenv("COLUMNS", "80")


def keras_text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "".join(lines)


def kbook_text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "".join(lines)


def reference_block(title):
    text = REFERENCE.read_text()
    start = text.index(f'Model: "{title}"')
    end = text.find("Model: ", start + 1)
    return text[start:end if end != -1 else None].rstrip("\n") + "\n"


def two():
    in1, in2 = Input((5,), name="in1"), Input((5,), name="in2")
    shared = Dense(4, name="shared")
    a, b = shared(in1), shared(in2)
    c = Concatenate(name="cat")([a, b])
    return Model([in1, in2], [Dense(2, name="o1")(c), Dense(1, name="o2")(b)], name="two")


def test_two_input_model_matches_the_reference_text():
    assert kbook_text(two()) == reference_block("two")


def test_nested_frozen_model_matches_the_reference_text():
    inner = Sequential([Dense(6), Dense(4)], name="inner")
    i = Input((3,))  # auto name: input_layer (names restart in every test)
    model = Model(i, Dense(2, name="head")(inner(i)), name="functional_1")
    inner.trainable = False
    assert kbook_text(model) == reference_block("functional_1")


def cnn():
    i = Input((28, 28, 1), name="image")
    x = Conv2D(32, 3, name="conv")(i)
    x = MaxPooling2D(name="pool")(x)
    x = Conv2D(64, 3, name="conv_1")(x)
    x = Activation("relu", name="act")(x)
    x = AveragePooling2D(2, name="avg_pooling_with_a_long_name")(x)
    x = Flatten(name="flat")(x)
    return Model(i, Dense(10, name="out")(x), name="cnn")


def residual():
    i = Input((8, 8, 3), name="x")
    h = Conv2D(3, 3, padding="same", name="c1")(i)
    h = Conv2D(3, 3, padding="same", name="a_conv_layer_with_a_very_long_name")(h)
    h = Add(name="add")([h, i])
    return Model(i, Dense(10, name="d")(Flatten(name="f")(h)), name="res")


@pytest.mark.parametrize("build", [cnn, residual, two])
def test_functional_summaries_equal_keras(tf, build):
    model = build()
    assert kbook_text(model) == keras_text(keras_model_twin(model))


def test_sequential_summary_before_and_after_build_equals_keras(tf):
    model = Sequential([Dense(3, name="a"), Dense(2, name="b")], name="seq")
    twin = tf.keras.Sequential([tf.keras.layers.Dense(3, name="a"), tf.keras.layers.Dense(2, name="b")],
                               name="seq")
    assert "0 (unbuilt)" in kbook_text(model) and "?" in kbook_text(model)
    assert kbook_text(model) == keras_text(twin)
    model(np.ones((4, 5)))
    twin(np.ones((4, 5)))
    assert kbook_text(model) == keras_text(twin)


def test_subclassed_model_summary_equals_keras(tf):
    class Test(Model):
        def __init__(self):
            super().__init__(name="test_model")
            self.flatten = Flatten(name="flatten")
            self.dense1 = Dense(10, activation="sigmoid", name="dense")
            self.dense2 = Dense(20, activation="sigmoid", name="dense_1")

        def call(self, x):
            return self.dense2(self.dense1(self.flatten(x)))

    class KTest(tf.keras.Model):
        def __init__(self):
            super().__init__(name="test_model")
            self.flatten = tf.keras.layers.Flatten(name="flatten")
            self.dense1 = tf.keras.layers.Dense(10, activation="sigmoid", name="dense")
            self.dense2 = tf.keras.layers.Dense(20, activation="sigmoid", name="dense_1")

        def call(self, x):
            return self.dense2(self.dense1(self.flatten(x)))

    ours, theirs = Test(), KTest()
    assert kbook_text(ours) == keras_text(theirs)  # before the first call: "?" and "0 (unbuilt)"
    ours(np.ones((2, 28, 28)))
    theirs(np.ones((2, 28, 28)))
    assert kbook_text(ours) == keras_text(theirs)


def test_a_composite_layer_inside_a_model_shows_question_mark_like_keras():
    class Block(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = Dense(2)

        def call(self, x):
            return self.d(x)

    class Net(Model):
        def __init__(self):
            super().__init__()
            self.block = Block(name="block")

        def call(self, x):
            return self.block(x)

    net = Net()
    net(np.ones((1, 3)))
    row = next(line for line in summary_text(net).splitlines() if "block (Block)" in line)
    assert "?" in row and "8" in row


def test_summary_prints_to_stdout_and_honours_line_length(capsys):
    # (as in Keras, a line_length wider than the terminal is capped by the terminal)
    model = two()
    model.summary()
    printed = capsys.readouterr().out
    assert printed == kbook_text(model)
    narrow = summary_text(model, line_length=64)
    assert max(len(line) for line in narrow.splitlines()) == 64


def test_readable_memory_size():
    assert readable_memory_size(188) == "188.00 B"
    assert readable_memory_size(164.04 * 1024) == "164.04 KB"
    assert readable_memory_size(3 * 1024 ** 2) == "3.00 MB"
