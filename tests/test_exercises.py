"""The machinery every exercise checker shares (kbook/exercises/checker.py).

Each chapter's checkers have their own catalogue of right and wrong answers in the chapter's
test file (tests/test_dense.py, test_activation.py, test_conv2d.py, test_pooling.py, ...).
"""
import numpy as np

from kbook.exercises.checker import (CORRECT, TODO, WRONG, integer_problem, judge, judge_function, returns,
                                     shape_verdict)


def test_judge_none_is_not_answered_and_never_calls_the_test():
    def never(_):
        raise AssertionError("called")

    assert judge(None, never, success="yes", hint="no").status == TODO


def test_function_answer_left_as_placeholder_is_not_answered():
    assert judge(lambda: None, lambda fn: returns(fn) == 1, success="yes", hint="no").status == TODO


def test_crashing_answer_is_reported_not_raised():
    verdict = judge(lambda: 1 / 0, lambda fn: returns(fn) == 1, success="yes", hint="no")
    assert verdict.status == WRONG and verdict.message.startswith("no (")
    assert "ZeroDivisionError: division by zero" in verdict.message


def test_integer_problem_names_what_is_wrong():
    assert integer_problem(3) is None and integer_problem(np.int64(3)) is None
    assert "True / False" in integer_problem(True)
    assert "not the float 3.0" in integer_problem(3.0)
    assert "3.5 is not a whole number: did you forget the floor?" in integer_problem(3.5)
    assert "not the text '3'" in integer_problem("3")
    assert "not list" in integer_problem([3])


def test_shape_verdict_wants_a_tuple_of_integers():
    wrong = {(2, 3): "swapped"}
    assert shape_verdict((3, 2), (3, 2), wrong, "default") == (True, None)
    assert shape_verdict((np.int32(3), np.int64(2)), (3, 2), wrong, "default") == (True, None)
    assert "tuple" in shape_verdict([3, 2], (3, 2), wrong, "default")[1]
    assert shape_verdict((2, 3), (3, 2), wrong, "default") == (False, "swapped")
    assert "2 axes, yours 3" in shape_verdict((3, 2, 1), (3, 2), wrong, "default")[1]
    assert "1.5 in your answer" in shape_verdict((1.5, 2), (3, 2), wrong, "default", noun="answer")[1]


def _double(x):
    return 2 * x


def _cases():
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((2, 3)),), (rng.standard_normal((4, 1)).astype(np.float32),)]


def _judge_double(fn, cases=None):
    return judge_function(fn, cases or _cases(), _double, lambda x: [(3 * x, "tripled")],
                          success="doubled", hint="double it")


def test_judge_function_computes_the_answer_first_and_passes_copies():
    cases = _cases()
    originals = [x.copy() for (x,) in cases]
    calls = []

    def scribbler(x):
        calls.append(x)
        out = 2 * x
        x[...] = 0                                  # changes its (copied) input
        return out

    verdict = _judge_double(scribbler, cases)
    assert verdict.status == CORRECT and "changed its input" in verdict.message
    assert all(np.array_equal(x, original) for (x,), original in zip(cases, originals))   # the checker's own
    assert len(calls) == len(cases) and all(not np.shares_memory(c, x) for c, (x,) in zip(calls, cases))


def test_judge_function_float32_tolerance_named_mistakes_and_shapes():
    assert _judge_double(lambda x: (2 * x).astype(np.float32)).status == CORRECT
    assert _judge_double(lambda x: 2 * x + 1e-3).status == WRONG
    assert "tripled" in _judge_double(lambda x: 3 * x).message
    assert "shape (3, 2)" in _judge_double(lambda x: 2 * x.T).message
    assert "not a function" in _judge_double(7).message
