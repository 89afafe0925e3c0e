"""kbook.check must catch a wrong layer, not just bless a right one."""
import numpy as np
import pytest

from kbook.check import CheckFailed, check_activation, check_layer, keras_twin, relative_error
from kbook.layers import Dense, Layer


class OffByOneDense(Dense):
    """A Dense with a planted bug in its forward pass (it keeps the class name Dense for the twin)."""

    def call(self, x, training=None):
        return super().call(x) + 1e-3


OffByOneDense.__name__ = "Dense"


class WrongKernelGradDense(Dense):
    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["kernel"] = self.grads["kernel"] * 1.01
        return dx


WrongKernelGradDense.__name__ = "Dense"


def test_relative_error_scale_and_special_values():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([10.0, 0.0], [10.5, 0.0]) == pytest.approx(0.5 / 10.5)
    assert relative_error([1e-8], [2e-8]) == pytest.approx(1e-8)  # below 1: absolute
    assert relative_error([np.inf, 1.0], [np.inf, 1.0]) == 0.0
    assert relative_error([np.inf], [1.0]) == np.inf
    assert relative_error(np.ones(3), np.ones(4)) == np.inf


def test_identical_layer_passes_with_all_rows(rng):
    report = check_layer(Dense(3, activation="tanh", dtype="float64"), rng.standard_normal((4, 5)))
    assert report.ok
    assert [row.quantity for row in report.rows] == ["output y", "dL/dx", "dL/dkernel", "dL/dbias"]
    assert report.max_error <= 1e-10


def test_forward_bug_is_caught(rng):
    with pytest.raises(CheckFailed, match="output y .*MISMATCH"):
        check_layer(OffByOneDense(3, dtype="float64"), rng.standard_normal((4, 5)))


def test_gradient_bug_is_caught(rng):
    report = check_layer(WrongKernelGradDense(3, dtype="float64"), rng.standard_normal((4, 5)),
                         raise_on_failure=False)
    assert not report.ok
    failing = [row.quantity for row in report.rows if not row.ok]
    assert failing == ["dL/dkernel"]


def test_float32_tolerance_is_looser_than_float64(rng):
    x = rng.standard_normal((4, 5))
    r32 = check_layer(Dense(3, dtype="float32"), x)
    r64 = check_layer(Dense(3, dtype="float64"), x)
    assert r32.rows[0].tolerance == 1e-5 and r64.rows[0].tolerance == 1e-10


def test_activation_check_catches_a_wrong_function(rng, monkeypatch):
    from kbook import activations

    x = rng.standard_normal(10)
    assert check_activation("tanh", x).ok
    wrong = lambda x: activations.tanh(x) * 1.001  # noqa: E731
    monkeypatch.setitem(activations.ALL_OBJECTS_DICT, "tanh", wrong)
    monkeypatch.setitem(activations.GRADIENTS, wrong, activations.tanh_grad)
    with pytest.raises(CheckFailed, match="activation 'tanh'.*DIFFERS"):
        check_activation("tanh", x)


def test_report_text_and_html_show_verdicts_not_raw_errors(rng):
    report = check_layer(Dense(2, dtype="float64"), rng.standard_normal((3, 4)))
    text, page = repr(report), report._repr_html_()
    assert "identical to tf.keras" in text and "match (<= 1e-10)" in text
    assert "e-1" not in text.replace("1e-10", "")  # no CPU-dependent error digits printed
    assert "<table>" in page and "dL/dkernel" in page


def test_twin_needs_a_keras_class():
    class Mystery(Layer):
        pass

    with pytest.raises(TypeError, match="No keras.layers.Mystery"):
        keras_twin(Mystery())


def test_check_activation_needs_a_float_array():
    with pytest.raises(TypeError, match="float32 or float64"):
        check_activation("relu", np.array([1, 2, 3]))
