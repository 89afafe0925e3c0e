"""Training, live (chapter 10): a loss/accuracy plot that grows while ``fit`` runs, and an
explorer for the three knobs of training (``learning_rate``, ``batch_size``, ``optimizer``).

``LivePlot`` is an ordinary ``fit`` callback::

    live = LivePlot()
    display(live)                                   # a progress bar and two panels
    model.fit(x, y, epochs=5, callbacks=[live], verbose=0)
    print(live.summary())

``TrainingExplorer`` shows, for the chosen optimizer, learning rate, batch size and number of
epochs, the path the optimizer takes on a 2-D loss surface (a linear regression with two
weights, recomputed at every control change), and, when its Train button is pressed, trains a
small model on scikit-learn's handwritten digits with a live loss curve and a progress bar.
Earlier runs stay on the plot, in grey, for comparison.
"""
import contextlib
import math
import time

import ipywidgets as widgets
import numpy as np

from kbook import initializers
from kbook.models.trainer import Callback
from kbook.widgets.fast_artists import Ticks, single_frame
from kbook.widgets.live_figure import Explorer, LiveFigure

LOSS_FLOOR, LOSS_CEILING = 1e-3, 10.0  # the loss panels' range (log scale)
LOSS_TICKS = [0.001, 0.01, 0.1, 1.0, 10.0]
RUN_COLOR, OLD_RUN_COLOR, VAL_COLOR = "tab:blue", "0.72", "tab:orange"


def _log_loss(values):
    """log10 of losses, clipped to the panels' range (a diverged run sits on the top edge)."""
    values = np.asarray(values, dtype=float)
    values = np.where(np.isfinite(values), values, LOSS_CEILING)
    return np.log10(np.clip(values, LOSS_FLOOR, LOSS_CEILING))


def _loss_axis(ax):
    """A log-scale loss axis drawn as log10 values on a linear axis, with cheap fixed ticks."""
    ax.set_ylim(math.log10(LOSS_FLOOR), math.log10(LOSS_CEILING))
    ticks = Ticks(ax, "y", grid=True, fontsize=8)
    ticks.set_values([math.log10(v) for v in LOSS_TICKS], [f"{v:g}" for v in LOSS_TICKS])
    ax.yaxis.set_visible(False)
    return ticks


def _epoch_axis(ax, epochs):
    ax.set_xlim(0, max(epochs, 1))
    ticks = Ticks(ax, "x", grid=True, fontsize=8, nbins=min(max(epochs, 1), 10))
    ticks.set_range(0, max(epochs, 1))
    ax.xaxis.set_visible(False)
    return ticks


def digits_split(test_fraction=0.2, seed=0, flatten=False, dtype="float32"):
    """scikit-learn's 1,797 handwritten digits (8 x 8, shipped with the package): a seeded split.

    Pixels are scaled from 0..16 to 0..1.  Returns ``(x_train, y_train), (x_test, y_test)``
    with images ``(N, 8, 8, 1)`` (or ``(N, 64)`` when ``flatten``) and integer labels.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(dtype)
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = math.ceil(len(x) * test_fraction)  # as scikit-learn's train_test_split rounds
    test, train = order[:n_test], order[n_test:]
    return (x[train], digits.target[train]), (x[test], digits.target[test])


# --- the live plot -------------------------------------------------------------------------------

class LivePlot(Callback):
    """A progress bar and two panels, loss (log scale) and accuracy, that grow while ``fit`` runs.

    The thin line is what the progress bar reports after every step (the mean over the epoch
    so far, as Keras reports it); the dots are each epoch's value, orange for the validation
    data when ``fit`` has some.  The figure is redrawn at most every ``interval`` seconds
    (a redraw costs tens of milliseconds) and at the end of every epoch.

    Args:
        interval: the shortest time between two redraws, in seconds.
        digits: decimals of the numbers in ``summary()``.

    Example:
        >>> live = LivePlot()
        >>> display(live)
        >>> model.fit(x, y, epochs=3, callbacks=[live], verbose=0)
        >>> print(live.summary())
    """

    def __init__(self, interval=0.25, digits=2, figsize=(8, 2.6)):
        self.interval, self.digits = interval, digits
        self.live = LiveFigure(figsize=figsize, dpi=80, layout="none")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="step",
                                            layout={"width": "340px"})
        self.status = widgets.HTML()
        fig = self.live.figure
        self.ax_loss, self.ax_acc = fig.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.99, bottom=0.14,
                                                                        top=0.88, wspace=0.16))
        self.ax_loss.set_title("loss", y=1.0, fontsize=10)
        self.ax_acc.set_title("accuracy", y=1.0, fontsize=10)
        self._loss_ticks = _loss_axis(self.ax_loss)
        self.ax_acc.set_ylim(0, 1.02)
        self._acc_ticks = Ticks(self.ax_acc, "y", grid=True, fontsize=8)
        self._acc_ticks.set_values([0, 0.25, 0.5, 0.75, 1.0])
        self.ax_acc.yaxis.set_visible(False)
        self._x_ticks = [_epoch_axis(ax, 1) for ax in (self.ax_loss, self.ax_acc)]
        for ax in (self.ax_loss, self.ax_acc):
            single_frame(ax)  # one outline for the background and four spines: the figure is white anyway
        self.lines = {}
        for ax, key in ((self.ax_loss, "loss"), (self.ax_acc, "accuracy")):
            (self.lines[key],) = ax.plot([], [], color=RUN_COLOR, lw=1)
            (self.lines["epoch_" + key],) = ax.plot([], [], "o", color=RUN_COLOR, ms=4)
            (self.lines["val_" + key],) = ax.plot([], [], "o-", color=VAL_COLOR, ms=4, lw=1)
        self.ax_loss.legend([self.lines["epoch_loss"], self.lines["val_loss"]], ["train", "validation"],
                            loc="upper right", fontsize=7, frameon=False)
        self._reset(1, 1)
        self.live.render()

    @property
    def widget(self):
        return widgets.VBox([widgets.HBox([self.progress, self.status]), self.live.image])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _reset(self, epochs, steps):
        self.epochs, self.steps = epochs, steps
        self.x, self.values = [], {"loss": [], "accuracy": []}
        self.history = {}
        self._last_render = -math.inf

    # --- the callback ---------------------------------------------------------------------

    def on_train_begin(self, model, epochs, steps):
        self._reset(epochs, steps)
        self.epoch = 0
        for ticks, ax in zip(self._x_ticks, (self.ax_loss, self.ax_acc)):
            ax.set_xlim(0, max(epochs, 1))
            ticks.locator.set_params(nbins=min(max(epochs, 1), 10))
            ticks.set_range(0, max(epochs, 1))
        self.progress.max, self.progress.value = max(epochs * steps, 1), 0
        self._draw_lines()

    def on_train_batch_end(self, step, logs):
        self.x.append(self.epoch + step / self.steps)
        for key in self.values:
            self.values[key].append(logs.get(key, np.nan))
        now = time.perf_counter()
        if now - self._last_render >= self.interval:
            self.progress.value = self.epoch * self.steps + step
            self._draw_lines()
            self._last_render = now

    def on_epoch_end(self, epoch, logs):
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epoch = epoch + 1
        self.progress.value = self.epoch * self.steps
        self._draw_lines()
        self._last_render = time.perf_counter()

    def on_train_end(self, logs):
        self._draw_lines()

    def _draw_lines(self):
        x = np.asarray(self.x)
        ends = np.arange(1, len(self.history.get("loss", [])) + 1)
        for key, transform in (("loss", _log_loss), ("accuracy", np.asarray)):
            self.lines[key].set_data(x, transform(self.values[key]))
            ours = self.history.get(key, [])  # no accuracy without metrics=["accuracy"]
            self.lines["epoch_" + key].set_data(ends[:len(ours)], transform(ours))
            val = self.history.get("val_" + key, [])
            self.lines["val_" + key].set_data(ends[:len(val)], transform(val))
        self.status.value = f"&nbsp;epoch {min(self.epoch + 1, self.epochs)}/{self.epochs}" + (
            f" &nbsp; loss {self.history['loss'][-1]:.4f}" if self.history.get("loss") else "")
        self.live.render()

    def summary(self):
        """The run in numbers: updates, and every epoch's values rounded to ``digits`` decimals."""
        if not self.history:
            return "not trained yet"
        keys = list(self.history)
        lines = [f"{len(self.history['loss'])} epochs x {self.steps} steps = "
                 f"{len(self.history['loss']) * self.steps} weight updates",
                 "epoch " + " ".join(f"{k:>12}" for k in keys)]
        for e in range(len(self.history["loss"])):
            lines.append(f"{e + 1:>5} " + " ".join(f"{self.history[k][e]:>12.{self.digits}f}" for k in keys))
        return "\n".join(lines)


# --- a 2-D loss surface ---------------------------------------------------------------------------

class LossSurface:
    """A linear regression with two weights, y ≈ w0 x0 + w1 x1, whose loss we can draw.

    The two inputs are correlated (x1 = 0.8 x0 + 0.6 z), so the mean squared error is an
    elongated bowl (its curvatures are 3.6 and 0.4 along the diagonals): plain gradient
    descent zig-zags across the valley and crawls along it.  The targets have a little noise,
    so each mini-batch's gradient points a little off the whole data set's.

    ``path(optimizer, batch_size, epochs)`` runs a kbook optimizer on it, mini-batch by
    mini-batch (a permutation per epoch, as ``fit(shuffle=True)``), and returns every point.
    """

    minimum_hint = (1.0, 1.0)

    def __init__(self, n=256, start=(-1.5, 2.5), seed=0):
        rng = np.random.default_rng(seed)
        x0 = rng.standard_normal(n)
        x1 = 0.8 * x0 + 0.6 * rng.standard_normal(n)
        self.x = np.column_stack([x0, x1])
        self.y = self.x @ np.array(self.minimum_hint) + 0.3 * rng.standard_normal(n)
        self.start = np.array(start, dtype=float)
        self.seed = seed
        # the whole data set's loss, as a quadratic form: L(w) = w.A.w - 2 b.w + c
        self._A = self.x.T @ self.x / n
        self._b = self.x.T @ self.y / n
        self._c = self.y @ self.y / n
        self.minimum = np.linalg.solve(self._A, self._b)

    def loss(self, w):
        """The mean squared error over all the data at weights ``w`` (..., 2)."""
        w = np.asarray(w, dtype=float)
        return np.einsum("...i,ij,...j->...", w, self._A, w) - 2 * w @ self._b + self._c

    def gradient(self, w, index):
        """The gradient of the mean squared error over the samples ``index`` (one mini-batch)."""
        x, y = self.x[index], self.y[index]
        return 2 * x.T @ (x @ w - y) / len(index)

    def path(self, optimizer, batch_size, epochs, limit=1e3):
        """Every point the optimizer visits, the start included; stops early if it diverges."""
        w = self.start.copy()
        points = [w.copy()]
        rng = np.random.default_rng(self.seed)
        n = len(self.y)
        for _ in range(epochs):
            order = rng.permutation(n)
            for start in range(0, n, batch_size):
                optimizer.apply([self.gradient(w, order[start:start + batch_size])], [w])
                points.append(w.copy())
                if not np.all(np.abs(w) < limit):
                    return np.array(points)
        return np.array(points)


# --- the explorer ------------------------------------------------------------------------------

OPTIMIZER_CHOICES = [("SGD", "sgd"), ("SGD + momentum", "momentum"), ("Adam", "adam")]
OPTIMIZER_NAMES = {value: label for label, value in OPTIMIZER_CHOICES}


def make_optimizer(name, learning_rate):
    """A kbook optimizer from the explorer's choice: SGD, SGD with momentum 0.9, or Adam."""
    from kbook import optimizers

    if name == "sgd":
        return optimizers.SGD(learning_rate)
    if name == "momentum":
        return optimizers.SGD(learning_rate, momentum=0.9)
    if name == "adam":
        return optimizers.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZER_NAMES)}")


@contextlib.contextmanager
def _own_seed(seed):
    """kbook's generator seeded for a block, then put back: the explorer leaves the reader's
    random stream (``kbook.set_seed``) as it was."""
    saved = initializers.generator()
    initializers.set_seed(seed)
    try:
        yield
    finally:
        initializers._rng = saved


def small_model():
    """The explorer's model: 64 pixels -> Dense(32, relu) -> Dense(10) logits, in float64."""
    from kbook.layers import Dense, Input
    from kbook.models import Sequential

    return Sequential([Input((64,), dtype="float64"), Dense(32, activation="relu", dtype="float64"),
                       Dense(10, dtype="float64")], dtype="float64", name="small_model")


class _RunCurve(Callback):
    """The explorer's own callback: moves the run's line and the progress bar, redraws now and then."""

    def __init__(self, explorer, interval):
        self.explorer, self.interval = explorer, interval

    def on_train_begin(self, model, epochs, steps):
        self.steps, self.epoch = steps, 0
        self.x, self.loss = [], []
        self.explorer.progress.max, self.explorer.progress.value = epochs * steps, 0
        self._last = time.perf_counter()

    def on_train_batch_end(self, step, logs):
        self.x.append(self.epoch + step / self.steps)
        self.loss.append(logs["loss"])
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._show(self.epoch * self.steps + step)
            self._last = now

    def on_epoch_end(self, epoch, logs):
        self.epoch = epoch + 1
        self._show(self.epoch * self.steps)

    def _show(self, done):
        self.explorer.progress.value = done
        self.explorer.run_line.set_data(self.x, _log_loss(self.loss))
        self.explorer.live.redraw_background()  # the run's panel is not among the blitted artists
        self.explorer.live.render()


class TrainingExplorer(Explorer):
    """Controls: ``learning_rate`` (log slider), ``batch_size``, ``optimizer``, ``epochs``, and Train.

    Left, redrawn at every control change: the path of that optimizer, learning rate and batch
    size on a 2-D loss surface (``LossSurface``) for that many epochs.  Right, when Train is
    pressed: a small model (``small_model``) trained on the digits with those settings, its loss
    after every step drawn live, with a progress bar; earlier runs stay, in grey.  Every Train
    starts from the same initial weights and the same shuffling (seeded), so two runs differ
    only by their settings.

    Example:
        >>> ex = TrainingExplorer()
        >>> ex.optimizer.value = "sgd"; ex.learning_rate.value = 0.1
        >>> ex.train()                            # what the Train button does
        >>> print(ex.summary())
    """

    def __init__(self, learning_rate=0.01, batch_size=32, optimizer="adam", epochs=5, seed=0,
                 interval=0.2, keep_runs=3):
        super().__init__(figsize=(8.4, 3.0), layout="none")
        self.live.figure.set_dpi(72)
        self.seed, self.interval, self.keep_runs = seed, interval, keep_runs
        self.learning_rate = widgets.FloatLogSlider(value=learning_rate, base=10, min=-4, max=0, step=0.25,
                                                    description="learning_rate", readout_format=".4g",
                                                    style={"description_width": "initial"})
        self.batch_size = widgets.Dropdown(options=[8, 16, 32, 64, 128, 256], value=batch_size,
                                           description="batch_size", layout={"width": "170px"})
        self.optimizer = widgets.Dropdown(options=OPTIMIZER_CHOICES, value=optimizer, description="optimizer",
                                          layout={"width": "230px"})
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=10, description="epochs")
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.train_button.on_click(lambda button: self.train())
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training",
                                            layout={"width": "340px"})
        (self.x_train, self.y_train), (self.x_test, self.y_test) = digits_split(flatten=True, dtype="float64")
        self.surface = LossSurface()
        self.runs = []  # (label, loss per epoch, test accuracy), newest last
        self._build_figure()
        self._watch(self.learning_rate, self.batch_size, self.optimizer, self.epochs)
        self.update()

    def controls(self):
        return [self.learning_rate, self.batch_size, self.optimizer, self.epochs, self.train_button]

    @property
    def widget(self):
        return widgets.VBox([widgets.HBox(self.controls(), layout={"flex_flow": "row wrap"}),
                             self.progress, self.caption, self.live.image])

    def _build_figure(self):
        fig = self.live.figure
        self.ax_path, self.ax_loss = fig.subplots(1, 2, gridspec_kw=dict(left=0.06, right=0.99, bottom=0.2,
                                                                         top=0.89, wspace=0.14))
        s = self.surface
        w0, w1 = np.meshgrid(np.linspace(-2.5, 3.5, 61), np.linspace(-0.9, 2.9, 39))
        levels = s.loss(s.minimum) + np.array([0.05, 0.2, 0.5, 1, 2, 4, 8, 16])
        self.ax_path.contour(w0, w1, s.loss(np.stack([w0, w1], axis=-1)), levels=levels, colors="0.75",
                             linewidths=0.7)
        self.ax_path.plot(*s.minimum, "*", color="black", ms=8)
        (self.path_line,) = self.ax_path.plot([], [], ".-", color=RUN_COLOR, lw=1, ms=3)
        (self.path_end,) = self.ax_path.plot([], [], "o", color="tab:red", ms=5)
        self.ax_path.set_xlim(-2.5, 3.5)
        self.ax_path.set_ylim(-0.9, 2.9)
        for which in ("x", "y"):
            ticks = Ticks(self.ax_path, which, fontsize=8)
            ticks.set_range(*getattr(self.ax_path, f"get_{which}lim")())
        self.ax_path.xaxis.set_visible(False)
        self.ax_path.yaxis.set_visible(False)
        self.path_title = self.ax_path.set_title("", y=1.0, fontsize=9)
        self.ax_path.text(0.5, -0.17, "w0", transform=self.ax_path.transAxes, ha="center", va="top", fontsize=8)
        self.ax_path.text(-0.075, 0.5, "w1", transform=self.ax_path.transAxes, ha="right", va="center", fontsize=8)
        _loss_axis(self.ax_loss)
        self._x_ticks = _epoch_axis(self.ax_loss, self.epochs.max)
        for ax in (self.ax_path, self.ax_loss):
            single_frame(ax)  # one outline for the background and four spines: the figure is white anyway
        self.ax_loss.set_xlim(0, self.epochs.max)
        self.old_lines = [self.ax_loss.plot([], [], color=OLD_RUN_COLOR, lw=1)[0] for _ in range(self.keep_runs)]
        (self.run_line,) = self.ax_loss.plot([], [], color=RUN_COLOR, lw=1.2)
        self.loss_title = self.ax_loss.set_title("digits: press Train", y=1.0, fontsize=9)
        self.ax_loss.text(0.5, -0.17, "epoch", transform=self.ax_loss.transAxes, ha="center", va="top", fontsize=8)
        # A control change moves only the path and its title; the contours, ticks and the runs'
        # panel stay, drawn once (most of a redraw: the contours alone ~7% of it, profiled).
        self.live.blit(self.path_line, self.path_end, self.path_title)

    # --- the left panel: recomputed at every control change ------------------------------------

    def settings(self):
        return (self.optimizer.value, float(self.learning_rate.value), int(self.batch_size.value),
                int(self.epochs.value))

    def label(self, settings=None):
        name, lr, batch, epochs = settings or self.settings()
        return f"{OPTIMIZER_NAMES[name]}, lr={lr:.3g}, batch {batch}, {epochs} epochs"

    def compute_path(self):
        name, lr, batch, epochs = self.settings()
        return self.surface.path(make_optimizer(name, lr), batch, epochs)

    def update(self):
        self.points = self.compute_path()
        self.path_line.set_data(self.points[:, 0], self.points[:, 1])
        self.path_end.set_data(self.points[-1:, 0], self.points[-1:, 1])
        self.path_title.set_text(f"2-D loss surface: {len(self.points) - 1} updates, "
                                 f"loss {self._path_loss_text()}")
        name, lr, batch, epochs = self.settings()
        steps = math.ceil(len(self.x_train) / batch)
        self.caption.value = (f"<code>{self.label()}</code> &nbsp;|&nbsp; digits: ceil({len(self.x_train)} / "
                              f"{batch}) = {steps} updates per epoch, {steps * epochs} in all &nbsp;|&nbsp; "
                              "press <b>Train</b> to train with these settings")
        self.live.render()

    def _path_loss_text(self):
        value = float(self.surface.loss(self.points[-1]))
        diverged = not np.all(np.abs(self.points[-1]) < 1e3)
        return "diverged" if diverged or not np.isfinite(value) else f"{value:.3f}"

    # --- the right panel: Train --------------------------------------------------------------

    def train(self):
        """What the Train button does: a fresh, seeded small model trained with the current settings."""
        from kbook import losses

        settings = self.settings()
        name, lr, batch, epochs = settings
        self.train_button.disabled = True
        try:
            # the last runs turn grey; this one is drawn live in blue
            previous = [line.get_data() for line in [*self.old_lines, self.run_line] if len(line.get_xdata())]
            previous = previous[-self.keep_runs:]
            for k, line in enumerate(self.old_lines):
                line.set_data(*(previous[k] if k < len(previous) else ([], [])))
            self.run_line.set_data([], [])
            self.loss_title.set_text(f"digits: training ({self.label(settings)})")
            with _own_seed(self.seed):
                model = small_model()
                model.compile(make_optimizer(name, lr), losses.SparseCategoricalCrossentropy(from_logits=True),
                              metrics=["accuracy"])
                history = model.fit(self.x_train, self.y_train, batch_size=batch, epochs=epochs, verbose=0,
                                    callbacks=[_RunCurve(self, self.interval)])
            test_loss, test_accuracy = model.evaluate(self.x_test, self.y_test, verbose=0)
            self.model = model
            self.runs.append((settings, history.history["loss"], float(test_accuracy)))
            self.loss_title.set_text(f"digits: loss {_short(history.history['loss'][-1])}, "
                                     f"test accuracy {test_accuracy:.2f}")
            self.live.redraw_background()
            self.live.render()
        finally:
            self.train_button.disabled = False
        return self.runs[-1]

    def summary(self):
        name, lr, batch, epochs = self.settings()
        steps = math.ceil(len(self.x_train) / batch)
        end = self.points[-1]
        lines = [f"settings: {self.label()}",
                 f"digits: ceil({len(self.x_train)} / {batch}) = {steps} weight updates per epoch, "
                 f"{steps * epochs} in {epochs} epochs",
                 f"2-D surface: {len(self.points) - 1} updates from ({self.surface.start[0]:g}, "
                 f"{self.surface.start[1]:g}) to ({_short(end[0])}, {_short(end[1])}), "
                 f"loss {self._path_loss_text()} (minimum {float(self.surface.loss(self.surface.minimum)):.3f})"]
        for settings, loss, accuracy in self.runs[-(self.keep_runs + 1):]:
            lines.append(f"Train [{self.label(settings)}]: loss {_short(loss[0])} -> {_short(loss[-1])}, "
                         f"test accuracy {accuracy:.2f}")
        if not self.runs:
            lines.append("Train: not pressed yet")
        return "\n".join(lines)


def _short(value):
    """A number for a sentence: 3 significant digits, 'nan' / 'inf' as such, never -0."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if abs(value) >= 1e4:
        return f"{value:.2e}"
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text
