"""Chapter 8: the exercise checkers and the freezing explorer."""
import numpy as np
import pytest

from kbook.exercises import model_subclassing as ex
from kbook.exercises.checker import CORRECT, TODO, WRONG
from kbook.layers import Activation, Dense, Flatten, Layer
from kbook.models import Model
from kbook.widgets.model_subclassing import FreezeExplorer, TinyDetector

PNG = b"\x89PNG"


# --- the reader's TestModel -------------------------------------------------------------

class Solution(Model):
    def __init__(self):
        super(Solution, self).__init__()   # the notes' two-argument super() is fine
        self.flatten = Flatten()
        self.dense1 = Dense(units=10, activation="sigmoid")
        self.dense2 = Dense(units=20, activation="sigmoid")

    def call(self, x):
        x = self.flatten(x)
        x = self.dense1(x)
        x = self.dense2(x)
        return x


class ZeroArgSuper(Solution):
    def __init__(self):
        Model.__init__(self)
        self.flatten = Flatten()
        self.dense1 = Dense(10, activation="sigmoid")
        self.dense2 = Dense(20, activation="sigmoid")


class WithTraining(Solution):
    def call(self, x, training=None):
        return self.dense2(self.dense1(self.flatten(x)))


def _variant(init_layers, call):
    class Variant(Model):
        def __init__(self):
            super().__init__()
            for name, layer in init_layers():
                setattr(self, name, layer)

    Variant.call = call
    return Variant


def _notes_layers():
    return [("flatten", Flatten()), ("dense1", Dense(10, activation="sigmoid")),
            ("dense2", Dense(20, activation="sigmoid"))]


def _call_without_self(x):  # the notes' `def call(x)`, once the colon is added
    return x


NoSelf = _variant(_notes_layers, _call_without_self)
SkipsDense2 = _variant(_notes_layers, lambda self, x: self.dense1(self.flatten(x)))
WrongOrder = _variant(_notes_layers, lambda self, x: self.dense2(self.flatten(self.dense1(x))))
Relu = _variant(lambda: [("flatten", Flatten()), ("dense1", Dense(10, activation="relu")),
                         ("dense2", Dense(20, activation="sigmoid"))],
                lambda self, x: self.dense2(self.dense1(self.flatten(x))))
Units20Then10 = _variant(lambda: [("flatten", Flatten()), ("dense1", Dense(20, activation="sigmoid")),
                                  ("dense2", Dense(10, activation="sigmoid"))],
                         lambda self, x: self.dense2(self.dense1(self.flatten(x))))
NoActivation = _variant(lambda: [("flatten", Flatten()), ("dense1", Dense(10)), ("dense2", Dense(20))],
                        lambda self, x: self.dense2(self.dense1(self.flatten(x))))
ExtraLayer = _variant(lambda: _notes_layers() + [("act", Activation("relu"))],
                      lambda self, x: self.act(self.dense2(self.dense1(self.flatten(x)))))
AssignedOutOfOrder = _variant(lambda: list(reversed(_notes_layers())),
                              lambda self, x: self.dense2(self.dense1(self.flatten(x))))


class LayerNotModel(Layer):
    def __init__(self):
        super().__init__()
        self.flatten = Flatten()
        self.dense1 = Dense(10, activation="sigmoid")
        self.dense2 = Dense(20, activation="sigmoid")

    def call(self, x):
        return self.dense2(self.dense1(self.flatten(x)))


class NeedsArgument(Solution):
    def __init__(self, units):
        super().__init__()


class NoCall(Model):
    def __init__(self):
        super().__init__()
        self.flatten = Flatten()


@pytest.mark.parametrize("solution", [Solution, ZeroArgSuper, WithTraining])
def test_fixed_test_model_accepts_correct_classes(solution):
    verdict = ex.fixed_test_model(solution)
    assert verdict.status == CORRECT, verdict


@pytest.mark.parametrize("mistake,words", [
    (NoSelf, "self"), (SkipsDense2, "never ran"), (WrongOrder, "784"), (Relu, "relu"),
    (Units20Then10, "Dense"), (NoActivation, "linear"), (ExtraLayer, "Activation"),
    (AssignedOutOfOrder, "order"), (LayerNotModel, "subclass `Model`"), (NeedsArgument, "__init__"),
    (NoCall, "call"), ("TestModel", "subclass"),
])
def test_fixed_test_model_rejects_mistakes_with_a_specific_hint(mistake, words):
    verdict = ex.fixed_test_model(mistake)
    assert verdict.status == WRONG, verdict
    assert words in verdict.message


def test_fixed_test_model_rejects_an_instance_and_leaves_none_unanswered():
    assert ex.fixed_test_model(None).status == TODO
    verdict = ex.fixed_test_model(Solution())
    assert verdict.status == WRONG and "not an instance" in verdict.message


def test_fixed_test_model_reference_is_the_real_forward_pass():
    # the checker's hand-computed expectation equals kbook running the solution with the same weights
    model = Solution()
    x = np.random.default_rng(28).standard_normal((3, 28, 28))
    model(x)
    model.set_weights(ex._reference_weights())
    w1, b1, w2, b2 = ex._reference_weights()
    by_hand = ex._sigmoid(ex._sigmoid(x.reshape(3, -1) @ w1 + b1) @ w2 + b2)
    assert np.allclose(model(x), by_hand, rtol=1e-5, atol=1e-6)


# --- counts, order, Model vs Layer ---------------------------------------------------------

def test_trainable_after_freezing_matches_kbook(assert_checker):
    model = Solution()
    model(np.zeros((1, 28, 28)))
    model.dense1.trainable = False
    truth = sum(w.size for w in model.trainable_weights)
    assert truth == 220
    assert_checker(ex.trainable_after_freezing, truth, 7850)
    for right in (np.int64(220), 220.0, np.float32(220), "220"):
        assert ex.trainable_after_freezing(right).status == CORRECT
    hints = {7850: "dense1's count", 8070: "total", 0: "Only dense1", 200: "bias", 7840: "kernel",
             221: "Count dense2", 220.5: "Count dense2", True: "Count dense2", "many": "Count dense2"}
    for wrong, words in hints.items():
        verdict = ex.trainable_after_freezing(wrong)
        assert verdict.status == WRONG and words in verdict.message, (wrong, verdict)


def test_layers_order(assert_checker):
    assert_checker(ex.layers_order, ["head", "body", "flat"], ["flat", "body", "head"])
    assert ex.layers_order(("head", "body", "flat")).status == CORRECT
    assert "order `call` uses" in ex.layers_order(["flat", "body", "head"]).message
    for wrong in (["head", "body"], ["body", "head", "flat"], "head body flat", 3):
        assert ex.layers_order(wrong).status == WRONG


def test_model_only_method(assert_checker):
    assert_checker(ex.model_only_method, "summary", "call")
    for right in ("fit", "compile", "get_layer", "layers", "model.summary()", " predict "):
        assert ex.model_only_method(right).status == CORRECT, right
    for wrong in ("call", "build", "get_weights", "trainable_weights", "count_params", "backward", "__call__"):
        verdict = ex.model_only_method(wrong)
        assert verdict.status == WRONG and "Not that one" in verdict.message, wrong
    for wrong in ("fitt", "", 42, "Summary"):
        assert ex.model_only_method(wrong).status == WRONG


def test_model_only_names_agree_with_keras(tf):
    model_names = set(dir(tf.keras.Model))
    layer_names = set(dir(tf.keras.layers.Layer))
    assert ex.MODEL_ONLY <= model_names - layer_names
    keras_layer_methods = set(ex.LAYER_ALSO) - {"backward"}
    assert keras_layer_methods <= layer_names
    assert not hasattr(tf.keras.layers.Layer, "backward")
    # and kbook's own Model adds (at least) these to its Layer
    public = {n for n in set(dir(Model)) - set(dir(Layer)) if not n.startswith("_")}
    assert {"get_layer", "layers", "summary"} <= public


# --- the explorer ----------------------------------------------------------------------------

def test_freeze_explorer_follows_keras_cascade():
    explorer = FreezeExplorer()
    figure, renders = explorer.live.figure, explorer.live.renders
    assert bytes(explorer.live.image.value).startswith(PNG)
    assert "Trainable params: 2,276 | Non-trainable params: 0" in explorer.summary()
    assert "layers with grads == {}: (none)" in explorer.summary()

    explorer.backbone_trainable.value = False          # freezes both convolutions
    assert explorer.live.renders == renders + 1 and explorer.live.figure is figure
    assert not explorer.conv_a_trainable.value and not explorer.conv_b_trainable.value
    text = explorer.summary()
    assert "Trainable params: 884 | Non-trainable params: 1,392 | Total: 2,276" in text
    assert "weights with a gradient: head/kernel, head/bias" in text
    assert "layers with grads == {}: conv_a, conv_b" in text
    assert explorer.model.backbone.get_layer("conv_a").grads == {}

    explorer.conv_b_trainable.value = True              # a child can be unfrozen alone
    assert "Trainable params: 2,052 | Non-trainable params: 224" in explorer.summary()

    explorer.model_trainable.value = False
    assert "Trainable params: 0 | Non-trainable params: 2,276" in explorer.summary()
    assert not any(box.value for box in explorer.controls())
    explorer.model_trainable.value = True               # unfreezing the parent unfreezes everything
    assert all(box.value for box in explorer.controls())
    assert "layers with grads == {}: (none)" in explorer.summary()


def test_freeze_explorer_counts_equal_the_model_and_keras(tf):
    explorer = FreezeExplorer()
    explorer.head_trainable.value = False
    model = explorer.model
    assert explorer.counts() == (1392, 884)
    assert sum(w.size for w in model.weights) == 2276

    def keras_detector():
        i = tf.keras.Input((16, 16, 3))
        h = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        h = tf.keras.layers.MaxPooling2D()(h)
        h = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(h)
        backbone = tf.keras.Model(i, h)
        pool, head = tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(52)

        class Twin(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.backbone, self.pool, self.head = backbone, pool, head

            def call(self, x):
                return self.head(self.pool(self.backbone(x)))

        return Twin()

    twin = keras_detector()
    twin(explorer.x)
    twin.set_weights(model.get_weights())
    twin.head.trainable = False
    assert (sum(int(np.prod(w.shape)) for w in twin.trainable_weights),
            sum(int(np.prod(w.shape)) for w in twin.non_trainable_weights)) == explorer.counts()
    assert np.allclose(twin(explorer.x).numpy(), model(explorer.x), atol=1e-5)


def test_tiny_detector_layout():
    model = TinyDetector(cell_size=3, boxes_per_cell=1, num_classes=4)
    y = model(np.zeros((2, 16, 16, 3)))
    assert y.shape == (2, 3 * 3 * (4 + 5))
    assert [layer.name for layer in model.layers] == ["backbone", "gap", "head"]


# --- summaries of subclassed models holding models and build-at-init layers (kbook/summary.py) ---------

def _summary(model):
    parts = []
    model.summary(print_fn=lambda text, **kwargs: parts.append(text))
    return "".join(parts)


def test_subclassed_summary_with_nested_models_and_pooling_equals_keras(tf):
    import kbook.layers as kl
    import kbook.models as km

    def make(layers, models, sequential):
        class Net(models.Model):
            def __init__(self):
                super().__init__(name="net")
                self.conv = layers.Conv2D(4, 3, name="conv")
                self.act = layers.Activation("relu", name="act")          # Keras builds these at init:
                self.pool = layers.MaxPooling2D(name="pool")              # "?" and "0", called or not
                self.gap = layers.GlobalAveragePooling2D(name="gap")
                i = layers.Input((4, 4, 4), name="sub_in")
                self.sub = models.Model(i, [layers.Dense(3, name="d3")(layers.Flatten(name="fl")(i)),
                                            layers.Dense(2, name="d2")(layers.Flatten(name="fl2")(i))],
                                        name="subf")                      # a nested Functional: its output_shape
                self.seq = sequential([layers.Input((4,), name="seq_in"), layers.Dense(2, name="s1")], name="subs")
                self.seq2 = sequential([layers.Dense(2, name="s2")], name="subs2")   # built by the first call
                self.dense = layers.Dense(4, name="dense")

            def call(self, x):
                h = self.pool(self.act(self.conv(x)))
                self.sub(h)
                return self.seq2(self.seq(self.dense(self.gap(h))))

        return Net()

    ours = make(kl, km, km.Sequential)
    theirs = make(tf.keras.layers, tf.keras, tf.keras.Sequential)
    assert _summary(ours) == _summary(theirs)
    x = np.zeros((2, 10, 10, 3), dtype="float32")
    ours(x)
    theirs(x)
    assert _summary(ours) == _summary(theirs)
    assert "((None, 3), (None, 2))" in _summary(ours)
