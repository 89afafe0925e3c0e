"""The Functional API and Sequential against tf.keras: graphs, order, gradients, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook.check import check_model, keras_model_twin
from kbook.layers import (Activation, Add, AveragePooling2D, Concatenate, Conv2D, Dense, Flatten,
                          GlobalAveragePooling2D, Input, MaxPooling2D, Subtract)
from kbook.models import Functional, Model, Sequential


def notes_ex1(dtype):
    input_tensor = Input(shape=(6, 5), dtype=dtype)
    x = Flatten(dtype=dtype)(input_tensor)
    x = Dense(units=10, activation="sigmoid", dtype=dtype)(x)
    output = Dense(units=20, activation="sigmoid", dtype=dtype)(x)
    return Model(inputs=input_tensor, outputs=output)


def residual_cnn(dtype):
    i = Input((8, 8, 3), dtype=dtype)
    h = Conv2D(3, 3, padding="same", dtype=dtype)(i)
    h = Activation("relu", dtype=dtype)(h)
    h = Conv2D(3, 3, padding="same", dtype=dtype)(h)
    h = Add(dtype=dtype)([h, i])
    h = MaxPooling2D(dtype=dtype)(h)
    h = Flatten(dtype=dtype)(h)
    return Model(i, Dense(10, dtype=dtype)(h), name="residual_cnn")


def two_in_two_out(dtype):
    in1, in2 = Input((5,), name="in1", dtype=dtype), Input((5,), name="in2", dtype=dtype)
    shared = Dense(4, activation="tanh", name="shared", dtype=dtype)
    a, b = shared(in1), shared(in2)
    c = Concatenate(name="cat", dtype=dtype)([a, b])
    o1 = Dense(2, name="o1", dtype=dtype)(c)
    o2 = Dense(1, name="o2", dtype=dtype)(Subtract(dtype=dtype)([b, a]))
    return Model([in1, in2], [o1, o2], name="two")


def nested(dtype, freeze):
    inner = Sequential([Dense(6, activation="relu", dtype=dtype), Dense(4, dtype=dtype)], name="inner",
                       dtype=dtype)
    i = Input((3,), dtype=dtype)
    model = Model(i, Dense(2, name="head", dtype=dtype)(inner(i)))
    inner.trainable = not freeze
    return model


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("build", ["ex1", "residual", "two", "nested", "nested_frozen"])
def test_models_match_keras_forward_and_every_gradient(tf, rng, dtype, build):
    model, x = {
        "ex1": lambda: (notes_ex1(dtype), rng.standard_normal((4, 6, 5))),
        "residual": lambda: (residual_cnn(dtype), rng.standard_normal((2, 8, 8, 3))),
        "two": lambda: (two_in_two_out(dtype), [rng.standard_normal((3, 5)), rng.standard_normal((3, 5))]),
        "nested": lambda: (nested(dtype, False), rng.standard_normal((3, 3))),
        "nested_frozen": lambda: (nested(dtype, True), rng.standard_normal((3, 3))),
    }[build]()
    x = [a.astype(dtype) for a in x] if isinstance(x, list) else x.astype(dtype)
    twin = keras_model_twin(model)
    report = check_model(model, x, twin=twin)
    assert report.ok, report
    assert len(report.rows) == len(model.weights) + len(model.outputs) + len(model.inputs)
    assert model.count_params() == twin.count_params()
    assert len(model.trainable_weights) == len(twin.trainable_weights)
    assert [l.name for l in model.layers] == [l.name for l in twin.layers]


def test_functional_layer_order_is_keras_order(tf):
    model = two_in_two_out("float32")
    twin = keras_model_twin(model)
    assert [op.name for op in model._operations] == ["in1", "in2", "shared", "cat", "subtract", "o1", "o2"]
    assert [type(l).__name__ for l in model.layers] == [type(l).__name__ for l in twin.layers]
    assert [w.shape for w in model.weights] == [tuple(v.shape) for v in twin.weights]


def test_input_is_symbolic_with_none_batch():
    x = Input(shape=(28, 28))
    assert x.shape == (None, 28, 28) and x.dtype == "float32"
    y = Dense(3)(Flatten()(x))
    assert y.shape == (None, 3)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(y)
    assert Input((4,), batch_size=8).shape == (8, 4)


def test_a_layer_called_on_a_wrongly_shaped_tensor_fails_and_stays_as_built():
    dense = Dense(3)
    dense(Input((4,)))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4.*\\(None, 5\\)"):
        dense(Input((5,)))
    assert dense.kernel.shape == (4, 3) and len(dense._inbound_nodes) == 1


def test_graph_disconnected_and_bad_arguments():
    a, b = Input((4,), name="a"), Input((4,), name="b")
    with pytest.raises(ValueError, match="Graph disconnected.*Input 'b'"):
        Model(a, Dense(2)(b))
    with pytest.raises(TypeError, match="symbolic tensor"):
        Model(a, np.ones(3))
    with pytest.raises(ValueError, match="cannot be empty"):
        Model([], Dense(2)(a))


def test_model_called_on_wrong_shape_or_count():
    model = notes_ex1("float32")
    with pytest.raises(ValueError, match=r"expected shape=\(None, 6, 5\), found shape=\(2, 5, 6\)"):
        model(np.ones((2, 5, 6)))
    two = two_in_two_out("float32")
    with pytest.raises(ValueError, match="expects 2 input"):
        two([np.ones((2, 5))])


def test_merge_layer_errors_are_keras_messages():
    with pytest.raises(ValueError, match=r"Inputs have incompatible shapes. Received shapes \(3,\) and \(4,\)"):
        Add()([Input((3,)), Input((4,))])
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        Concatenate()([Input((3, 2)), Input((4, 3))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        Subtract()([Input((3,)), Input((3,)), Input((3,))])
    with pytest.raises(ValueError, match="list of inputs"):
        Add()(Input((3,)))


def test_sequential_add_checks_each_layer_and_changes_nothing_on_error():
    model = Sequential([Input((4,)), Dense(3, name="a")])
    with pytest.raises(ValueError, match="unique names. Name 'a'"):
        model.add(Dense(2, name="a"))
    with pytest.raises(ValueError, match="Only instances of `kbook.layers.Layer`"):
        model.add("hello")
    with pytest.raises(ValueError, match="expected min_ndim=4"):
        model.add(Conv2D(2, 3))
    assert [l.name for l in model.layers] == ["a"]
    model.add(Dense(2, name="b"))
    assert model(np.ones((5, 4))).shape == (5, 2)


def test_sequential_without_input_builds_on_first_call_with_its_shape(tf):
    model = Sequential([Dense(3), Dense(2)])
    assert not model.built and model.weights == []
    model(np.ones((4, 5)))
    assert model.built and [w.shape for w in model.weights] == [(5, 3), (3,), (3, 2), (2,)]
    assert model.layers[0]._inbound_nodes[-1].outputs.shape == (4, 3)  # Keras keeps the batch it saw


def test_get_layer_by_name_and_index():
    model = two_in_two_out("float32")
    assert model.get_layer("cat").name == "cat"
    assert model.get_layer(index=0).name == "in1"  # a Functional model lists its Input layers
    assert model.get_layer("in1").name == "in1"
    with pytest.raises(ValueError, match=r"No such layer: nope. Existing layers are: \['in1', 'in2'"):
        model.get_layer("nope")


def test_model_constructor_returns_functional_and_names_count():
    a = Input((3,))
    model = Model(inputs=a, outputs=Dense(2)(a))
    assert isinstance(model, Functional) and model.name == "functional"
    assert Model(a, Dense(2)(a)).name == "functional_1"


LAYERS = st.sampled_from(["dense", "relu", "conv", "maxpool", "avgpool", "gap", "flatten"])


@settings(max_examples=30)
@given(kinds=st.lists(LAYERS, min_size=1, max_size=5), batch=st.integers(1, 3),
       dtype=st.sampled_from(["float64", "float32"]), with_input=st.booleans(), seed=st.integers(0, 99))
def test_random_sequential_stacks_match_keras(tf, kinds, batch, dtype, with_input, seed):
    rng = np.random.default_rng(seed)
    layers, rank = [], 4
    for kind in kinds:
        if rank == 2 and kind in ("conv", "maxpool", "avgpool", "gap", "flatten"):
            kind = "dense"
        if kind == "dense":
            layers.append(Dense(3, activation="tanh", dtype=dtype))
        elif kind == "relu":
            layers.append(Activation("relu", dtype=dtype))
        elif kind == "conv":
            layers.append(Conv2D(2, 2, padding="same", dtype=dtype))
        elif kind == "maxpool":
            layers.append(MaxPooling2D(padding="same", dtype=dtype))
        elif kind == "avgpool":
            layers.append(AveragePooling2D(2, padding="same", dtype=dtype))
        else:
            layers.append(GlobalAveragePooling2D(dtype=dtype) if kind == "gap" else Flatten(dtype=dtype))
            rank = 2
    first = [Input((5, 5, 2), dtype=dtype)] if with_input else []
    model = Sequential(first + layers, dtype=dtype)
    x = rng.standard_normal((batch, 5, 5, 2)).astype(dtype)
    assert check_model(model, x).ok
