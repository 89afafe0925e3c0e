"""Chapter 8 (Model subclassing) exercises: each function checks one answer."""
import copy
import inspect

import numpy as np

from kbook.exercises.checker import judge
from kbook.layers import Dense, Flatten, Layer
from kbook.models import Model

# Public names that keras.Model has and keras.layers.Layer lacks (Keras 3; tests/test_model_subclassing.py
# checks this list against the installed Keras).
MODEL_ONLY = frozenset({
    "compile", "fit", "evaluate", "predict", "summary", "get_layer", "layers", "save", "save_weights",
    "load_weights", "train_on_batch", "test_on_batch", "predict_on_batch", "train_step", "test_step",
    "predict_step", "make_train_function", "make_test_function", "make_predict_function", "to_json",
    "export", "reset_metrics", "compute_loss", "compute_metrics", "get_metrics_result",
    "get_compile_config", "compile_from_config", "metrics_names", "distribute_strategy", "jit_compile",
    "run_eagerly", "loss", "compiled_loss", "compiled_metrics", "stateless_compute_loss",
    "get_state_tree", "set_state_tree", "distribute_reduction_method",
})
# What every Layer already has (so a Model has it by inheritance): the usual wrong answers.
LAYER_ALSO = {
    "call": "every Layer has `call`: it is what a layer computes, and a Model is a Layer.",
    "__call__": "every Layer is callable: `layer(x)` builds on the first call, then runs `call`.",
    "build": "every Layer has `build`: it creates the weights on the first call.",
    "__init__": "every class has `__init__`.",
    "get_weights": "`get_weights` is a Layer method (a Dense layer has it too).",
    "set_weights": "`set_weights` is a Layer method (a Dense layer has it too).",
    "weights": "`weights` belongs to every Layer.",
    "trainable_weights": "`trainable_weights` belongs to every Layer.",
    "non_trainable_weights": "`non_trainable_weights` belongs to every Layer.",
    "trainable": "`trainable` belongs to every Layer (that is how a single Dense is frozen).",
    "count_params": "`count_params` is a Layer method (Dense(3).count_params() works once built).",
    "add_weight": "`add_weight` is the Layer method that creates weights in `build`.",
    "get_config": "`get_config` is a Layer method.",
    "compute_output_shape": "`compute_output_shape` is a Layer method.",
    "backward": "in kbook every Layer has `backward` (Keras has none: it uses GradientTape).",
}


def _kbook_model_only():
    return {n for n in set(dir(Model)) - set(dir(Layer)) if not n.startswith("_")}


def _normalise_name(answer):
    name = str(answer).strip()
    for prefix in ("model.", "Model.", "keras.Model.", "tf.keras.Model."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.removesuffix("()").strip()


def model_only_method(answer):
    """Name one method (or property) that a Model has and a Layer lacks."""
    name = _normalise_name(answer) if isinstance(answer, str) else answer
    accepted = MODEL_ONLY | _kbook_model_only()
    hint = ("A Model is a Layer, so every Layer method is a Model method too. Think of what only a whole "
            "network needs: listing its layers, printing a table of them, training.")
    if isinstance(name, str) and name in LAYER_ALSO:
        hint = f"Not that one: {LAYER_ALSO[name]} {hint}"
    return judge(
        name, lambda a: isinstance(a, str) and a in accepted,
        success=f"`{name}` belongs to Model, not to Layer: what a whole network needs, such as `layers`, "
                "`get_layer`, `summary`, `compile`, `fit`, `evaluate`, `predict`, `save`.",
        hint=hint,
    )


def _as_count(value):
    """An integer count from an int, a numpy integer or an integral float; anything else raises."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a count, not a bool")
    number = float(np.asarray(value).item())
    if number != int(number):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def trainable_after_freezing(answer):
    """The fixed TestModel on (N, 28, 28), then ``model.dense1.trainable = False``: trainable params?"""
    dense1 = 28 * 28 * 10 + 10
    dense2 = 10 * 20 + 20
    expected = dense2
    hints = {
        dense1: "That is dense1's count: after freezing it moves to 'Non-trainable params'.",
        dense1 + dense2: "That is the total: freezing moves dense1's weights out of the trainable ones.",
        0: "Only dense1 is frozen; the model and dense2 stay trainable.",
        10 * 20: "Count dense2's bias too.",
        28 * 28 * 10: "That is dense1's kernel, which is frozen now.",
    }
    try:
        given = _as_count(answer) if answer is not None else None
    except (TypeError, ValueError):
        given = None
    hint = hints.get(given, "Count dense2's weights: kernel (10, 20) and bias (20,). Flatten has none.")
    return judge(
        answer, lambda a: _as_count(a) == expected,
        success=f"{expected}: dense2's kernel 10 x 20 plus its bias 20. dense1's {dense1:,} are now "
                "non-trainable; the total stays 8,070.",
        hint=hint,
    )


class LayersOrderNet(Model):
    """The network of the exercise: attributes assigned in one order, called in another."""

    def __init__(self):
        super().__init__(name="layers_order_net")
        self.head = Dense(2, name="head")
        self.body = Dense(8, activation="relu", name="body")
        self.flat = Flatten(name="flat")

    def call(self, x):
        return self.head(self.body(self.flat(x)))


def layers_order(answer):
    """``[layer.name for layer in LayersOrderNet().layers]``: predict it."""
    expected = [layer.name for layer in LayersOrderNet().layers]  # computed, not typed in
    call_order = ["flat", "body", "head"]

    def correct(a):
        return [str(v) for v in a] == expected

    hint = ("model.layers follows the order in which `__init__` assigns the layers to attributes "
            "(self.head = ..., self.body = ..., ...), not the order `call` uses them.")
    if isinstance(answer, (list, tuple)) and [str(v) for v in answer] == call_order:
        hint = "That is the order `call` uses them. " + hint
    return judge(
        answer, correct,
        success=f"{expected}: a subclassed model has no graph to sort, so Keras (and kbook) list the "
                "layers in attribute-assignment order.",
        hint=hint,
    )


def _reference_weights():
    rng = np.random.default_rng(8)
    return [rng.standard_normal((784, 10)) * 0.05, rng.standard_normal(10) * 0.1,
            rng.standard_normal((10, 20)) * 0.3, rng.standard_normal(20) * 0.1]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def fixed_test_model(cls):
    """Write the notes' TestModel correctly: pass the class (not an instance)."""
    # The expected output, computed by hand before the reader's code runs.
    x = np.random.default_rng(28).standard_normal((3, 28, 28))
    w1, b1, w2, b2 = _reference_weights()
    expected = _sigmoid(_sigmoid(x.reshape(3, -1) @ w1 + b1) @ w2 + b2)
    problems = []

    def correct(cls):
        problems.clear()
        if isinstance(cls, Layer):
            problems.append("pass the class itself (`TestModel`), not an instance (`TestModel()`).")
            return False
        if not (inspect.isclass(cls) and issubclass(cls, Model)):
            problems.append("TestModel must subclass `Model` (kbook.models.Model), as in the notes.")
            return False
        try:
            model = cls()
        except TypeError as e:
            problems.append(f"`TestModel()` failed with TypeError: {e}. `__init__(self)` takes no other "
                            "argument, and `super()` needs this very class.")
            return False
        if not _defines_call_with_self(cls, problems):
            return False
        try:
            model(x.copy())
        except Exception as e:  # noqa: BLE001 (the reader's call may fail in any way)
            problems.append(f"calling the model failed: {type(e).__name__}: {e}")
            return False
        kinds = [(type(layer).__name__, getattr(layer, "units", None),
                  getattr(getattr(layer, "activation", None), "__name__", None)) for layer in model.layers]
        wanted = [("Flatten", None, None), ("Dense", 10, "sigmoid"), ("Dense", 20, "sigmoid")]
        if kinds != wanted:
            problems.append(f"model.layers should be Flatten, Dense(10, sigmoid), Dense(20, sigmoid), "
                            f"assigned in that order; got {kinds}.")
            return False
        unused = [layer.name for layer in model.layers if not layer.built]
        if unused:
            problems.append(f"{unused} never ran: does `call` use flatten, dense1 and dense2, in that order?")
            return False
        shapes = [w.shape for w in model.get_weights()]
        wanted_shapes = [w.shape for w in _reference_weights()]
        if shapes != wanted_shapes:
            problems.append(f"the weights have shapes {shapes}, expected {wanted_shapes}: flatten first, so "
                            "dense1 sees 28 * 28 = 784 features, then dense1, then dense2.")
            return False
        model.set_weights(copy.deepcopy(_reference_weights()))
        y = np.asarray(model(x.copy()))
        if y.shape != expected.shape:
            problems.append(f"the output should have shape {expected.shape}, got {y.shape}.")
            return False
        if not np.allclose(y, expected, rtol=1e-5, atol=1e-6):
            problems.append("the layers are right but the output is not flatten -> dense1 -> dense2: "
                            "does `call` use all three, in that order, and return the last?")
            return False
        return True

    verdict = judge(
        cls, correct,
        success="it runs: `def call(self, x):` (self, and the colon), one indentation style, and "
                "flatten -> dense1 -> dense2 gives (3, 20) with the expected values.",
        hint="Fix the notes' class: `def call(self, x):` (self first, colon at the end), indent every line "
             "of `call` with spaces only, and return dense2's output.",
    )
    if problems and not verdict.ok and cls is not None:
        verdict.message = f"{verdict.message} Here: {problems[0]}"
    return verdict


def _defines_call_with_self(cls, problems):
    own = [klass.__dict__["call"] for klass in cls.__mro__[:cls.__mro__.index(Model)] if "call" in klass.__dict__]
    call = own[0] if own else None
    if call is None:
        problems.append("TestModel needs its own `call` method.")
        return False
    params = list(inspect.signature(call).parameters)
    if len(params) < 2 or params[0] != "self":
        problems.append(f"`call` is defined as call({', '.join(params)}): a method takes `self` first, "
                        "then the input: `def call(self, x):`.")
        return False
    return True
