"""Chapter 10 (Training) exercises: each function checks one answer.

Every checker works out the expected answer before it looks at the reader's, and gives the
reader's function copies, so a function that modifies its arguments changes nothing here.
"""
import math

import numpy as np

from kbook.exercises.checker import judge, returns

# --- 1. how many updates in one epoch -------------------------------------------------------------

# (n, batch_size) pairs the checker tries: a remainder, an exact fit, a batch larger than the data,
# batch 1, and the chapter's 1,437 training digits at batch 32.
UPDATE_CASES = [(1437, 32), (1440, 32), (10, 32), (7, 1), (100, 7), (64, 64), (65, 64), (1, 5)]


def _updates_hint(fn):
    """Name the mistake: floor division, a float, rounding to the nearest, or counting samples."""
    answers = {(n, b): returns(fn, n, b) for n, b in UPDATE_CASES}
    if all(a == n // b for (n, b), a in answers.items()):
        return ("That is n // batch_size, which drops the last, smaller batch. fit still makes an update "
                "for it (1437 / 32 leaves 29 samples: a 45th batch), and a batch larger than the data is "
                "still one batch.")
    if all(isinstance(a, float) and not float(a).is_integer() for (n, b), a in answers.items() if n % b):
        return "A number of updates is a whole number: round n / batch_size, but which way?"
    if all(a == round(n / b) for (n, b), a in answers.items()):
        return "Rounding to the nearest drops a last batch smaller than half a batch; fit still trains on it."
    if all(a == n for (n, b), a in answers.items()):
        return "One update per batch, not per sample: the gradient is averaged over the batch first."
    return None


def updates_per_epoch(fn):
    """Write fn(n, batch_size) -> how many times fit updates the weights in one epoch of n samples."""
    expected = {(n, b): math.ceil(n / b) for n, b in UPDATE_CASES}

    def correct(fn):
        for (n, b), want in expected.items():
            got = returns(fn, n, b)
            if isinstance(got, (bool, np.bool_)) or not float(got).is_integer() or int(got) != want:
                return False
        return True

    hint = "One update per mini-batch; the last batch may be smaller than batch_size, and it still counts."
    try:
        specific = _updates_hint(fn) if callable(fn) else None
    except Exception:  # the reader's function fails: judge reports that
        specific = None
    return judge(
        fn, correct,
        success="ceil(n / batch_size): 1,437 digits at batch 32 give 45 updates per epoch, the last on "
                "29 samples. fit's progress bar counts them (45/45).",
        hint=specific or hint,
    )


# --- 2. one SGD step by hand ----------------------------------------------------------------------

STEP = {"x": 2.0, "y": 3.0, "w": 0.5, "learning_rate": 0.1}


def sgd_step(answer):
    """The model y_hat = w * x, loss (w x - y)^2, x = 2, y = 3, w = 0.5, SGD with learning_rate 0.1:
    the weight after one step?"""
    x, y, w, lr = STEP["x"], STEP["y"], STEP["w"], STEP["learning_rate"]
    grad = 2 * (w * x - y) * x                       # -8
    expected = w - lr * grad                         # 1.3
    wrong = {
        w + lr * grad: "The step went uphill: SGD subtracts the gradient, w <- w - lr * dL/dw, and here "
                       "dL/dw is negative.",
        w - lr * grad / 2: "d/dw (w x - y)^2 = 2 (w x - y) x: the factor 2 from the square is missing.",
        w - lr * (w * x - y): "The chain rule needs the inner derivative too: d/dw (w x - y)^2 = 2 (w x - y) * x.",
        w - grad: "The learning rate is missing: SGD moves by lr * dL/dw, not by the whole gradient.",
        grad: "That is the gradient dL/dw; the question asks for the weight after the step.",
        -lr * grad: "That is the step (-lr * dL/dw); add it to w = 0.5.",
    }

    def correct(answer):
        return math.isclose(float(answer), expected, rel_tol=1e-6, abs_tol=1e-6)

    value = None
    try:
        value = float(answer)
    except (TypeError, ValueError):
        pass
    hint = next((message for bad, message in wrong.items()
                 if value is not None and math.isclose(value, bad, rel_tol=1e-6, abs_tol=1e-6)),
                "First dL/dw = 2 (w x - y) x at w = 0.5, then w - learning_rate * dL/dw.")
    return judge(
        answer, correct,
        success="1.3: dL/dw = 2 (0.5 * 2 - 3) * 2 = -8, so w <- 0.5 - 0.1 * (-8) = 1.3. The loss drops from "
                "4 to 0.16; the best weight is 1.5.",
        hint=hint,
    )


# --- 3. what from_logits=True changes -------------------------------------------------------------

Y_PRED = np.array([0.5, 0.3, 0.2])  # a softmax output: probabilities that add up to 1
LABEL = 0


def _from_logits_values():
    z = Y_PRED - Y_PRED.max()
    as_logits = -(z[LABEL] - np.log(np.exp(z).sum()))          # softmax applied (again): -log 0.391
    as_probabilities = -np.log(Y_PRED[LABEL])                   # read as they are: -log 0.5
    return float(as_logits), float(as_probabilities)


def from_logits(answer):
    """A model's softmax gives y_pred = [0.5, 0.3, 0.2] for an example of class 0: (the loss with
    SparseCategoricalCrossentropy(from_logits=True), the loss with from_logits=False), to 3 decimals."""
    as_logits, as_probabilities = _from_logits_values()      # 0.940, 0.693

    def pair(answer):
        a, b = (float(v) for v in answer)
        return a, b

    def close(a, b):
        return abs(a - b) <= 6e-4  # 3 decimals, rounded either way

    def correct(answer):
        a, b = pair(answer)
        return close(a, as_logits) and close(b, as_probabilities)

    hint = ("from_logits=True: the loss applies softmax to y_pred first, then -log p[label]. from_logits=False: "
            "y_pred is taken as the probabilities themselves, loss -log y_pred[label].")
    try:
        a, b = pair(answer)
        if close(a, as_probabilities) and close(b, as_logits):
            hint = "The two are swapped: from_logits=True is the one that applies softmax."
        elif close(a, as_probabilities) and close(b, as_probabilities):
            hint = ("from_logits=True does not read 0.5 as a probability: it treats the three numbers as logits and "
                    "applies softmax to them first.")
        elif close(a, as_logits) and close(b, as_logits):
            hint = "from_logits=False applies no softmax: 0.5 is taken as the probability of class 0 itself."
        elif close(b, -math.log10(Y_PRED[LABEL])) or close(a, -math.log10(math.exp(-as_logits))):
            hint = "Crossentropy uses the natural logarithm (ln), not log10."
        elif close(a, as_logits):
            hint = "The first is right. With from_logits=False, y_pred[0] = 0.5 is the probability itself: -ln 0.5."
        elif close(b, as_probabilities):
            hint = ("The second is right. With from_logits=True, softmax first: "
                    "e^0.5 / (e^0.5 + e^0.3 + e^0.2), then -ln of that.")
    except Exception:
        pass
    return judge(
        answer, correct,
        success=f"({as_logits:.3f}, {as_probabilities:.3f}): with from_logits=True the loss applies softmax to what is "
                "already a softmax output, squashing 0.5 to 0.391 (the numbers differ by at most 0.3, so their "
                "softmax is nearly flat). Say from_logits=True only when the last layer is linear.",
        hint=hint,
    )


# --- 4. Adam's first step ------------------------------------------------------------------------

ADAM_GRADIENT = np.array([100.0, -0.01])
ADAM_LEARNING_RATE = 0.1


def _adam_first_change():
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-7
    g = ADAM_GRADIENT
    m, v = (1 - beta_1) * g, (1 - beta_2) * g ** 2
    alpha = ADAM_LEARNING_RATE * math.sqrt(1 - beta_2) / (1 - beta_1)
    return -alpha * m / (np.sqrt(v) + epsilon)


def adam_first_step(answer):
    """Adam(learning_rate=0.1), first step, gradients [100, -0.01]: the change of each weight?"""
    expected = _adam_first_change()                       # about [-0.1, +0.1]

    def as_array(answer):
        a = np.asarray(answer, dtype=float)
        if a.shape != (2,):
            raise ValueError(f"answer with two numbers, one per weight; got shape {a.shape}")
        return a

    def correct(answer):
        return bool(np.allclose(as_array(answer), expected, rtol=2e-3, atol=1e-4))

    hint = ("Adam divides the running mean of the gradient by the root of the running mean of its square, "
            "so on the first step (both bias-corrected) each weight moves by about learning_rate, against "
            "the sign of its gradient.")
    try:
        a = as_array(answer)
        if np.allclose(a, -ADAM_LEARNING_RATE * ADAM_GRADIENT, rtol=1e-3):
            hint = ("That is SGD's step, -lr * g: Adam rescales each gradient by its own size, so a huge "
                    "and a tiny gradient give steps of the same size.")
        elif np.allclose(a, -expected, rtol=2e-3, atol=1e-4):
            hint = "The signs are flipped: every optimizer moves against the gradient (downhill)."
        elif np.allclose(a, expected * (1 - 0.9) / math.sqrt(1 - 0.999), rtol=2e-3):  # about [-0.316, 0.316]
            hint = "Without the bias corrections: on step 1, m and v are divided by (1 - 0.9) and (1 - 0.999)."
    except Exception:
        pass
    return judge(
        answer, correct,
        success="about [-0.1, +0.1]: the first step is lr * sign(g) for every weight, however large or small "
                "its gradient (the second is 0.09997: epsilon = 1e-7 is not quite nothing next to 0.01 * 0.0316).",
        hint=hint,
    )
