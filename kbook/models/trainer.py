"""``compile`` / ``fit`` / ``evaluate`` / ``predict``: how a kbook model learns, step by step as Keras.

One training step is four lines, the whole of deep learning's training loop:

1. ``y_pred = model(x_batch, training=True)``        forward (BatchNormalization uses the batch)
2. ``loss = loss_fn(y_batch, y_pred)``                how wrong, one number
3. ``model.backward(loss_fn.gradient(y_batch, y_pred))``  every weight's gradient (chapter 6's tape)
4. ``optimizer.apply(grads, model.trainable_weights)``     move each weight a little downhill

``fit`` repeats it over mini-batches for some epochs and reports what Keras reports:
an epoch's ``loss`` is the mean of the batch losses weighted by batch size, and a
metric such as ``accuracy`` is the mean over every sample seen in the epoch, both
measured on the predictions made *before* each step's update.
"""
import math
import sys
import time

import numpy as np

from kbook import initializers


class History:
    """What ``fit`` returns: ``history.history["loss"]`` is one value per epoch, as in Keras."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


class Callback:
    """Hooks called by ``fit``; override the ones you need (``logs`` holds the running values)."""

    def on_train_begin(self, model, epochs, steps):
        pass

    def on_train_batch_end(self, step, logs):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_train_end(self, logs):
        pass


class ProgressBar(Callback):
    """Keras's progress line: ``45/45 ━━━━━━━━━━━━━━━━━━━━ 1s 10ms/step - accuracy: 0.9 - loss: 0.3``.

    In a terminal the line is rewritten in place; in a notebook one output per epoch is
    updated in place (no wall of lines).  ``verbose=2`` prints one line per epoch.
    """

    width = 20

    def __init__(self, verbose=1):
        self.verbose = verbose
        self.in_notebook = _in_notebook()

    def on_train_begin(self, model, epochs, steps):
        self.epochs, self.steps = epochs, steps
        self.epoch = 0
        self._begin_epoch()

    def _begin_epoch(self):
        self.start = time.perf_counter()
        self.handle = None
        if self.verbose == 1:
            self._write(f"Epoch {self.epoch + 1}/{self.epochs}\n", first=True)

    def line(self, step, logs, final=False):
        digits = len(str(self.steps))
        done = int(self.width * step / self.steps)
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(step, 1)
        timing = f"{elapsed:.0f}s {per_step * 1e3:.0f}ms/step" if final else \
                 f"{per_step * (self.steps - step):.0f}s {per_step * 1e3:.0f}ms/step"
        values = " - ".join(f"{k}: {_format_value(v)}" for k, v in logs.items())
        return f"{step:>{digits}}/{self.steps} {'━' * done}{'─' * (self.width - done)} {timing}" + \
               (f" - {values}" if values else "")

    def on_train_batch_end(self, step, logs):
        if self.verbose == 1:
            self._write(self.line(step, logs, final=step == self.steps))

    def on_epoch_end(self, epoch, logs):
        if self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs}\n{self.line(self.steps, logs, final=True)}")
        elif self.verbose == 1:
            self._write(self.line(self.steps, logs, final=True), end=True)
        self.epoch = epoch + 1
        if self.epoch < self.epochs:
            self._begin_epoch()

    def _write(self, text, first=False, end=False):
        if self.in_notebook:
            from IPython.display import display

            if first:
                self.header = text.rstrip("\n")
                return
            payload = {"text/plain": f"{self.header}\n{text}"}
            if self.handle is None:
                self.handle = display(payload, raw=True, display_id=True)
            else:
                self.handle.update(payload, raw=True)
        else:
            if first:
                sys.stdout.write(text)
            else:  # rewrite the line in place, blanking what a longer previous line left
                sys.stdout.write("\r" + text.ljust(getattr(self, "_width", 0)) + ("\n" if end else ""))
                self._width = 0 if end else len(text)
            sys.stdout.flush()


def _in_notebook():
    """True inside a Jupyter kernel (where output can be updated in place), not in a terminal."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return type(shell).__name__ == "ZMQInteractiveShell"


def _format_value(value):
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


class Trainer:
    """The training half of ``Model``: ``compile``, ``fit``, ``evaluate``, ``predict``."""

    optimizer = None
    loss = None
    compiled = False

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose how to learn: an optimizer, a loss and metrics (names or objects, as Keras)."""
        from kbook import losses, optimizers

        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        if self.loss is None:
            raise ValueError(f"Model '{self.name}': `compile` needs a `loss`, e.g. loss=\"mse\".")
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"Model '{self.name}': `metrics` must be a list, got {metrics!r}.")
        for metric in metrics or []:
            if metric not in ("accuracy", "acc"):
                raise ValueError(f"Model '{self.name}': unknown metric {metric!r}; kbook knows "
                                 "'accuracy' (and its short name 'acc').")
        self.metric_names = list(metrics or [])
        self.compiled = True

    def _require_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before using the model. "
                             f"('{self.name}'.{method} was called first.)")

    # --- one step ------------------------------------------------------------------------

    def _trainable_pairs(self):
        """(weights, grads) for the optimizer; a weight the loss did not reach gets zeros."""
        weights, grads = [], []
        for entry in self._weight_entries():
            if self._entry_is_trainable(entry):
                owner, name, weight = entry
                weights.append(weight)
                grads.append(owner.grads.get(name, np.zeros_like(weight)))
        return weights, grads

    def train_step(self, x, y):
        """One update on one batch; returns the batch's loss and predictions (before the update)."""
        y_pred = self(x, training=True)
        loss = self.loss(y, y_pred)
        self.backward(self.loss.gradient(y, y_pred))
        weights, grads = self._trainable_pairs()
        self.optimizer.apply(grads, weights)
        return loss, y_pred

    # --- the loops -----------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True):
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches; returns a ``History``.

        Shuffling draws from kbook's generator (``kbook.set_seed`` makes a fit reproducible).
        Everything is checked before the first step, so a fit that fails leaves the weights
        as they were.
        """
        self._require_compiled("fit")
        batch_size = self._check_batch_size(batch_size)
        x, y = self._check_data(x, y, "fit")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Model '{self.name}': `epochs` must be an int >= 0, got {epochs!r}.")
        if validation_split and validation_data is None:
            x, y, validation_data = _split(x, y, validation_split)
        if validation_data is not None:
            val_x, val_y = self._check_data(*validation_data, "fit (validation_data)")
        self._check_targets(x, y)
        n = len(x)
        steps = math.ceil(n / batch_size)
        history = History()
        callbacks = list(callbacks or [])
        if verbose != 0:
            callbacks.insert(0, ProgressBar(1 if verbose == "auto" else verbose))
        for callback in callbacks:
            callback.on_train_begin(self, epochs, steps)
        logs = {}
        for epoch in range(epochs):
            order = initializers.generator().permutation(n) if shuffle else np.arange(n)
            tracker = _Tracker(self.metric_names, self.loss)
            for step in range(steps):
                index = order[step * batch_size:(step + 1) * batch_size]
                loss, y_pred = self.train_step(x[index], y[index])
                tracker.update(loss, y[index], y_pred)
                for callback in callbacks:
                    callback.on_train_batch_end(step + 1, tracker.result())
            logs = tracker.result()
            if validation_data is not None:
                val = self.evaluate(val_x, val_y, batch_size=batch_size, verbose=0, return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
            history.append(epoch, logs)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
        for callback in callbacks:
            callback.on_train_end(logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """The loss (and metrics) on ``(x, y)``, in inference mode: ``[loss, accuracy]`` or a float."""
        self._require_compiled("evaluate")
        batch_size = self._check_batch_size(batch_size)
        x, y = self._check_data(x, y, "evaluate")
        self._check_targets(x, y)
        tracker = _Tracker(self.metric_names, self.loss)
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            y_pred = self(xb, training=False)
            tracker.update(self.loss(yb, y_pred), yb, y_pred)
        result = tracker.result()
        if verbose not in (0, "auto"):
            print(" - ".join(f"{k}: {_format_value(v)}" for k, v in result.items()))
        if return_dict:
            return result
        values = [result["loss"]] + [result[m] for m in self.metric_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto"):
        """The model's outputs on ``x``, batch by batch, in inference mode."""
        batch_size = self._check_batch_size(batch_size)
        x = self._as_numeric(x, "x")
        outputs = [self(x[start:start + batch_size], training=False) for start in range(0, len(x), batch_size)]
        return np.concatenate(outputs, axis=0)

    # --- checks, all before the first step -------------------------------------------------

    def _check_batch_size(self, batch_size):
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"Model '{self.name}': `batch_size` must be a positive int, got {batch_size!r}.")
        return int(batch_size)

    def _check_data(self, x, y, method):
        if x is None or y is None:
            raise ValueError(f"Model '{self.name}'.{method}: pass both `x` and `y`.")
        x, y = self._as_numeric(x, "x"), self._as_numeric(y, "y")
        if len(x) != len(y):
            raise ValueError(f"Model '{self.name}'.{method}: `x` and `y` must have the same number of "
                             f"samples; got x with {len(x)} and y with {len(y)}.")
        if len(x) == 0:
            raise ValueError(f"Model '{self.name}'.{method}: `x` is empty.")
        return x, y

    def _check_targets(self, x, y):
        """Shape and label checks on every target at once, with a prediction made without training."""
        y_pred = self(x[:1], training=False)
        probe = np.full((len(y),) + y_pred.shape[1:], 1.0 / max(y_pred.shape[-1], 1), dtype=y_pred.dtype)
        self.loss(y, probe)  # the loss raises on a mismatched shape or a label out of range


class _Tracker:
    """Keras's epoch values: loss weighted by batch size, metrics averaged over samples."""

    def __init__(self, metric_names, loss):
        self.metric_names = metric_names
        self.loss_sum = 0.0
        self.count = 0
        self.correct = 0.0

    def update(self, loss, y_true, y_pred):
        size = len(y_true)
        self.loss_sum += float(loss) * size
        self.count += size
        if self.metric_names:
            from kbook import metrics

            # Keras 3 picks the accuracy from the shapes (metrics.resolve_accuracy)
            self.correct += float(np.sum(metrics.accuracy_per_sample(y_true, y_pred)))

    def result(self):
        logs = {}
        for name in self.metric_names:
            logs[name] = self.correct / self.count
        logs["loss"] = self.loss_sum / self.count
        return logs


def _split(x, y, validation_split):
    """Keras's rule: the last ``validation_split`` of the samples, before any shuffling."""
    if not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, got {validation_split!r}.")
    split_at = int(math.floor(len(x) * (1.0 - validation_split)))
    if split_at == 0 or split_at == len(x):
        raise ValueError(f"Training data contains {len(x)} samples, which is not sufficient to split it "
                         f"into a validation and training set as specified by "
                         f"`validation_split={validation_split}`.")
    return x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
