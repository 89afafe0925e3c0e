import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import kbook  # noqa: F401  (sets the variables that keep TensorFlow quiet, before any test imports it)
from kbook.layers import reset_names

# Property tests compare against tf.keras, which costs milliseconds per example, so
# examples are fewer than hypothesis's default; CI replays a fixed sequence (no flakes).
settings.register_profile(
    "kbook",
    max_examples=100,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("kbook")


@pytest.fixture(scope="session")
def tf():
    from kbook.check import import_tensorflow

    return import_tensorflow()


@pytest.fixture(autouse=True)
def fresh_names():
    reset_names()
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def assert_checker():
    """Checks one exercise checker: None is 'not answered', the solution passes, the mistake does not."""
    from kbook.exercises.checker import CORRECT, TODO, WRONG

    def check(checker, solution, mistake):
        assert checker(None).status == TODO
        assert checker(solution).status == CORRECT, checker(solution)
        verdict = checker(mistake)
        assert verdict.status == WRONG and "Correct" not in repr(verdict)

    return check


@pytest.fixture
def assert_verdicts():
    """Checks a checker against a catalogue: each right answer passes, each wrong one fails with a
    hint containing the given words, and None reads as 'not answered'."""
    from kbook.exercises.checker import CORRECT, TODO, WRONG

    def check(checker, right, wrong):
        assert checker(None).status == TODO
        for answer in right:
            verdict = checker(answer)
            assert verdict.status == CORRECT, (answer, verdict)
        for answer, hint in wrong:
            verdict = checker(answer)
            assert verdict.status == WRONG and hint in verdict.message, (answer, verdict)
            assert "Correct" not in repr(verdict)

    return check
