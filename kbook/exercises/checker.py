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

    A checker that raises on a malformed answer (wrong type, wrong shape) counts
    it as wrong and shows the hint, plus what went wrong.
    """
    if answer is None:
        return Verdict(TODO, "replace `None` with your answer and run the cell again.")
    try:
        correct = bool(is_correct(answer))
    except Exception as e:  # the reader's code may fail in any way; report it, don't crash
        return Verdict(WRONG, f"{hint} (checking your answer raised {type(e).__name__}: {e})")
    return Verdict(CORRECT, success) if correct else Verdict(WRONG, hint)
