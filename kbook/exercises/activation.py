"""Chapter 2 (Activation) exercises: each function checks one answer.

Every checker works out the expected answer before it looks at the reader's, gives the reader's
function copies of its inputs (and says so when the function changed them), tries several shapes
and ranks, accepts float32 answers at float32 tolerance, and names the typical mistake when it
recognises one.
"""
import numpy as np

from kbook.exercises.checker import judge, returns

# --- 1. the name in the notes' list that is not an activation -------------------------------------

NOTES_LIST = ("sigmoid", "gelu", "get", "linear", "relu", "softmax", "swish")


def not_an_activation(answer):
    """Which name in the notes' list (sigmoid, gelu, get, linear, relu, softmax, swish) is not an activation?"""
    expected = "get"

    def normalise(a):
        return a.strip().strip("'\"`").removesuffix("()").lower() if isinstance(a, str) else None

    name = normalise(answer)
    if answer is not None and name is None:
        hint = 'Answer with the name, as a string in quotes: "relu", for example.'
    elif name in NOTES_LIST and name != expected:
        hint = (f"{name!r} is an activation: keras.activations.get({name!r}) returns a function that maps x to "
                f"y. Try the others the same way.")
    else:
        hint = ("Pick one of the notes' names: sigmoid, gelu, get, linear, relu, softmax, swish. Try each with "
                "keras.activations.get(name).")
    return judge(
        answer, lambda a: normalise(a) == expected,
        success="`get` is the lookup function: keras.activations.get('relu') returns relu.",
        hint=hint,
    )


# --- 2. relu's slope at 0, as TensorFlow's gradient gives it ---------------------------------------

def relu_slope_at_zero(answer):
    """What slope does TensorFlow's gradient give relu at exactly x = 0?"""
    expected = 0.0
    number = isinstance(answer, (int, float, np.integer, np.floating)) and not isinstance(answer, (bool, np.bool_))
    hint = ("relu has no derivative at 0, so TF had to choose. Ask it: "
            "tf.GradientTape on tf.nn.relu(tf.constant(0.0)).")
    if answer is not None and not number:
        hint = "Answer with a number (the slope), not " + type(answer).__name__ + "."
    elif number and float(answer) == 1.0:
        hint = "1 is the slope just right of 0. At exactly 0, TF's ReluGrad passes the gradient only where x > 0."
    elif number and float(answer) == 0.5:
        hint = ("0.5 is the average of the two one-sided slopes, a choice some texts make; TensorFlow does not. "
                "Ask tf.GradientTape.")
    elif number and not np.isfinite(float(answer)):
        hint = ("Mathematically the derivative does not exist at 0, but a gradient must be a number: "
                "which one does TF return?")
    return judge(
        answer, lambda a: number and float(a) == expected,
        success="TF's ReluGrad passes the gradient only where x > 0, so relu'(0) = 0.",
        hint=hint,
    )


# --- 3. a softmax that survives large inputs ------------------------------------------------------

def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_cases():
    rng = np.random.default_rng(3)
    return [
        np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -998.0]]),  # rows far apart: one max per row
        np.array([[1000.0, 1001.0, 1002.0]]),                       # the notes' overflow
        np.array([[-400.0, 0.0, 400.0]]),                          # a wide row: exp(x - min) overflows
        rng.standard_normal((4, 5)) * 20,                          # N != 2, a rectangle
        rng.standard_normal((3, 3)) * 5,                           # a square (catches the wrong axis)
        rng.standard_normal((2, 3, 4)) * 10 + 500,                 # rank 3: the last axis
        rng.standard_normal(6) * 3,                                # rank 1: one row
        (rng.standard_normal((4, 5)) * 20).astype(np.float32),     # float32 in, float32 out
    ]


def _softmax_mistakes(x):
    with np.errstate(all="ignore"):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        out = [
            (np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True),
             "exp(1000) overflows to inf and inf / inf is nan. softmax(x) == softmax(x - c) for any c: "
             "subtract each row's maximum first."),
            (np.exp(x - x.max()) / np.exp(x - x.max()).sum(axis=-1, keepdims=True),
             "One maximum for the whole array: a row far below it underflows to 0 / 0. Take each row's maximum: "
             "x.max(axis=-1, keepdims=True)."),
            (e, "Those are the exponentials; divide each by its row's sum to make the rows sum to one."),
            (np.exp(x - x.min(axis=-1, keepdims=True)) / np.exp(x - x.min(axis=-1, keepdims=True)).sum(
                axis=-1, keepdims=True),
             "Subtracting the minimum leaves the largest exponent positive, so exp() can still overflow: subtract "
             "the maximum."),
        ]
        if x.ndim >= 2:
            out.append((e / e.sum(axis=0, keepdims=True),
                        "That normalises over axis 0 (down the columns). Softmax normalises the last axis: "
                        "sum(axis=-1, keepdims=True)."))
            e0 = np.exp(x - x.max(axis=0, keepdims=True))
            out.append((e0 / e0.sum(axis=0, keepdims=True),
                        "That is a softmax over axis 0 (the columns). Keras's softmax uses the last axis: axis=-1."))
            if x.shape[-2] == x.shape[-1]:
                e1 = np.exp(x - x.max(axis=-1))
                s = e1.sum(axis=-1)
                out.append((e1 / s, "Without keepdims=True, x.max(axis=-1) lines up with the wrong axis when it "
                                    "is subtracted: keep the reduced axis, x.max(axis=-1, keepdims=True)."))
                out.append((e / e.sum(axis=-1), "Without keepdims=True, the row sums line up with the wrong axis "
                                                "when you divide: e.sum(axis=-1, keepdims=True)."))
    return out


def _close(got, want, float32):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype.kind not in "fiu":
        return False
    with np.errstate(all="ignore"):
        if float32:
            return bool(np.allclose(got, want, rtol=2e-5, atol=1e-7, equal_nan=True))
        return bool(np.allclose(got, want, rtol=1e-9, atol=1e-15, equal_nan=True))


def stable_softmax(fn):
    """Write fn(x) -> softmax over the last axis, for any rank, that survives x = [1000, 1001, 1002]."""
    cases = _softmax_cases()
    expected = [_softmax(x) for x in cases]            # before the reader's function runs
    found, changed = {}, []
    hint = ("exp(1000) overflows to inf. softmax(x) == softmax(x - c) for any c; "
            "pick c per row (keepdims=True helps).")

    def correct(fn):
        for x, want in zip(cases, expected):
            copy = x.copy()
            with np.errstate(all="ignore"):
                got = np.asarray(returns(fn, copy))
            if not np.array_equal(copy, x):
                changed.append(True)
            float32 = x.dtype == np.float32 or got.dtype == np.float32
            if not _close(got, want, float32):
                for bad, message in _softmax_mistakes(x):
                    if not _close(bad, want, float32) and _close(got, bad, float32):
                        found["hint"] = message
                        break
                else:
                    if got.shape != want.shape:
                        found["hint"] = (f"For an input of shape {x.shape} your function returned shape {got.shape}: "
                                         f"softmax keeps the shape.")
                    elif got.dtype.kind in "fiu" and np.isnan(got.astype(float)).any():
                        found["hint"] = f"nan for an input of shape {x.shape}: something overflowed. {hint}"
                return False
        return True

    verdict = judge(
        fn, correct,
        success="subtracting each row's maximum changes nothing mathematically and keeps exp() finite, for any "
                "rank and any dtype.",
        hint=hint,
    )
    if "hint" in found and not verdict.ok and "raised" not in verdict.message:
        verdict.message = found["hint"]
    if changed:
        verdict.message += (" Note: your function changed its input x (the checker gave it a copy): "
                            "an activation must leave its input as it was, so compute into a new array.")
    return verdict


# --- 4. the row sums of a softmax -------------------------------------------------------------------

def softmax_row_sums(answer):
    """Activation('softmax') on an input of shape (4, 5): what does y.sum(axis=-1) equal? Give the array."""
    expected = np.ones(4)

    def as_array(a):
        try:
            a = np.asarray(a)
        except Exception:
            return None
        return a if a.dtype.kind in "fiu" else None

    a = as_array(answer)
    if answer is None:
        hint = ""
    elif a is None:
        hint = "Give an array (or a list) of numbers, like np.ones(3)."
    elif a.shape == ():
        hint = ("One number for all rows: y.sum(axis=-1) sums each row separately and keeps one total per row, "
                "an array of shape (4,).")
    elif a.shape == (5,):
        hint = "That has one total per column (5). Summing the last axis of (4, 5) leaves one total per row."
    elif a.shape == (4, 1):
        hint = "Right values, but sum(axis=-1) without keepdims removes the axis: shape (4,), not (4, 1)."
    elif a.shape == (4,) and np.allclose(a, 5.0):
        hint = "The inputs' sizes do not matter: softmax scales each row so that it sums to one."
    elif a.shape == (4, 5):
        hint = "That is y's shape; y.sum(axis=-1) adds up each row, leaving one number per row."
    else:
        hint = "Give an array of the right shape. Softmax normalises along which axis, and to what total?"
    return judge(
        answer,
        lambda a: as_array(a) is not None and as_array(a).shape == (4,) and _close(as_array(a), expected, True),
        success="four ones: softmax turns each row (the last axis) into a probability distribution.",
        hint=hint,
    )
