"""Chapter 1 (Dense) exercises: each function checks one answer.

Every checker works out the expected answer before it looks at the reader's, gives the reader's
function copies of its inputs (and says so when the function changed them), tries several shapes,
accepts float32 answers at float32 tolerance, and names the typical mistake when it recognises one.
"""
import numpy as np

from kbook.exercises.checker import judge, returns

# --- shared by the checkers below ----------------------------------------------------------------


def _is_integer(answer):
    """A Python or NumPy integer; not a bool, not a float that happens to be whole."""
    return isinstance(answer, (int, np.integer)) and not isinstance(answer, (bool, np.bool_))


def _integer_hint(answer):
    """The hint for an answer that is not an integer, or None when it is one."""
    if _is_integer(answer):
        return None
    if isinstance(answer, (bool, np.bool_)):
        return "Answer with a whole number (an int), not True or False."
    if isinstance(answer, (float, np.floating)):
        if float(answer).is_integer():
            return f"Answer with an int ({int(answer)}, not {answer!r}): a count of numbers is a whole number."
        return "A count of numbers is a whole number: did you divide where you meant to multiply, or forget to round?"
    return "Answer with a whole number (an int)."


def _close(got, want, float32):
    """Equal at float64 tolerance, or at float32's when the inputs or the answer are float32."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False
    if float32 or got.dtype == np.float32:
        return bool(np.allclose(got, want, rtol=2e-5, atol=1e-6))
    return bool(np.allclose(got, want, rtol=1e-9, atol=1e-12))


def _call(fn, case):
    """The reader's answer for one case, called on copies; and whether it changed any input."""
    copies = [np.array(a, copy=True) for a in case]
    got = returns(fn, *copies)
    changed = any(not np.array_equal(a, c) for a, c in zip(case, copies))
    with np.errstate(all="ignore"):
        got = np.asarray(got)
    if got.dtype.kind not in "fiu":
        raise TypeError(f"your function returned {got.dtype} values, not numbers")
    return got, changed


def _check_function(fn, cases, reference, mistakes, success, hint):
    """Judge a function answer on every case.

    ``reference(*case)`` is the expected output (computed before the reader's function runs);
    ``mistakes(*case)`` lists ``(output, message)`` for the typical wrong versions.
    """
    expected = [reference(*case) for case in cases]
    changed = []
    found = {}

    def correct(fn):
        for case, want in zip(cases, expected):
            float32 = any(np.asarray(a).dtype == np.float32 for a in case)
            got, mutated = _call(fn, case)
            if mutated:
                changed.append(True)
            if not _close(got, want, float32):
                float32 = float32 or got.dtype == np.float32
                for bad, message in mistakes(*case):
                    if not _close(bad, want, float32) and _close(got, bad, float32):
                        found["hint"] = message
                        break
                else:
                    if got.shape != want.shape:
                        found["hint"] = f"{hint} (for inputs of shapes {[np.shape(a) for a in case]} your " \
                                        f"function returned shape {got.shape}, expected {want.shape})"
                return False
        return True

    if not callable(fn) and fn is not None:
        return judge(fn, lambda a: False, success=success, hint="Answer with a function (def ...), then pass it in.")
    verdict = judge(fn, correct, success=success, hint=hint)
    if "hint" in found and not verdict.ok and "raised" not in verdict.message:
        verdict.message = found["hint"]
    if changed:
        note = ("your function changed its input (the checker gave it copies): a layer must leave the arrays "
                "it is given as they were, so compute into new arrays.")
        verdict.message = f"{verdict.message} Note: {note}"
    return verdict


# --- 1. parameters of Dense(units=5) on inputs (8, 10) -------------------------------------------

N, IN, UNITS = 8, 10, 5


def param_count(answer):
    """How many numbers does Dense(units=5) learn on inputs of shape (8, 10)?"""
    expected = IN * UNITS + UNITS                                         # 55
    wrong = {
        IN * UNITS: "That is the kernel alone (10 x 5): each unit also has a bias.",
        UNITS: "That is the bias alone: the kernel (input features x units) is learned too.",
        N * expected: "The batch size plays no part: the same weights serve every sample.",
        N * IN * UNITS: "The batch size plays no part: the kernel is (input features, units).",
        N * IN: "That counts the input's numbers; the layer learns a kernel and a bias.",
        IN + UNITS: "Every input feature connects to every unit: the kernel has 10 x 5 numbers, not 10 + 5.",
        IN * UNITS + IN: "There is one bias per unit (5), not one per input feature.",
        (IN + 1) * (UNITS + 1): "The bias adds one row to the kernel (one per unit), not a row and a column.",
    }
    hint = _integer_hint(answer)
    if hint is None:
        hint = wrong.get(int(answer), "Count the kernel (input features x units) and the bias (one per unit). "
                                      "Does the batch size matter?")
    return judge(
        answer, lambda a: _is_integer(a) and int(a) == expected,
        success="kernel (10, 5) has 50, bias (5,) has 5: 55. The batch size 8 plays no part.",
        hint=hint,
    )


# --- 2. the output shape of Dense(7) on (2, 3, 4) -------------------------------------------------

def output_shape(answer):
    """What shape does Dense(7) return for an input of shape (2, 3, 4)? Answer with a tuple."""
    expected = (2, 3, 7)
    wrong = {
        (2, 7): "Dense does not flatten: it keeps every axis but the last.",
        (6, 7): "Dense does not reshape the leading axes: (2, 3) stays (2, 3).",
        (2, 3, 4): "The last axis becomes `units`.",
        (2, 3, 4, 7): "Dense replaces the last axis; it does not add one.",
        (7,): "The batch axis (and every other leading axis) stays.",
        (7, 3, 2): "The order of the axes does not change: only the last one is replaced.",
        (2, 7, 4): "Dense acts on the last axis, not the middle one.",
        (4, 7): "That is the kernel's shape (input features, units), not the output's.",
    }
    if not isinstance(answer, tuple):
        hint = ("Answer with a tuple, like an array's .shape: (a, b, c) in round brackets."
                if answer is not None else "")
    elif not all(_is_integer(n) for n in answer):
        hint = "A shape holds whole numbers (ints): each axis has a length."
    else:
        hint = wrong.get(tuple(int(n) for n in answer),
                         "Dense changes only the last axis (4 -> units). What happens to (2, 3)?")
    return judge(
        answer,
        lambda a: isinstance(a, tuple) and all(_is_integer(n) for n in a) and tuple(int(n) for n in a) == expected,
        success="(2, 3, 7): Dense acts on the last axis only and keeps every other axis.",
        hint=hint,
    )


# --- 3. the forward pass of a sigmoid Dense layer ------------------------------------------------

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _forward_cases():
    rng = np.random.default_rng(1)
    cases = []
    # rectangles, a batch of one, a single unit, a square kernel (catches W.T), rank 3 (the last axis)
    for x_shape, units in [((6, 4), 3), ((1, 5), 2), ((3, 2), 1), ((4, 4), 4), ((2, 3, 5), 3)]:
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal((x_shape[-1], units))
        b = rng.standard_normal(units)
        cases.append((x, w, b))
    x, w, b = cases[0]
    cases.append((x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)))
    return cases


def _forward_mistakes(x, w, b):
    z = x @ w + b
    with np.errstate(all="ignore"):
        out = [
            (z, "That is x @ W + b, the layer before its activation: apply the sigmoid 1 / (1 + exp(-z))."),
            (_sigmoid(x @ w), "The bias is missing: z = x @ W + b."),
            (_sigmoid(x @ w) + b, "The bias goes inside the activation: sigmoid(x @ W + b)."),
            (1 / (1 + np.exp(z)), "A sign is off: the sigmoid is 1 / (1 + exp(-z)), which grows with z."),
            (np.tanh(z), "That is tanh; the sigmoid is 1 / (1 + exp(-z))."),
            (np.maximum(z, 0), "That is relu; the sigmoid is 1 / (1 + exp(-z))."),
            (np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True), "That is softmax; the sigmoid acts on each number "
                                                                "on its own: 1 / (1 + exp(-z))."),
            (_sigmoid(x @ w - b), "The bias is added, not subtracted: z = x @ W + b."),
        ]
        if w.shape[0] == w.shape[1]:
            out.append((_sigmoid(x @ w.T + b), "W is (input features, units): multiply x @ W, not x @ W.T."))
    return out


def dense_forward(fn):
    """Write fn(x, W, b) -> sigmoid(x @ W + b) for x: (N, ..., in), W: (in, units), b: (units,)."""
    return _check_function(
        fn, _forward_cases(), lambda x, w, b: _sigmoid(x @ w + b), _forward_mistakes,
        success="that is Dense's whole forward pass, for any batch and any rank: one matrix product on the last "
                "axis, a broadcast bias, an activation.",
        hint="Multiply x by W with @, add b (it broadcasts over the batch), then apply 1 / (1 + exp(-z)).",
    )


# --- 4. the kernel's gradient of a linear Dense layer --------------------------------------------

def _gradient_cases():
    rng = np.random.default_rng(2)
    cases = []
    # rectangles both ways, a batch of one, a square kernel (catches the swapped axes)
    for n, units, inputs in [(5, 3, 4), (3, 6, 2), (1, 2, 3), (4, 3, 3)]:
        cases.append((rng.standard_normal((n, inputs)), rng.standard_normal((n, units))))
    x, dy = cases[0]
    cases.append((x.astype(np.float32), dy.astype(np.float32)))
    return cases


def _gradient_mistakes(x, dy):
    n = x.shape[0]
    out = [
        (x.T @ dy / n, "That is the mean over the batch. y = x @ W + b for every sample with the same W, so dL/dW "
                       "is the sum of the samples' contributions, not their mean."),
        (np.outer(x[0], dy[0]), "That is the first sample's contribution only: sum over the whole batch."),
        (np.outer(x.sum(axis=0), dy.sum(axis=0)), "That multiplies the batch sums: the gradient is the sum of "
                                                  "each sample's product x_i^T dy_i, not a product of sums."),
        (np.outer(x.mean(axis=0), dy.mean(axis=0)), "That multiplies the batch means: the gradient is the sum of "
                                                    "each sample's product x_i^T dy_i."),
    ]
    out.append(((x.T @ dy).T, "The axes are swapped: dL/dW has W's shape (input features, units), "
                              "so x.T @ dy, not dy.T @ x."))
    if x.shape == dy.shape:
        out.append((x * dy, "That multiplies elementwise: dL/dW[i, j] sums x[n, i] * dy[n, j] over the batch, "
                            "a matrix product."))
    return out


def kernel_gradient(fn):
    """Write fn(x, dy) -> dL/dW for a linear Dense (y = x @ W + b), given dL/dy; x: (N, in), dy: (N, units)."""
    hint = "The result must have W's shape (in, units). Which product of x (N, in) and dy (N, units) gives that?"
    return _check_function(
        fn, _gradient_cases(), lambda x, dy: x.T @ dy, _gradient_mistakes,
        success="dL/dW = x.T @ dy: each weight collects input times upstream gradient, summed over the batch.",
        hint=hint,
    )
