"""kbook.plot_model: one box per layer, one arrow per connection, for every kind of model."""
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import kbook
from kbook.layers import Add, Concatenate, Dense, Flatten, Input, Layer
from kbook.models import Model, Sequential


def patches(fig, kind):
    return [p for p in fig.axes[0].patches if isinstance(p, kind)]


def texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_branches_and_merges_are_drawn():
    i = Input((4,), name="x")
    a, b = Dense(3, name="a")(i), Dense(3, name="b")(i)
    s = Add(name="sum")([a, b])
    out = Dense(1, name="out")(Concatenate(name="cat")([s, a]))
    fig = kbook.plot_model(Model(i, out))
    assert len(patches(fig, FancyBboxPatch)) == 6
    # x->a, x->b, a->sum, b->sum, sum->cat, a->cat, cat->out
    assert len(patches(fig, FancyArrowPatch)) == 7
    assert any("sum (Add)" in t and "(None, 3)" in t for t in texts(fig))


def test_a_shared_layer_is_one_box_with_arrows_from_each_input():
    in1, in2 = Input((5,), name="in1"), Input((5,), name="in2")
    shared = Dense(4, name="shared")
    model = Model([in1, in2], Concatenate()([shared(in1), shared(in2)]))
    fig = kbook.plot_model(model, show_shapes=False)
    assert len(patches(fig, FancyBboxPatch)) == 4
    assert len(patches(fig, FancyArrowPatch)) == 3  # in1->shared, in2->shared, shared->cat (drawn once)
    assert "shared (Dense)" in texts(fig)


def test_sequential_and_subclassed_models_are_chains():
    seq = Sequential([Input((6,)), Dense(3), Dense(2)])
    fig = kbook.plot_model(seq, rankdir="LR", show_layer_names=False)
    assert len(patches(fig, FancyBboxPatch)) == 3 and len(patches(fig, FancyArrowPatch)) == 2
    assert any(t.startswith("Dense\n") for t in texts(fig))

    class Net(Model):
        def __init__(self):
            super().__init__()
            self.flat = Flatten()
            self.dense = Dense(2)

        def call(self, x):
            return self.dense(self.flat(x))

    net = Net()
    net(np.ones((1, 2, 2)))
    assert len(patches(kbook.plot_model(net), FancyBboxPatch)) == 2


def test_bad_rankdir_is_a_value_error():
    with pytest.raises(ValueError, match="rankdir"):
        kbook.plot_model(Sequential([Dense(1)]), rankdir="BT")


def test_to_file_writes_a_png(tmp_path):
    path = tmp_path / "model.png"
    kbook.plot_model(Sequential([Input((2,)), Dense(1)]), to_file=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
