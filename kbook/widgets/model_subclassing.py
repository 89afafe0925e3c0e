"""Freezing explorer (chapter 8): tick ``trainable`` on and off for the parts of a small
subclassed model and watch the parameter counts and the gradients.

The model is the chapter's offline stand-in for the notes' YOLOv1: a subclassed ``Model``
holding a Functional ``backbone`` (two Conv2D layers, ``conv_a`` and ``conv_b``), a
``GlobalAveragePooling2D`` and a Dense ``head``.  Each control sets one layer's
``trainable`` exactly as ``layer.trainable = value`` does, so the cascade is Keras's:
freezing (or unfreezing) the backbone sets both of its convolutions, and the other
boxes follow.  After every change the explorer runs one forward and one backward pass
and shows, per weight, its size (coloured trainable / frozen) and the size of its
gradient (a frozen layer gets none: ``layer.grads == {}``).
"""
import html

import ipywidgets as widgets
import numpy as np

from kbook.layers import Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D
from kbook.models import Model
from kbook.widgets.live_figure import Explorer

TRAINABLE_COLOR, FROZEN_COLOR = "#4c72b0", "#b0b0b0"


def tiny_backbone(dtype="float32"):
    """A small Functional feature extractor: (N, 16, 16, 3) -> (N, 8, 8, 16)."""
    inputs = Input((16, 16, 3), dtype=dtype, name="image")
    h = Conv2D(8, 3, padding="same", activation="relu", dtype=dtype, name="conv_a")(inputs)
    h = MaxPooling2D(dtype=dtype, name="pool_a")(h)
    h = Conv2D(16, 3, padding="same", activation="relu", dtype=dtype, name="conv_b")(h)
    return Model(inputs, h, name="backbone")


class TinyDetector(Model):
    """A backbone, a global average pooling and a Dense head of S*S*(C + B*5) numbers (YOLO's layout)."""

    def __init__(self, cell_size=2, boxes_per_cell=2, num_classes=3, dtype="float32", name="tiny_detector"):
        super().__init__(name=name, dtype=dtype)
        self.backbone = tiny_backbone(dtype)
        self.pool = GlobalAveragePooling2D(dtype=dtype, name="gap")
        self.head = Dense(cell_size * cell_size * (num_classes + boxes_per_cell * 5), dtype=dtype, name="head")

    def call(self, x):
        return self.head(self.pool(self.backbone(x)))


class FreezeExplorer(Explorer):
    """``trainable`` for the model, the backbone, its two convolutions and the head.

    Controls: ``model_trainable``, ``backbone_trainable``, ``conv_a_trainable``,
    ``conv_b_trainable``, ``head_trainable`` (each is ``<layer>.trainable``).  Left: one
    bar per weight, its number of parameters, blue when trainable, grey when frozen.
    Right: the norm of its gradient after one backward pass; frozen weights get none.

    Example:
        >>> ex = FreezeExplorer()
        >>> ex.backbone_trainable.value = False     # freezes conv_a and conv_b too
        >>> print(ex.summary())
    """

    PARTS = ("model", "backbone", "conv_a", "conv_b", "head")

    def __init__(self, seed=0):
        super().__init__(figsize=(7.6, 2.4))
        self.live.figure.set_dpi(72)  # a small PNG: each tick redraws and re-encodes it
        rng = np.random.default_rng(seed)
        self.model = TinyDetector()
        self.x = rng.standard_normal((2, 16, 16, 3)).astype("float32")
        y = self.model(self.x)
        self.dy = rng.standard_normal(y.shape).astype("float32")
        self._layers = {"model": self.model, "backbone": self.model.backbone,
                        "conv_a": self.model.get_layer("backbone").get_layer("conv_a"),
                        "conv_b": self.model.get_layer("backbone").get_layer("conv_b"),
                        "head": self.model.head}
        self._syncing = False
        for part in self.PARTS:
            box = widgets.Checkbox(value=True, description=f"{part}.trainable", indent=False,
                                   layout={"width": "150px"})
            box.observe(lambda change, part=part: self._set_trainable(part, change["new"]), names="value")
            setattr(self, f"{part}_trainable", box)
        self._build_figure()
        self.update()
        self.live.figure.set_layout_engine("none")

    def controls(self):
        return [getattr(self, f"{part}_trainable") for part in self.PARTS]

    def _set_trainable(self, part, value):
        if self._syncing:
            return
        self._layers[part].trainable = value  # Keras's cascade: a parent sets every sublayer
        self.refresh()  # the boxes follow in update(), so their messages go after the picture's

    def _sync_boxes(self):
        """The other boxes show what the cascade did."""
        self._syncing = True
        try:
            for other in self.PARTS:
                getattr(self, f"{other}_trainable").value = self._layers[other].trainable
        finally:
            self._syncing = False

    def _entries(self):
        """(label, owner, weight name, array) for every weight, in Keras's order."""
        return [(f"{owner.name}/{name}", owner, name, array) for owner, name, array in self.model._weight_entries()]

    def _build_figure(self):
        fig = self.live.figure
        self.ax_size, self.ax_grad = fig.subplots(1, 2)
        entries = self._entries()
        labels = [label for label, *_ in entries]
        positions = np.arange(len(entries))[::-1]
        sizes = [array.size for *_, array in entries]
        self._size_bars = self.ax_size.barh(positions, sizes, color=TRAINABLE_COLOR)
        self._grad_bars = self.ax_grad.barh(positions, np.ones(len(entries)), color=TRAINABLE_COLOR)
        self._grad_texts = [self.ax_grad.text(0, p, "", va="center", fontsize=7) for p in positions]
        for ax in (self.ax_size, self.ax_grad):
            ax.set_yticks(positions)
            ax.set_xticks([])  # counts sit in the labels, gradient sizes beside the bars: fewer texts to draw
            ax.tick_params(labelsize=7)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        self.ax_size.set_yticklabels([f"{label} {size:,}" for label, size in zip(labels, sizes)])
        self.ax_grad.set_yticklabels([])
        self.ax_size.set_xlim(0, max(sizes) * 1.05)
        # Only the bars and the gradient numbers change: the rest is drawn once (LiveFigure.blit).
        self.live.blit(*self._size_bars, *self._grad_bars, *self._grad_texts)

    def compute(self):
        """One forward and backward pass; {label: gradient norm, or None when the layer has none}."""
        self.model(self.x, training=True)
        self.model.backward(self.dy)
        norms = {}
        for label, owner, name, _ in self._entries():
            grad = owner.grads.get(name)
            norms[label] = None if grad is None else float(np.linalg.norm(grad))
        return norms

    def update(self):
        self._sync_boxes()
        self.norms = self.compute()
        trainable_ids = {id(w) for w in self.model.trainable_weights}
        top = max([n for n in self.norms.values() if n is not None], default=1.0) or 1.0
        for (label, _, _, array), bar, gbar, text in zip(self._entries(), self._size_bars, self._grad_bars,
                                                           self._grad_texts):
            color = TRAINABLE_COLOR if id(array) in trainable_ids else FROZEN_COLOR
            bar.set_color(color)
            norm = self.norms[label]
            gbar.set_width(0 if norm is None else norm)
            gbar.set_color(color)
            text.set_x(0 if norm is None else norm)
            text.set_text(" none" if norm is None else f" {norm:.3g}")
        self.ax_grad.set_xlim(0, top * 1.45)
        trainable, frozen = self.counts()
        # Words go in the HTML caption, not in the figure: every glyph drawn costs time on each redraw.
        self.caption.value = (
            f"<b>Trainable params: {trainable:,}</b> (blue) &nbsp; <b>Non-trainable params: {frozen:,}</b> (grey)"
            " &nbsp;|&nbsp; left: parameters per weight; right: |dL/dw| after one backward pass "
            f"(none when frozen)<br><code>{html.escape(self._state_line())}</code>")
        self.live.render()

    def counts(self):
        """(trainable, non-trainable) parameter counts, as ``model.summary()`` reports them."""
        return (int(sum(w.size for w in self.model.trainable_weights)),
                int(sum(w.size for w in self.model.non_trainable_weights)))

    def _state_line(self):
        return "  ".join(f"{part}.trainable={self._layers[part].trainable}" for part in self.PARTS)

    def summary(self):
        trainable, frozen = self.counts()
        with_grads = [label for label, norm in self.norms.items() if norm is not None]
        no_grads = sorted({label.split("/")[0] for label, norm in self.norms.items() if norm is None})
        return (f"{self._state_line()}\n"
                f"Trainable params: {trainable:,} | Non-trainable params: {frozen:,} | "
                f"Total: {trainable + frozen:,}\n"
                f"weights with a gradient: {', '.join(with_grads) or '(none)'}\n"
                f"layers with grads == {{}}: {', '.join(no_grads) or '(none)'}")
