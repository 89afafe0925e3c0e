"""The verdict an exercise cell shows: not answered yet, correct, or a hint.

A checker never reveals the answer; solutions live in the chapter, folded in a
``<details>`` block.
"""

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
