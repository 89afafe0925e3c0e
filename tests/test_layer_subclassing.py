"""Chapter 6: the ConvLayer explorer and the exercise checkers (the engine is tested in test_base / test_tape)."""
import numpy as np
import pytest

from kbook.exercises import layer_subclassing as ex
from kbook.exercises.checker import CORRECT, TODO, WRONG
from kbook.layers import Activation, Dense, Layer
from kbook.models import Model
from kbook.widgets.conv_layer import FILTER_BANK, ConvLayer, ConvLayerExplorer, filter_bank, mosaic

PNG = b"\x89PNG"


# --- the explorer -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return ConvLayerExplorer()


def test_explorer_default_is_the_notes_block(explorer):
    text = explorer.summary()
    assert text.splitlines()[0] == "ConvLayer(filters=4, kernel_size=3, strides=1, padding='same', pool_size=2)"
    assert "Conv2D              (1, 64, 64, 4)" in text
    assert "MaxPooling2D        (1, 32, 32, 4)" in text
    assert "= 40 params" in text
    assert bytes(explorer.live.image.value).startswith(PNG)


def test_explorer_summary_follows_every_control():
    explorer = ConvLayerExplorer()
    seen = {explorer.summary()}
    renders = explorer.live.renders
    for control, value in [("filters", 6), ("kernel_size", 5), ("strides", 2), ("padding", "valid"),
                           ("pool_size", 3)]:
        getattr(explorer, control).value = value
        text = explorer.summary()
        assert text not in seen, control
        seen.add(text)
    assert explorer.live.renders == renders + 5  # one render per control change
    # valid, k=5, s=2: floor((64 - 5) / 2) + 1 = 30; pool 3: floor((30 - 3) / 3) + 1 = 10
    assert explorer.shapes["Conv2D"] == (1, 30, 30, 6)
    assert explorer.shapes["MaxPooling2D"] == (1, 10, 10, 6)
    assert "floor((64 - 5) / 2) + 1 = 30" in explorer.summary()
    assert "floor((30 - 3) / 3) + 1 = 10" in explorer.summary()
    assert "= 156 params" in explorer.summary()  # 5 * 5 * 1 * 6 + 6


def test_explorer_updates_artists_in_place(explorer):
    fig = explorer.live.figure
    artists = list(fig.artists) + list(fig.texts)
    explorer.filters.value = 2
    explorer.kernel_size.value = 4
    assert list(fig.artists) + list(fig.texts) == artists and not fig.axes  # same artists, no axes
    rows, cols = mosaic(explorer.stages["Conv2D"][0]).shape
    assert explorer.rgba["Conv2D"].shape == (rows, cols, 4)  # coloured by the explorer
    assert [t.get_text() for t in fig.texts][1] == "Conv2D \u2192 (1, 64, 64, 2)"


def test_explorer_paints_what_it_computed(explorer):
    """The PNG shows the canvas: the Conv2D panel's centre pixel is the mosaic's centre cell."""
    import io

    from PIL import Image

    explorer.filters.value = 1
    png = np.asarray(Image.open(io.BytesIO(bytes(explorer.live.image.value))).convert("RGBA"))
    np.testing.assert_array_equal(png[explorer._TOP:, :, :3], explorer.canvas[explorer._TOP:, :, :3])
    x0, size = explorer._slot_x(1), explorer._slot
    rows, cols = explorer.rgba["Conv2D"].shape[:2]
    centre = explorer.canvas[explorer._TOP + size // 2, x0 + size // 2]
    assert tuple(centre) == tuple(explorer.rgba["Conv2D"][(size // 2 * rows) // size, (size // 2 * cols) // size])


def test_explorer_stages_are_the_layer_call(explorer):
    """The stage-by-stage pictures are exactly what ConvLayer's own call returns."""
    explorer.filters.value = 3
    explorer.kernel_size.value = 3
    y = explorer.layer(explorer.x)
    np.testing.assert_array_equal(y, explorer.stages["MaxPooling2D"])
    relu = explorer.stages["Activation('relu')"]
    np.testing.assert_array_equal(relu, np.maximum(explorer.stages["Conv2D"], 0))
    assert [w.shape for w in explorer.layer.get_weights()] == [(3, 3, 1, 3), (3,)]


def test_explorer_reports_invalid_arguments():
    explorer = ConvLayerExplorer(image=np.random.default_rng(0).random((6, 6)))
    explorer.padding.value = "valid"
    explorer.kernel_size.value = 7
    assert explorer.error is not None and "ValueError" in explorer.summary()
    assert "ValueError" in explorer.caption.value
    explorer.kernel_size.value = 3  # fixed again: back to pictures
    assert explorer.error is None and explorer.shapes["MaxPooling2D"] == (1, 2, 2, 4)


def test_explorer_rejects_a_color_image():
    with pytest.raises(ValueError, match="2-D"):
        ConvLayerExplorer(image=np.zeros((8, 8, 3)))


def test_filter_bank_is_fixed_and_normalised():
    kernel = filter_bank(len(FILTER_BANK), 3)
    assert kernel.shape == (3, 3, 1, len(FILTER_BANK))
    np.testing.assert_allclose(np.abs(kernel).sum(axis=(0, 1, 2)), 1.0)
    np.testing.assert_array_equal(kernel, filter_bank(len(FILTER_BANK), 3))  # deterministic
    assert filter_bank(2, 5, in_channels=3).shape == (5, 5, 3, 2)
    assert np.abs(filter_bank(1, 1)).sum() == 0.0  # a 1x1 edge detector sees no neighbours
    with pytest.raises(ValueError):
        filter_bank(0, 3)


def test_mosaic_places_each_map_in_its_grid_cell():
    maps = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5)
    image = mosaic(maps, gap=1)
    assert image.shape == (2 * 2 + 1, 3 * 3 + 2)  # 5 maps: 2 rows x 3 columns
    np.testing.assert_array_equal(image[0:2, 4:7], maps[:, :, 1])
    assert np.isnan(image[2]).all() and np.isnan(image[3:5, 8:11]).all()  # gap row, empty cell


def test_explorer_conv_layer_matches_keras(tf):
    from kbook.check import check_model

    class KerasConvLayer(tf.keras.layers.Layer):
        def __init__(self, filters, kernel_size, **kwargs):
            super().__init__(**kwargs)
            self.conv = tf.keras.layers.Conv2D(filters, kernel_size, strides=2, padding="valid", dtype=self.dtype)
            self.conv_act = tf.keras.layers.Activation("relu", dtype=self.dtype)
            self.conv_pool = tf.keras.layers.MaxPooling2D(3, strides=3, dtype=self.dtype)

        def call(self, x):
            return self.conv_pool(self.conv_act(self.conv(x)))

    x = np.random.default_rng(1).standard_normal((2, 15, 13, 3))
    ours = ConvLayer(4, 3, strides=2, padding="valid", pool_size=3, dtype="float64")
    assert check_model(ours, x, twin=KerasConvLayer(4, 3, dtype="float64")).ok


# --- the checkers -----------------------------------------------------------------------

class MLPBlock(Layer):
    def __init__(self, hidden_units, units, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = Dense(hidden_units)
        self.act = Activation("relu")
        self.dense2 = Dense(units)

    def call(self, x):
        x = self.dense1(x)
        x = self.act(x)
        return self.dense2(x)


class FusedRelu(Layer):
    """Also right: the ReLU as Dense's activation."""

    def __init__(self, hidden_units, units, **kwargs):
        super(FusedRelu, self).__init__(**kwargs)
        self.dense1 = Dense(hidden_units, activation="relu")
        self.dense2 = Dense(units)

    def call(self, x, training=None):
        return self.dense2(self.dense1(x))


class NumpyRelu(MLPBlock):
    def call(self, x):
        return self.dense2(np.maximum(self.dense1(x), 0))


class SwappedAssignment(Layer):
    def __init__(self, hidden_units, units, **kwargs):
        super().__init__(**kwargs)
        self.dense2 = Dense(units)
        self.act = Activation("relu")
        self.dense1 = Dense(hidden_units)

    def call(self, x):
        return self.dense2(self.act(self.dense1(x)))


class ReluAtTheEnd(MLPBlock):
    def call(self, x):
        return self.act(self.dense2(self.dense1(x)))


class NoRelu(MLPBlock):
    def call(self, x):
        return self.dense2(self.dense1(x))


class NoBias(MLPBlock):
    def __init__(self, hidden_units, units, **kwargs):
        super().__init__(hidden_units, units, **kwargs)
        self.dense1 = Dense(hidden_units, use_bias=False)


class ReversedUnits(MLPBlock):
    def __init__(self, hidden_units, units, **kwargs):
        super().__init__(units, hidden_units, **kwargs)


class NoArguments(Layer):
    def __init__(self):
        super().__init__()
        self.dense1 = Dense(8)
        self.act = Activation("relu")
        self.dense2 = Dense(3)

    def call(self, x):
        return self.dense2(self.act(self.dense1(x)))


class ModelBlock(Model):
    def __init__(self, hidden_units, units, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = Dense(hidden_units)
        self.act = Activation("relu")
        self.dense2 = Dense(units)

    def call(self, x):
        return self.dense2(self.act(self.dense1(x)))


class WrongBackward(MLPBlock):
    def backward(self, dy):
        return np.zeros((4, 5))


class BuiltInInit(MLPBlock):
    def __init__(self, hidden_units, units, **kwargs):
        super().__init__(hidden_units, units, **kwargs)
        self.dense1.build((None, 5))
        self.dense1.built = True


@pytest.mark.parametrize("solution", [MLPBlock, FusedRelu])
def test_mlp_block_accepts_solutions(solution):
    assert ex.mlp_block(solution).status == CORRECT, ex.mlp_block(solution)


@pytest.mark.parametrize("mistake,words", [
    (NumpyRelu, "Activation('relu')"),
    (SwappedAssignment, "assigned before"),
    (ReluAtTheEnd, "ReLU goes between"),
    (NoRelu, "ReLU goes between"),
    (NoBias, "expected"),
    (ReversedUnits, "expected"),
    (NoArguments, "TypeError"),
    (ModelBlock, "not `Model`"),
    (WrongBackward, "delete it"),
    (BuiltInInit, "before the first call"),
    (MLPBlock(8, 3), "not an instance"),
    (Dense, "activation"),  # a Dense is a Layer, but Dense(8, 3) reads 3 as its activation
    (lambda hidden_units, units: None, "subclass `Layer`"),
])
def test_mlp_block_rejects_mistakes(mistake, words):
    verdict = ex.mlp_block(mistake)
    assert verdict.status == WRONG, verdict
    assert words in verdict.message, verdict


def test_mlp_block_placeholder_is_not_answered():
    assert ex.mlp_block(None).status == TODO


def test_mlp_block_checker_passes_copies():
    """A layer that scribbles on what it is given cannot change what the checker expects."""
    given = []

    class Scribbler(MLPBlock):
        def call(self, x):
            given.append(x)
            y = super().call(x)
            x[...] = 0.0
            return y

        def set_weights(self, weights):
            super().set_weights(weights)
            for w in weights:
                w[...] = 0.0

    ex.mlp_block(Scribbler)
    assert given and all(not np.any(x) for x in given)  # it did scribble
    assert ex.mlp_block(MLPBlock).status == CORRECT


SHAPE_ANSWERS = [(8, 16, 16, 16), [8, 16, 16, 16], np.array([8, 16, 16, 16]), (np.int64(8), 16, 16, 16)]
SHAPE_MISTAKES = [(8, 32, 32, 16), (8, 15, 15, 16), (8, 30, 30, 16), (8, 16, 16, 3), (16, 16, 16),
                  (8, 16, 16, 48), (8, 16, 16), (8, 16, 16, 16.5), "8, 16, 16, 16", 448, (8, 16, 16, 16, 1)]


@pytest.mark.parametrize("answer", SHAPE_ANSWERS, ids=str)
def test_output_shape_accepts(answer):
    assert ex.output_shape(answer).status == CORRECT


@pytest.mark.parametrize("answer", SHAPE_MISTAKES, ids=str)
def test_output_shape_rejects(answer):
    assert ex.output_shape(answer).status == WRONG


def test_output_shape_hints_name_the_mistake():
    assert "MaxPooling2D" in ex.output_shape((8, 32, 32, 16)).message
    assert "'valid'" in ex.output_shape((8, 15, 15, 16)).message
    assert "filters" in ex.output_shape((8, 16, 16, 3)).message
    assert "batch" in ex.output_shape((16, 16, 16)).message
    assert ex.output_shape(None).status == TODO


@pytest.mark.parametrize("answer", [448, np.int64(448), 448.0, np.float32(448), 3 * 3 * 3 * 16 + 16])
def test_param_count_accepts(answer):
    assert ex.param_count(answer).status == CORRECT


@pytest.mark.parametrize("answer,words", [
    (432, "bias"), (160, "in_channels"), (144, "in_channels"), (0, "Conv2D"), (3584, "batch"),
    (896, "count the Conv2D once"), (448 * 32 * 32, "image size"), (448.5, "Only the Conv2D"),
    ("448", "Only the Conv2D"), (True, "Only the Conv2D"),
])
def test_param_count_rejects(answer, words):
    verdict = ex.param_count(answer)
    assert verdict.status == WRONG and words in verdict.message, verdict


def test_param_count_placeholder():
    assert ex.param_count(None).status == TODO


WEIGHT_ORDER = [(6,), (4, 2), (2,), (6, 4), (4,)]


@pytest.mark.parametrize("answer", [WEIGHT_ORDER, [list(s) for s in WEIGHT_ORDER], tuple(WEIGHT_ORDER)], ids=str)
def test_weight_order_accepts(answer):
    assert ex.weight_order(answer).status == CORRECT


@pytest.mark.parametrize("answer,words", [
    ([(6,), (6, 4), (4,), (4, 2), (2,)], "order `call` uses"),
    ([(4, 2), (2,), (6, 4), (4,), (6,)], "own weights come first"),
    ([(6, 4), (4,), (4, 2), (2,), (6,)], "Two slips"),
    ([(4, 2), (2,), (6, 4), (4,)], "`gate` counts too"),
    ([(6,), (4, 2), (6, 4), (2,), (4,)], "stay together"),
    ([(6,), (4, 2), (2,), (6, 4)], "Two rules"),
    ("gate, out, hidden", "Two rules"),
])
def test_weight_order_rejects(answer, words):
    verdict = ex.weight_order(answer)
    assert verdict.status == WRONG and words in verdict.message, verdict


def test_weight_order_placeholder():
    assert ex.weight_order(None).status == TODO


def test_weight_order_is_keras_order(tf):
    """The checker's expected order (kbook's) is the order tf.keras lists the same layer's weights."""
    class KerasGated(tf.keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.out = tf.keras.layers.Dense(2, name="out")
            self.hidden = tf.keras.layers.Dense(4, name="hidden")

        def build(self, input_shape):
            self.gate = self.add_weight(name="gate", shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return self.out(self.hidden(x * self.gate))

    layer = KerasGated()
    layer(np.ones(ex.GATED_INPUT, dtype="float32"))
    assert [tuple(w.shape) for w in layer.weights] == WEIGHT_ORDER
    assert ex.weight_order([tuple(w.shape) for w in layer.weights]).status == CORRECT
