"""Chapter 7 (The Functional API) exercises: each function checks one answer.

Every expected answer is computed with kbook (a graph built symbolically) before the
reader's answer is looked at.
"""
import contextlib

import numpy as np

from kbook.exercises.checker import WRONG, judge, returns


def _shape(value):
    """A shape from a tuple or list whose items are ints (NumPy ints too) or None."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("a shape is a tuple such as (None, 4)")
    items = []
    for v in value:
        if v is None:
            items.append(None)
        elif isinstance(v, (bool, np.bool_)):
            raise TypeError("a shape holds ints (or None), not bools")
        else:
            number = float(np.asarray(v).item())
            if number != int(number):
                raise ValueError(f"{v!r} is not a whole number")
            items.append(int(number))
    return tuple(items)


def _count(value):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a count, not a bool")
    number = float(np.asarray(value).item())
    if number != int(number):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


@contextlib.contextmanager
def _names_untouched():
    """Build the checker's own graphs without advancing the reader's automatic names (dense_1, ...)."""
    from kbook.layers.base import _name_counts

    saved = dict(_name_counts)
    try:
        yield
    finally:
        _name_counts.clear()
        _name_counts.update(saved)


def _safe(convert, value):
    try:
        return convert(value)
    except Exception:
        return None


# --- Exercise 1: the output shape of a graph with two branches ---------------------------

def branch_graph():
    """The exercise's graph: two branches from one Input, concatenated, then pooled."""
    from kbook.layers import Concatenate, Conv2D, Input, MaxPooling2D

    inputs = Input((32, 32, 3))
    a = Conv2D(8, 3, padding="same")(inputs)
    b = Conv2D(4, 1)(inputs)
    c = Concatenate()([a, b])
    return MaxPooling2D()(c)


def output_shape(answer):
    """The shape of ``MaxPooling2D()(Concatenate()([Conv2D(8, 3, padding="same")(x), Conv2D(4, 1)(x)]))``
    for ``x = Input((32, 32, 3))``."""
    with _names_untouched():
        expected = branch_graph().shape  # (None, 16, 16, 12), from the graph itself
    given = _safe(_shape, answer)
    hint = ('Follow the shapes: padding="same" keeps 32 x 32; a 1 x 1 kernel with "valid" padding keeps it too; '
            "Concatenate joins along the last axis; MaxPooling2D() halves height and width.")
    if given is not None:
        if given == expected[1:]:
            hint = ("Right numbers, but a symbolic tensor's shape starts with the batch axis, which is "
                    "None (unknown until data comes).")
        elif len(given) == 4 and given[:3] == expected[:3] and given[3] in (8, 4):
            hint = ("Concatenate joins the branches along the last axis (the channels): their channel "
                    "counts add up.")
        elif len(given) == 4 and given[3] == expected[3] and given[1:3] == (32, 32):
            hint = "Don't forget the last layer: MaxPooling2D() (pool_size 2) halves height and width."
        elif len(given) == 4 and given[1:3] in ((15, 15), (30, 30), (14, 14)):
            hint = ('padding="same" keeps 32 x 32 for the 3 x 3 branch, and a 1 x 1 kernel shrinks nothing; '
                    "Concatenate needs both branches the same size anyway.")
    return judge(
        answer, lambda a: _shape(a) == expected,
        success=f"{expected}: both branches stay 32 x 32, Concatenate gives 8 + 4 = 12 channels, "
                "and pooling halves 32 to 16. None is the batch.",
        hint=hint,
    )


# --- Exercise 2: parameters of a two-input, two-output model with a shared layer ----------

def two_input_model():
    """The exercise's model: two inputs through one shared Dense, then Concatenate and Add heads."""
    from kbook.layers import Add, Concatenate, Dense, Input
    from kbook.models import Model

    in_a, in_b = Input((6,), name="in_a"), Input((6,), name="in_b")
    shared = Dense(8, activation="relu", name="shared")
    ha, hb = shared(in_a), shared(in_b)
    out_1 = Dense(3, name="out_1")(Concatenate(name="cat")([ha, hb]))
    out_2 = Dense(1, name="out_2")(Add(name="add")([ha, hb]))
    return Model([in_a, in_b], [out_1, out_2], name="two_heads")


def param_count(answer):
    """``two_input_model().count_params()``: predict it."""
    with _names_untouched():
        expected = two_input_model().count_params()  # 56 + 51 + 9 = 116
    shared, head_1, head_2 = 6 * 8 + 8, 16 * 3 + 3, 8 * 1 + 1
    hints = {
        expected + shared: "The shared Dense is one layer called twice: its 56 weights exist once, "
                           "however many times it is called.",
        head_1 + head_2: "Count the shared Dense too: kernel (6, 8) and bias (8,).",
        6 * 8 + 16 * 3 + 8: "Every Dense has a bias as well as a kernel.",
        shared + (8 * 3 + 3) + head_2: "Concatenate puts the two 8-wide outputs side by side: out_1 reads 16 numbers.",
        shared + head_1 + (16 + 1): "Add sums the two 8-wide outputs elementwise: out_2 reads 8 numbers, not 16.",
    }
    hint = hints.get(_safe(_count, answer),
                     "Add each layer's weights once: shared Dense (6 -> 8), out_1 reads the concatenation, "
                     "out_2 reads the sum. Merge layers have no weights.")
    return judge(
        answer, lambda a: _count(a) == expected,
        success=f"{expected}: shared 6*8 + 8 = 56 (once, though called twice), out_1 16*3 + 3 = 51 "
                "(Concatenate makes 16), out_2 8*1 + 1 = 9 (Add keeps 8). Merges have none.",
        hint=hint,
    )


# --- Exercise 3: build a functional model from a description ------------------------------

def reference_residual_model():
    """The described model, as the checker builds it."""
    from kbook.layers import Add, Conv2D, Dense, Flatten, Input
    from kbook.models import Model

    inputs = Input((8, 8, 1))
    h = Conv2D(4, 3, padding="same", activation="relu")(inputs)
    h = Conv2D(1, 3, padding="same")(h)
    h = Add()([h, inputs])
    outputs = Dense(2)(Flatten()(h))
    return Model(inputs, outputs)


def residual_model(fn):
    """Write ``fn()`` returning the model: Input (8, 8, 1) -> Conv2D(4, 3, "same", relu) ->
    Conv2D(1, 3, "same") -> Add with the input -> Flatten -> Dense(2)."""
    from kbook.models import Functional

    with _names_untouched():
        reference = reference_residual_model()  # built first, before the reader's code runs
    rng = np.random.default_rng(7)
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in reference.get_weights()]
    reference.set_weights(weights)
    x = rng.standard_normal((3, 8, 8, 1)).astype("float32")
    expected = reference(x)
    expected_types = [type(layer).__name__ for layer in reference.layers]
    problem = {}

    def correct(fn):
        model = returns(fn)
        if not isinstance(model, Functional):
            problem["hint"] = ("Return a kbook Functional model: `Model(inputs=..., outputs=...)` with "
                               "kbook.layers and kbook.models (not tf.keras, not Sequential).")
            return False
        types = [type(layer).__name__ for layer in model.layers]
        if model.inputs[0].shape != (None, 8, 8, 1) or len(model.inputs) != 1:
            problem["hint"] = "One Input, of shape (8, 8, 1): height, width, channels (no batch axis)."
            return False
        if "Add" not in types:
            problem["hint"] = ("Where is the residual connection? Keep the Input tensor in a variable and "
                               "join it to the second convolution's output with Add()([h, inputs]).")
            return False
        if model.count_params() != reference.count_params() or sorted(types) != sorted(expected_types):
            problem["hint"] = ("The layers or their sizes differ from the description: Conv2D(4, 3), "
                               "Conv2D(1, 3), Add, Flatten, Dense(2), each once.")
            return False
        try:
            model.set_weights([w.copy() for w in weights])
        except ValueError:
            problem["hint"] = "The layers are right but not in the described order (the weights do not fit)."
            return False
        got = model(x.copy())
        if np.shape(got) != expected.shape or not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            problem["hint"] = ("Same layers, different numbers. Check: activation='relu' on the first Conv2D "
                               "only, padding='same' on both, and that Add joins the second convolution's "
                               "output with the Input itself (not with the first convolution's output).")
            return False
        return True

    verdict = judge(
        fn, correct,
        success="the same graph: given the same weights it computes the same outputs as the reference. "
                "The Add is the residual connection: out = x + F(x).",
        hint="",
    )
    if verdict.status == WRONG:  # the hint names what differs; judge adds what raised, if anything did
        default = ("Build it as described: inputs = Input((8, 8, 1)); two Conv2D with padding='same'; "
                   "Add()([h, inputs]); Flatten; Dense(2); return Model(inputs, outputs).")
        verdict.message = (problem.get("hint", default) + verdict.message).strip()
    return verdict


# --- Exercise 4: the Input shape for images -----------------------------------------------

def image_input_shape(answer):
    """``Input(shape=...)`` for RGB photos 64 pixels wide and 32 pixels high."""
    height, width, channels = 32, 64, 3
    expected = (height, width, channels)
    given = _safe(_shape, answer)
    hints = {
        (width, height, channels): "That is (W, H, C): width and height swapped. Keras reads an image as "
                                   "(height, width, channels), rows before columns, as NumPy does.",
        (None, height, width, channels): "`shape=` describes one sample; Input adds the batch axis (None) itself.",
        (channels, height, width): "Keras layers are channels_last by default: (height, width, channels).",
        (height, width): "RGB photos have 3 channels: without them Conv2D refuses the input.",
        (height, width, 1): "RGB means 3 channels.",
        (height * width * channels,): "Flattened, the model could not use Conv2D; keep the image's "
                                      "(height, width, channels).",
    }
    return judge(
        answer, lambda a: _shape(a) == expected,
        success=f"{expected}: 32 rows (height), 64 columns (width), 3 channels; Input adds None for the "
                "batch: (None, 32, 64, 3).",
        hint=hints.get(given, "One sample's shape, in Keras's order: (height, width, channels)."),
    )
