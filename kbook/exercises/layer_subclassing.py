"""Chapter 6 (Layer subclassing) exercises: each function checks one answer.

Every expected answer is computed (by building kbook layers or by NumPy) before the
reader's answer or code runs, and the reader's code only ever gets copies.
"""
import inspect

import numpy as np

from kbook.exercises.checker import judge
from kbook.layers import Dense, Layer
from kbook.models import Model
from kbook.tape import UntraceableError
from kbook.widgets.conv_layer import ConvLayer

INPUT_SHAPE = (8, 32, 32, 3)  # exercises 1 and 2: ConvLayer(filters=16, kernel_size=3) on this


def _as_shape(value):
    """A tuple of ints from a tuple / list / array of integers; anything else raises."""
    if isinstance(value, (str, bytes)) or np.ndim(value) != 1:
        raise TypeError("answer with a tuple of integers, such as (2, 3)")
    shape = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or float(v) != int(v):
            raise TypeError(f"{v!r} is not a whole number")
        shape.append(int(v))
    return tuple(shape)


def _as_count(value):
    """An integer count from an int, a numpy integer or an integral float; anything else raises."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError("a count is a number")
    number = float(np.asarray(value).item())
    if number != int(number):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _try(convert, answer):
    try:
        return convert(answer)
    except (TypeError, ValueError):
        return None


def _built_notes_layer():
    """The notes' ConvLayer(filters=16, kernel_size=3), called once on INPUT_SHAPE zeros."""
    layer = ConvLayer(filters=16, kernel_size=3, name="exercise_conv_layer")
    y = layer(np.zeros(INPUT_SHAPE, dtype="float32"))
    return layer, y.shape


# --- exercise 1 ---------------------------------------------------------------------------

def output_shape(answer):
    """What shape does the notes' ConvLayer(filters=16, kernel_size=3) give for (8, 32, 32, 3)?"""
    _, expected = _built_notes_layer()  # computed by running the layer, before looking at the answer
    n, h, w, c = INPUT_SHAPE
    hints = {
        (n, h, w, 16): "That is what the Conv2D gives ('same' keeps 32 x 32); the block goes on: "
                       "MaxPooling2D(pool_size=2, strides=2) halves the height and the width.",
        (n, 15, 15, 16): "That is 'valid' arithmetic; the notes' Conv2D uses padding='same', so it keeps 32 x 32 "
                         "before the pooling.",
        (n, 30, 30, 16): "The notes' Conv2D uses padding='same' (32 x 32 stays 32 x 32), and the pooling "
                         "comes after it.",
        (n, 16, 16, c): "The channels of the output are the Conv2D's `filters`, not the input's 3.",
        (16, 16, 16): "Keep the batch axis: 8 images in, 8 feature-map stacks out.",
        (n, 16, 16, 16 * c): "Each filter sums over all input channels: one output channel per filter.",
        (n, 16, 16): "Keep the channel axis: one channel per filter.",
        (n, 16, h // 2, w // 2): "Keras layers are channels-last: (batch, height, width, channels).",
    }
    given = _try(_as_shape, answer) if answer is not None else None
    hint = hints.get(given, "Follow the shape stage by stage: Conv2D(16, 3, padding='same') -> Activation "
                            "-> MaxPooling2D(2, 2). Which stages change height and width, which the channels?")
    return judge(
        answer, lambda a: _as_shape(a) == tuple(expected),
        success=f"{tuple(expected)}: 'same' keeps 32 x 32 and makes 16 channels, ReLU keeps the shape, "
                "the 2 x 2 pool with strides 2 halves height and width.",
        hint=hint,
    )


# --- exercise 2 ---------------------------------------------------------------------------

def param_count(answer):
    """How many parameters does that ConvLayer have (after it is built on (8, 32, 32, 3))?"""
    layer, _ = _built_notes_layer()
    expected = layer.count_params()  # computed by kbook, before looking at the answer
    k, c, f = 3, INPUT_SHAPE[-1], 16
    hints = {
        k * k * c * f: "That is the kernel alone; each filter also has a bias.",
        k * k * f + f: "The kernel is (3, 3, in_channels, filters): every filter looks at all 3 input channels.",
        k * k * f: "The kernel is (3, 3, in_channels, filters), and each filter has a bias too.",
        0: "The Conv2D inside the block has a kernel and a bias; only Activation and MaxPooling2D have none.",
        expected * INPUT_SHAPE[0]: "The batch size does not change the weights: one kernel serves every image.",
        expected * 2: "Activation and MaxPooling2D have no parameters; count the Conv2D once.",
    }
    given = _try(_as_count, answer) if answer is not None else None
    if given is not None and given > expected * INPUT_SHAPE[0] and given not in hints:
        hint = "The image size (32 x 32) does not enter: the same small kernel slides over every position."
    else:
        hint = hints.get(given, "Only the Conv2D has weights: kernel (3, 3, in_channels, filters) and bias "
                                "(filters,). Activation and MaxPooling2D have none.")
    return judge(
        answer, lambda a: _as_count(a) == expected,
        success=f"{expected}: kernel 3 x 3 x 3 x 16 = {k * k * c * f} plus bias 16. Activation and "
                "MaxPooling2D add nothing, and neither the batch nor the image size enters.",
        hint=hint,
    )


# --- exercise 3 ---------------------------------------------------------------------------

MLP_INPUT = (4, 5)
MLP_HIDDEN, MLP_UNITS = 8, 3


def _mlp_reference():
    """Weights, input, upstream gradient and the expected results, all by hand in NumPy (float64)."""
    rng = np.random.default_rng(6)
    weights = [rng.standard_normal((MLP_INPUT[1], MLP_HIDDEN)) * 0.5, rng.standard_normal(MLP_HIDDEN) * 0.5,
               rng.standard_normal((MLP_HIDDEN, MLP_UNITS)) * 0.5, rng.standard_normal(MLP_UNITS) * 0.5]
    weights = [w.astype("float32") for w in weights]
    x = rng.standard_normal(MLP_INPUT).astype("float32")
    dy = rng.standard_normal((MLP_INPUT[0], MLP_UNITS)).astype("float32")
    w1, b1, w2, b2 = (w.astype(np.float64) for w in weights)
    z = x.astype(np.float64) @ w1 + b1
    h = np.maximum(z, 0)
    y = h @ w2 + b2
    dz = (dy @ w2.T) * (z > 0)
    expected = {"y": y, "dx": dz @ w1.T, "grads": [x.T.astype(np.float64) @ dz, dz.sum(0), h.T @ dy, dy.sum(0)]}
    return weights, x, dy, expected


def _close(ours, theirs):
    ours = np.asarray(ours, dtype=np.float64)
    return ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def mlp_block(cls):
    """Write ``class MLPBlock(Layer)``: ``MLPBlock(hidden_units, units)`` = Dense(hidden_units) -> ReLU -> Dense(units).

    Pass the class.  Checked: it is a Layer (not a Model), its weights are
    [kernel1 (5, 8), bias1 (8,), kernel2 (8, 3), bias2 (3,)] after a call on (4, 5), its output
    with given weights, and its automatic backward (dL/dx and every weight's gradient).
    """
    weights, x, dy, expected = _mlp_reference()  # before the reader's class runs
    problems = []

    def correct(cls):
        problems.clear()
        if isinstance(cls, Layer):
            problems.append("pass the class itself (`MLPBlock`), not an instance (`MLPBlock(8, 3)`).")
            return False
        if not inspect.isclass(cls) or not issubclass(cls, Layer):
            problems.append("MLPBlock must subclass `Layer` (from kbook.layers import Layer).")
            return False
        if issubclass(cls, Model):
            problems.append("subclass `Layer`, not `Model`: a block that goes inside models needs no "
                            "fit, compile, summary or save.")
            return False
        try:
            block = cls(MLP_HIDDEN, MLP_UNITS)
        except TypeError as e:
            problems.append(f"`MLPBlock({MLP_HIDDEN}, {MLP_UNITS})` failed with TypeError: {e}. Define "
                            "`__init__(self, hidden_units, units, **kwargs)` and call `super().__init__(**kwargs)`.")
            return False
        if block.get_weights():
            problems.append("the weights exist before the first call: create layers in `__init__`, and let "
                            "them build their weights when they are first called.")
            return False
        try:
            y = block(x.copy())
        except Exception as e:  # noqa: BLE001 (the reader's call may fail in any way)
            problems.append(f"calling the block failed: {type(e).__name__}: {e}")
            return False
        shapes = [w.shape for w in block.get_weights()]
        wanted = [w.shape for w in weights]
        if shapes == [wanted[2], wanted[3], wanted[0], wanted[1]]:
            problems.append(f"the weights come as {shapes}: the second Dense is assigned before the first. "
                            "Weights follow the order in which `__init__` assigns the sublayers.")
            return False
        if shapes != wanted:
            problems.append(f"after a call on {MLP_INPUT} the weights have shapes {shapes}, expected {wanted}: "
                            f"Dense({MLP_HIDDEN}), then Dense({MLP_UNITS}), each with a bias.")
            return False
        block.set_weights([w.copy() for w in weights])
        y = block(x.copy())
        if not _close(y, expected["y"]):
            problems.append("the weights are right but the output is not Dense -> ReLU -> Dense: the ReLU goes "
                            "between the two Dense layers, and the second Dense has no activation.")
            return False
        try:
            dx = block.backward(dy.copy())
        except UntraceableError:
            problems.append("the output is right, but `backward` cannot be derived: do the ReLU with a layer "
                            "(Activation('relu'), or Dense(..., activation='relu')), not with NumPy.")
            return False
        grads = [owner.grads.get(name) for owner, name, _ in block._weight_entries()]
        if not _close(dx, expected["dx"]) or any(g is None or not _close(g, e)
                                                  for g, e in zip(grads, expected["grads"])):
            problems.append("forward is right but the gradients are not: if you wrote `backward` yourself, "
                            "delete it; kbook derives it from the sublayer calls.")
            return False
        return True

    verdict = judge(
        cls, correct,
        success="a reusable block: two Dense sublayers and a ReLU, weights [kernel, bias, kernel, bias] in "
                "assignment order, built on the first call, and a backward that kbook derived on its own.",
        hint="Create Dense(hidden_units), Activation('relu') and Dense(units) in `__init__` (in that order), "
             "call them in that order in `call`, and return the last output.",
    )
    if problems and not verdict.ok and cls is not None:
        verdict.message = f"{verdict.message} Here: {problems[0]}"
    return verdict


# --- exercise 4 ---------------------------------------------------------------------------

class Gated(Layer):
    """The layer of exercise 4: its own weight plus two sublayers, assigned in another order than called."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.out = Dense(2, name="out")        # assigned first, called last
        self.hidden = Dense(4, name="hidden")  # assigned second, called first

    def build(self, input_shape):
        self.gate = self.add_weight(name="gate", shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return self.out(self.hidden(x * self.gate))


GATED_INPUT = (3, 6)


def weight_order(answer):
    """``[w.shape for w in layer.weights]`` for ``layer = Gated(); layer(np.ones((3, 6)))``: predict it."""
    layer = Gated(name="gated")
    layer(np.ones(GATED_INPUT, dtype="float32"))
    expected = [w.shape for w in layer.weights]  # computed by kbook, before looking at the answer
    own, out_k, out_b, hid_k, hid_b = expected
    hints = {
        (own, hid_k, hid_b, out_k, out_b): "That is the order `call` uses the sublayers. Sublayers come in the "
                                           "order `__init__` assigns them.",
        (out_k, out_b, hid_k, hid_b, own): "The layer's own weights come first, before any sublayer's.",
        (hid_k, hid_b, out_k, out_b, own): "Two slips: the layer's own weights come first, and sublayers follow "
                                           "assignment order, not call order.",
        (out_k, out_b, hid_k, hid_b): "The layer's own weight `gate` counts too (and comes first).",
        (own, out_k, hid_k, out_b, hid_b): "Each sublayer's weights stay together: kernel, then bias.",
    }
    try:
        given = tuple(_as_shape(s) for s in answer) if answer is not None else None
    except (TypeError, ValueError):
        given = None
    hint = hints.get(given, "Two rules: the layer's own weights first (here `gate`, shape (6,)), then each "
                            "sublayer's weights, sublayer by sublayer, in the order `__init__` assigned them.")
    return judge(
        answer, lambda a: [_as_shape(s) for s in a] == expected,
        success=f"{expected}: own weight `gate` first, then `out` (assigned first) and `hidden`, each kernel then "
                "bias. Keras lists them the same way, which is why set_weights works across the twins.",
        hint=hint,
    )
