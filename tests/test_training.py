"""Chapter 10: the digits split, the 2-D loss surface, the live plot callback, the training explorer
and the exercise checkers.  (``fit`` itself is compared with Keras in tests/test_trainer.py.)"""
import math

import numpy as np
import pytest

import kbook
from kbook import initializers, losses, optimizers
from kbook.exercises import training as ex
from kbook.exercises.checker import CORRECT, TODO, WRONG
from kbook.widgets.training import (LivePlot, LossSurface, TrainingExplorer, digits_split, make_optimizer,
                                    small_model)

PNG = b"\x89PNG"


# --- data ------------------------------------------------------------------------------------------

def test_digits_split_is_seeded_disjoint_and_scaled():
    (x, y), (xt, yt) = digits_split()
    assert x.shape == (1437, 8, 8, 1) and xt.shape == (360, 8, 8, 1) and x.dtype == np.float32
    assert y.shape == (1437,) and set(np.unique(np.concatenate([y, yt]))) == set(range(10))
    assert 0 <= x.min() and x.max() == 1.0
    (x2, y2), _ = digits_split()
    np.testing.assert_array_equal(x, x2)
    # no test image is also a training image (the data set has no exact duplicates across the split)
    train_rows = {row.tobytes() for row in x.reshape(len(x), -1)}
    assert not any(row.tobytes() in train_rows for row in xt.reshape(len(xt), -1))
    (flat, _), _ = digits_split(flatten=True, dtype="float64")
    assert flat.shape == (1437, 64) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat, x.reshape(1437, 64))


# --- the 2-D loss surface ------------------------------------------------------------------------------

def test_loss_surface_minimum_and_gradient():
    s = LossSurface()
    everything = np.arange(len(s.y))
    np.testing.assert_allclose(s.gradient(s.minimum, everything), 0, atol=1e-12)
    assert s.loss(s.minimum) < s.loss(s.minimum + [0.01, 0]) and s.loss(s.minimum) < s.loss(s.minimum + [0, -0.01])
    w = np.array([0.3, -0.2])
    assert math.isclose(s.loss(w), np.mean((s.x @ w - s.y) ** 2), rel_tol=1e-12)
    # the gradient is the derivative of the loss (central differences)
    h = 1e-6
    numeric = [(s.loss(w + d) - s.loss(w - d)) / (2 * h) for d in (np.array([h, 0]), np.array([0, h]))]
    np.testing.assert_allclose(s.gradient(w, everything), numeric, rtol=1e-6)
    assert np.asarray(s.loss(np.zeros((3, 4, 2)))).shape == (3, 4)


def test_full_batch_sgd_path_is_gradient_descent():
    s = LossSurface()
    points = s.path(optimizers.SGD(0.125), batch_size=len(s.y), epochs=4)
    assert points.shape == (5, 2)
    w = s.start.copy()
    for k in range(4):
        w = w - 0.125 * s.gradient(w, np.arange(len(s.y)))
        np.testing.assert_allclose(points[k + 1], w, rtol=1e-12)


@pytest.mark.parametrize("batch_size, epochs", [(32, 1), (8, 3), (100, 2), (256, 1)])
def test_path_has_one_point_per_update(batch_size, epochs):
    s = LossSurface()
    points = s.path(optimizers.Adam(0.01), batch_size, epochs)
    assert len(points) == 1 + epochs * math.ceil(len(s.y) / batch_size)
    again = s.path(optimizers.Adam(0.01), batch_size, epochs)
    np.testing.assert_array_equal(points, again)      # seeded: the same mini-batches every time


def test_a_diverging_path_stops_early():
    s = LossSurface()
    points = s.path(optimizers.SGD(1.0), batch_size=32, epochs=10)
    assert len(points) < 1 + 10 * 8 and not np.all(np.abs(points[-1]) < 1e3)


def test_make_optimizer():
    assert isinstance(make_optimizer("sgd", 0.1), optimizers.SGD) and make_optimizer("sgd", 0.1).momentum == 0
    assert make_optimizer("momentum", 0.1).momentum == 0.9
    assert isinstance(make_optimizer("adam", 0.1), optimizers.Adam)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", 0.1)


# --- the live plot ------------------------------------------------------------------------------

def small_data(n=120):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 64)), rng.integers(0, 10, n)


def compiled(metrics=("accuracy",)):
    kbook.set_seed(0)
    model = small_model()
    model.compile(optimizers.Adam(0.01), losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=list(metrics))
    return model


def test_live_plot_records_what_fit_returns():
    x, y = small_data()
    model = compiled()
    live = LivePlot(interval=0.0)
    renders = live.live.renders
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.25, callbacks=[live])
    assert live.history == history.history
    steps = math.ceil(90 / 32)
    assert len(live.x) == 3 * steps and live.x[-1] == 3.0
    assert live.progress.value == live.progress.max == 3 * steps
    assert live.live.renders >= renders + 3 * steps        # interval 0: a redraw after every step
    assert bytes(live.live.image.value).startswith(PNG)
    assert len(live.lines["val_loss"].get_xdata()) == 3 and len(live.lines["loss"].get_xdata()) == 3 * steps
    text = live.summary()
    assert text.splitlines()[0] == f"3 epochs x {steps} steps = {3 * steps} weight updates"
    assert "val_accuracy" in text.splitlines()[1] and len(text.splitlines()) == 5
    last = text.splitlines()[-1].split()
    assert last[0] == "3" and float(last[2]) == round(history.history["loss"][-1], 2)


def test_live_plot_throttles_redraws_and_restarts_with_each_fit():
    x, y = small_data()
    model = compiled(metrics=())
    live = LivePlot(interval=3600.0)
    before = live.live.renders
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[live])
    # at the start, at the first step, at each epoch's end and at the end: not after every step
    assert live.live.renders - before <= 1 + 1 + 2 + 1
    assert list(live.history) == ["loss"] and np.isnan(live.values["accuracy"]).all()
    model.fit(x, y, batch_size=60, epochs=1, verbose=0, callbacks=[live])
    assert len(live.x) == 2 and live.summary().startswith("1 epochs x 2 steps = 2 weight updates")
    assert LivePlot().summary() == "not trained yet"


# --- the explorer -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return TrainingExplorer()


def test_explorer_controls_redraw_once_and_change_the_summary(explorer):
    explorer.optimizer.value, explorer.learning_rate.value = "adam", 0.01
    explorer.batch_size.value, explorer.epochs.value = 32, 5
    text = explorer.summary()
    assert text.startswith("settings: Adam, lr=0.01, batch 32, 5 epochs\n")
    assert "ceil(1437 / 32) = 45 weight updates per epoch, 225 in 5 epochs" in text
    assert "2-D surface: 40 updates from (-1.5, 2.5)" in text
    for control, value, expected in [("batch_size", 8, "2-D surface: 160 updates"),
                                     ("epochs", 2, "2-D surface: 64 updates"),
                                     ("optimizer", "momentum", "settings: SGD + momentum"),
                                     ("learning_rate", 0.1, "lr=0.1,")]:
        before, figure = explorer.live.renders, explorer.live.figure
        getattr(explorer, control).value = value
        assert explorer.live.renders == before + 1 and explorer.live.figure is figure
        assert expected in explorer.summary()
        assert len(explorer.path_line.get_xdata()) == len(explorer.points)
    assert bytes(explorer.live.image.value).startswith(PNG)


def _full_redraw(explorer):
    """The picture drawn from scratch, every artist included."""
    explorer.live.redraw_background()
    return explorer.live.render()


def test_explorer_redraws_only_the_path_yet_shows_everything():
    ex_ = TrainingExplorer(epochs=1)
    for control, value in (("learning_rate", 0.1), ("batch_size", 8)):
        getattr(ex_, control).value = value           # blitted: the path over the kept background
        assert ex_.live.image.value == _full_redraw(ex_)
    pressed = ex_.train()                              # the runs' panel changes: a new background
    assert pressed and ex_.live.image.value == _full_redraw(ex_)
    ex_.epochs.value = 2
    shown = ex_.live.image.value
    assert shown == _full_redraw(ex_)
    ex_.run_line.set_data([], [])                      # the run's curve is in that picture
    assert _full_redraw(ex_) != shown


def test_explorer_reports_a_diverged_path(explorer):
    explorer.optimizer.value, explorer.learning_rate.value, explorer.batch_size.value = "sgd", 1.0, 32
    assert "loss diverged" in explorer.summary()
    explorer.learning_rate.value = 0.01
    assert "loss diverged" not in explorer.summary()


def test_train_is_seeded_reproducible_and_leaves_the_readers_generator_alone():
    ex_ = TrainingExplorer(epochs=2)
    kbook.set_seed(123)
    expected_next = np.random.default_rng(123).random()    # what the reader's stream would draw next
    kbook.set_seed(123)
    first = ex_.train()
    assert initializers.generator().random() == expected_next
    assert ex_.train()[1] == first[1]                      # the same settings: the same run, bit for bit
    assert len(ex_.runs) == 2 and "Train: not pressed yet" not in ex_.summary()
    assert ex_.progress.value == ex_.progress.max == 2 * 45
    assert len(ex_.run_line.get_xdata()) == 2 * 45


def test_train_with_the_button_keeps_earlier_runs_in_grey():
    ex_ = TrainingExplorer(epochs=1, keep_runs=2)
    ex_.train_button.click()
    ex_.optimizer.value = "sgd"
    ex_.train_button.click()
    assert [len(line.get_xdata()) for line in ex_.old_lines] == [45, 0]
    ex_.batch_size.value = 256
    ex_.train_button.click()
    ex_.learning_rate.value = 0.1
    ex_.train_button.click()
    assert [len(line.get_xdata()) for line in ex_.old_lines] == [45, 6]   # the two runs before the last
    assert len(ex_.run_line.get_xdata()) == 6 and not ex_.train_button.disabled
    lines = ex_.summary().splitlines()
    assert [line.split("]")[0] for line in lines[3:]] == [
        "Train [SGD, lr=0.01, batch 32, 1 epochs", "Train [SGD, lr=0.01, batch 256, 1 epochs",
        "Train [SGD, lr=0.1, batch 256, 1 epochs"]                         # the last keep_runs + 1 runs
    sgd, adam = ex_.runs[1][1][-1], ex_.runs[0][1][-1]
    assert adam < sgd                                                      # Adam at 0.01 learns faster


def test_train_is_the_fit_of_the_small_model():
    ex_ = TrainingExplorer(epochs=2, optimizer="momentum", batch_size=64, learning_rate=0.05)
    _, loss, accuracy = ex_.train()
    kbook.set_seed(ex_.seed)
    model = small_model()
    model.compile(optimizers.SGD(0.05, momentum=0.9), losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(ex_.x_train, ex_.y_train, batch_size=64, epochs=2, verbose=0)
    assert history.history["loss"] == loss
    assert model.evaluate(ex_.x_test, ex_.y_test, verbose=0)[1] == accuracy


# --- exercises ------------------------------------------------------------------------------------

def test_updates_per_epoch():
    for solution in (lambda n, b: math.ceil(n / b), lambda n, b: -(-n // b), lambda n, b: np.int64(-(-n // b)),
                     lambda n, b: float(math.ceil(n / b)), lambda n, b: (n + b - 1) // b):
        assert ex.updates_per_epoch(solution).status == CORRECT
    assert ex.updates_per_epoch(None).status == TODO
    assert ex.updates_per_epoch(lambda n, b: None).status == TODO
    wrong = {
        (lambda n, b: n // b): "drops the last, smaller batch",
        (lambda n, b: n / b): "whole number",
        (lambda n, b: round(n / b)): "Rounding to the nearest",
        (lambda n, b: n): "not per sample",
        (lambda n, b: n // b + 1): "last batch",
        (lambda n, b: b): "last batch",
        (lambda n, b: True): "last batch",
        (lambda n, b: 1 / 0): "ZeroDivisionError",
    }
    for fn, hint in wrong.items():
        verdict = ex.updates_per_epoch(fn)
        assert verdict.status == WRONG and hint in verdict.message, verdict


def test_sgd_step():
    for answer in (1.3, np.float32(1.3), np.float64(1.3), 1.3000001, "1.3"):
        assert ex.sgd_step(answer).status == CORRECT, answer
    assert ex.sgd_step(None).status == TODO
    wrong = {-0.3: "uphill", 0.9: "factor 2", 0.7: "inner derivative", 8.5: "learning rate is missing",
             -8.0: "the gradient dL/dw", 0.8: "That is the step", 1.5: "First dL/dw", "w": "First dL/dw",
             (1.3, 1.3): "First dL/dw"}
    for answer, hint in wrong.items():
        verdict = ex.sgd_step(answer)
        assert verdict.status == WRONG and hint in verdict.message, (answer, verdict)


def test_from_logits():
    y = np.array([ex.LABEL])
    as_logits = losses.SparseCategoricalCrossentropy(from_logits=True)(y, ex.Y_PRED[None])
    as_probabilities = losses.SparseCategoricalCrossentropy()(y, ex.Y_PRED[None])
    for answer in ((0.940, 0.693), [0.94, 0.693], np.array([0.9398, 0.6931]), (as_logits, as_probabilities),
                   (np.float32(0.9398), np.float32(0.6931))):
        assert ex.from_logits(answer).status == CORRECT, answer
    assert ex.from_logits(None).status == TODO
    wrong = {(0.693, 0.940): "swapped", (0.693, 0.693): "does not read 0.5 as a probability",
             (0.940, 0.940): "applies no softmax", (0.940, 0.301): "natural logarithm",
             (0.940, 0.5): "The first is right", (0.94, 0.69): "The first is right",
             (0.5, 0.693): "The second is right", (0.9, 0.7): "the loss applies softmax",
             0.94: "from_logits=True: the loss applies softmax", (0.94, 0.693, 0.1): "from_logits=True: the loss"}
    for answer, hint in wrong.items():
        verdict = ex.from_logits(answer)
        assert verdict.status == WRONG and hint in verdict.message, (answer, verdict)


def test_adam_first_step_agrees_with_the_optimizers():
    w = np.zeros(2)
    optimizers.Adam(learning_rate=ex.ADAM_LEARNING_RATE).apply([ex.ADAM_GRADIENT.copy()], [w])
    np.testing.assert_allclose(ex._adam_first_change(), w, rtol=1e-5)   # kbook rounds lr and betas via float32


def test_adam_first_step():
    for answer in ([-0.1, 0.1], (-0.1, 0.09997), np.array([-0.1, 0.1], dtype="float32"), ex._adam_first_change()):
        assert ex.adam_first_step(answer).status == CORRECT, answer
    assert ex.adam_first_step(None).status == TODO
    wrong = {(-10.0, 0.001): "SGD's step", (0.1, -0.1): "signs are flipped",
             (-0.316, 0.316): "Without the bias corrections", (-0.1, -0.1): "about learning_rate",
             (-0.1,): "two numbers", "fast": "about learning_rate"}
    for answer, hint in wrong.items():
        verdict = ex.adam_first_step(answer)
        assert verdict.status == WRONG and hint in verdict.message, (answer, verdict)


def test_checkers_do_not_reveal_the_answer_in_their_hints():
    assert "45" not in ex.updates_per_epoch(lambda n, b: n // b).message.split("(1437")[0]
    assert "1.3" not in ex.sgd_step(0.9).message
    assert "0.94" not in ex.from_logits((0.5, 0.5)).message
