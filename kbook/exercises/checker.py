"""The verdict an exercise cell shows: not answered yet, correct, or a hint.

A checker never reveals the answer; solutions live in the chapter, folded in a
``<details>`` block.  The helpers at the end are what the chapters' checkers share:
``shape_verdict`` for a shape answer (a tuple of integers), ``integer_problem`` for an
integer answer, and ``judge_function`` for a function answer (expected values computed
first, copies passed, float32 answers at float32 tolerance, typical mistakes named).
"""
import numpy as np

TODO = "not answered"
CORRECT = "correct"
WRONG = "not yet"


class Verdict:
    def __init__(self, status, message):
        self.status = status
        self.message = message

    @property
    def ok(self):
        return self.status == CORRECT

    def __repr__(self):
        mark = {TODO: "[ ]", CORRECT: "[ok]", WRONG: "[x]"}[self.status]
        return f"{mark} {self.status.capitalize()}: {self.message}"


def judge(answer, is_correct, success, hint):
    """``is_correct(answer) -> bool``; ``None`` means the reader has not answered yet.

    A function answer is called through ``returns(fn, ...)``, so a body that still
    returns None reads as "not answered" rather than wrong.  A checker that raises on a malformed answer (wrong type, wrong shape) counts
    it as wrong and shows the hint, plus what went wrong.
    """
    if answer is None:
        return Verdict(TODO, "replace `None` with your answer and run the cell again.")
    try:
        correct = is_correct(answer)
    except _Unanswered:
        correct = None
    except Exception as e:  # the reader's code may fail in any way; report it, don't crash
        return Verdict(WRONG, f"{hint} (checking your answer raised {type(e).__name__}: {e})")
    if correct is None:  # a function answer that still returns the placeholder None
        return Verdict(TODO, "your function returns None: write its body and run the cell again.")
    return Verdict(CORRECT, success) if correct else Verdict(WRONG, hint)


def returns(fn, *args):
    """Call the reader's function; None (the placeholder) stops the check as 'not answered'."""
    result = fn(*args)
    if result is None:
        raise _Unanswered
    return result


class _Unanswered(Exception):
    pass


# --- shared by the chapters' checkers ----------------------------------------------------------------

TUPLE_HINT = ("Answer with a tuple, e.g. (1, 2, 3, 4): a shape is a tuple in NumPy and Keras, and "
              "(1, 2) == [1, 2] is False in Python.")


def is_integer(value):
    """A Python or NumPy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer_problem(value, fraction_hint="did you forget the floor?"):
    """None when ``value`` is an integer; otherwise what is wrong with it."""
    if isinstance(value, (bool, np.bool_)):
        return "answer with an integer, not True / False."
    if is_integer(value):
        return None
    if isinstance(value, str):
        return f"answer with an integer, not the text {value!r}."
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"answer with an integer, not {type(value).__name__}."
    if not number.is_integer():
        return f"{number:g} is not a whole number: {fraction_hint}"
    return f"answer with an integer: {int(number)}, not the float {number!r}."


def shape_verdict(answer, expected, wrong, default, fraction_hint="did you forget the floor?", noun="shape"):
    """(correct, hint) for a shape answer (or any ``noun`` answered by a tuple of integers)."""
    if not isinstance(answer, tuple):
        return False, TUPLE_HINT
    for value in answer:
        problem = integer_problem(value, fraction_hint)
        if problem:
            return False, f"{value!r} in your {noun}: {problem}"
    shape = tuple(int(v) for v in answer)
    if shape == expected:
        return True, None
    if shape in wrong:
        return False, wrong[shape]
    if len(shape) != len(expected):
        return False, f"The output has {len(expected)} axes, yours {len(shape)}. " + default
    return False, default


def _copy(arg):
    return arg.copy() if isinstance(arg, np.ndarray) else arg


def _close(got, want, single=False):
    """Same shape and values; a float32 answer (or any answer for float32 data) at float32 tolerance."""
    if got.shape != want.shape or not np.issubdtype(got.dtype, np.number):
        return False
    if single or got.dtype == np.float32:
        rtol, atol = 1e-5, 1e-6
    else:
        rtol, atol = 1e-9, 1e-12
    return np.allclose(got.astype(np.float64), want, rtol=rtol, atol=atol)


def judge_function(fn, cases, reference, mistakes, success, hint, shape_hint=None):
    """Judge a function answer.

    ``cases``: argument tuples; ``reference(*args)`` the right output, computed for every case
    *before* the reader's function runs; ``mistakes(*args)`` a list of ``(wrong output, hint)``
    for the typical wrong versions.  The function gets copies of the arrays; a function that
    changes them is told so.  ``shape_hint(got_shape, want_shape)`` may name a shape mistake.
    """
    expected = [np.asarray(reference(*(a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args)),
                           dtype=np.float64) for args in cases]
    outcome = {"error": None, "ok": None, "hint": hint, "changed": False}
    if fn is not None and not callable(fn):
        outcome["error"] = TypeError(f"your answer is of type {type(fn).__name__}, not a function")
    elif callable(fn):
        try:
            for args, want in zip(cases, expected):
                copies = tuple(_copy(a) for a in args)
                got = np.asarray(returns(fn, *copies))
                outcome["changed"] |= any(isinstance(a, np.ndarray) and not np.array_equal(a, c, equal_nan=True)
                                          for a, c in zip(args, copies))
                single = any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args)
                if _close(got, want, single):
                    continue
                outcome["ok"] = False
                named = None
                if got.shape != want.shape and shape_hint is not None:
                    named = shape_hint(got.shape, want.shape)
                if named is None:
                    named = next((message for bad, message in mistakes(*args)
                                  if _close(got, np.asarray(bad, dtype=np.float64), single)
                                  and not _close(np.asarray(bad, dtype=np.float64), want, single)),
                                 None)
                if named is None and got.shape != want.shape:
                    named = f"Your output has shape {got.shape}, the layer's {want.shape}. {hint}"
                outcome["hint"] = named or hint
                break
            else:
                outcome["ok"] = True
        except Exception as e:  # the reader's code (or None, the placeholder): judge reports it
            outcome["error"] = e
    if outcome["changed"]:
        note = ("Your function changed its input (the checker gave it a copy; a layer's forward or "
                "backward must leave its arguments alone).")
        success = f"{success} {note}"
        outcome["hint"] = f"{note} {outcome['hint']}"

    def correct(_):
        if outcome["error"] is not None:
            raise outcome["error"]
        return outcome["ok"]

    return judge(fn, correct, success=success, hint=outcome["hint"])
