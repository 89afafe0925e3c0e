"""Pooling explorer (chapter 4).

``PoolingExplorer`` is a :class:`kbook.widgets.sliding_window.SlidingWindowExplorer` (the
convolution explorer's machinery: padded input with the receptive field, middle panel,
output map, output-size formula) that adds what is special to pooling: a max / average
toggle, a choice of feature map (the photo itself, or the photo after a 3x3 edge filter
and ReLU, computed with kbook's Conv2D), padded cells drawn as "ignored" rather than as
zeros, and the window cell that wins the max (the one that receives the gradient).
The output is computed by ``kbook.layers.MaxPooling2D`` / ``AveragePooling2D`` themselves.

It starts with the window at the centre of the image (where the photo has something to
pool, rather than the corner), writes the output size with the chapter's two formulas
(``floor((L - pool_size) / strides) + 1`` for "valid", ``ceil(L / strides)`` for "same"),
and names the padded rows and columns only when the selected window reaches into them.
"""

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from kbook.layers import AveragePooling2D, MaxPooling2D
from kbook.widgets.sliding_window import SlidingWindowExplorer

FEATURES = ("photo", "edges + relu", "vertical edges + relu", "horizontal edges + relu")
_FEATURE_KERNELS = {"edges + relu": "edge", "vertical edges + relu": "sobel_x",
                    "horizontal edges + relu": "sobel_y"}
MODES = ("max", "average")


def feature_map(image, feature):
    """The photo, or one feature map of it: relu(conv3x3(photo)) scaled to [0, 1].

    This is what a pooling layer sees in a CNN: the output of a Conv2D + ReLU.  The
    scaling (by the map's max) only helps the display; max and mean commute with it.
    """
    if feature not in FEATURES:
        raise ValueError(f"feature_map: `feature` must be one of {FEATURES}, got {feature!r}.")
    image = np.asarray(image, dtype=np.float64)
    if feature == "photo":
        return image
    from kbook.layers.conv2d import Conv2D
    from kbook.widgets.conv2d import make_kernel

    conv = Conv2D(1, 3, padding="same", activation="relu", use_bias=False, dtype="float64",
                  name="feature_conv2d")
    x = image[None, :, :, None]
    conv.build(x.shape)
    conv.set_weights([make_kernel(_FEATURE_KERNELS[feature], 3)[:, :, None, None]])
    fmap = conv(x)[0, :, :, 0]
    top = fmap.max()
    return fmap / top if top > 0 else fmap


class PoolingExplorer(SlidingWindowExplorer):
    """MaxPooling2D / AveragePooling2D on a photo or on its feature maps.

    Controls (Keras's names where Keras has one): ``pool_size``, ``strides``, ``padding``,
    ``mode`` (max / average), ``feature`` (which map is pooled), ``row`` / ``col`` (the
    output pixel whose window is outlined).

    Example:
        >>> ex = PoolingExplorer()
        >>> ex.padding.value = "same"
        >>> ex.mode.value = "average"
        >>> print(ex.summary())
    """

    window_arg = "pool_size"
    pad_value = np.nan  # padded cells take no part in a pooling: drawn as "ignored"

    def __init__(self, image=None, size=64, pool_size=2, strides=2, padding="valid", mode="max",
                 feature="photo", max_window=6, max_strides=4):
        self._initial = {"mode": mode, "feature": feature}
        super().__init__(image=image, size=size, window=pool_size, strides=strides, padding=padding,
                         max_window=max_window, max_strides=max_strides)

    # --- hooks ------------------------------------------------------------------------------

    def _extra_controls(self):
        self.mode = widgets.ToggleButtons(options=MODES, value=self._initial["mode"], description="mode",
                                          style={"button_width": "70px"})
        self.feature = widgets.Dropdown(options=FEATURES, value=self._initial["feature"],
                                        description="feature map")
        self._source = self.image
        self.image = self._as_image(feature_map(self._source, self.feature.value))
        # Registered before the base class's observers, so the image is swapped before update().
        self.feature.observe(self._on_feature, names="value")
        return [self.mode, self.feature]

    def _on_feature(self, change):
        self.image = self._as_image(feature_map(self._source, change["new"]))

    @property
    def layer_name(self):
        return "MaxPooling2D" if self.mode.value == "max" else "AveragePooling2D"

    def layer_class(self):
        return MaxPooling2D if self.mode.value == "max" else AveragePooling2D

    def _compute(self, image, window, strides, padding, dilation):
        layer = self.layer_class()(pool_size=window, strides=strides, padding=padding, dtype="float64",
                                   name="explorer_pooling")
        self.layer = layer
        return layer(image[None, :, :, None])[0, :, :, 0]

    def _window_stats(self, patch):
        """(number of real cells, pooled value, (row, col) of the first max) of a window."""
        real = np.isfinite(patch)
        count = int(real.sum())
        if count == 0:
            return 0, np.nan, None
        if self.mode.value == "max":
            flat = int(np.nanargmax(patch))  # first maximum in row-major order, like TensorFlow
            return count, float(patch.flat[flat]), divmod(flat, patch.shape[1])
        return count, float(np.nanmean(patch)), None

    def _middle_panel(self, patch):
        self.patch = patch
        count, value, _ = self._window_stats(patch)
        if count == 0:
            return patch, "window: no real cell"
        what = "max" if self.mode.value == "max" else "mean"
        ignored = patch.size - count
        extra = f", {ignored} pad ignored" if ignored else ""
        return patch, f"{what} of {count} cells{extra} = {value:.3f}"

    def _setup_extra(self, axes):
        self._winner = Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="#d62728", lw=2.0)
        axes[1].add_patch(self._winner)

    def _update_extra(self):
        _, _, winner = self._window_stats(self.patch)
        self._winner.set_visible(winner is not None and self.error is None)
        if winner is not None:
            self._winner.set_xy((winner[1] - 0.5, winner[0] - 0.5))

    def set_image(self, image):
        """Pool another 2-D array (the ``feature`` control then derives its maps from it)."""
        self._source = self._as_image(image)
        self.image = self._as_image(feature_map(self._source, self.feature.value))
        self.update()

    def axis_formula(self, axis):
        """Output length along ``axis`` with its arithmetic: the chapter's formulas."""
        p = self.params()
        if p["padding"] == "same":
            return super().axis_formula(axis)
        length, k, s = self.image.shape[axis], p["window"], p["strides"]
        out = (length - k) // s + 1
        if out <= 0:
            return out, f"floor(({length} - {k}) / {s}) + 1 = {out} <= 0"
        return out, f"floor(({length} - {k}) / {s}) + 1 = {out}"

    def padding_touched(self):
        """The padded rows and columns under the selected window: ``(rows, cols)`` lists (empty: none)."""
        h, w = self.image.shape
        (r0, r1), (c0, c1) = self.receptive_field()
        return ([r for r in range(r0, r1 + 1) if not 0 <= r < h],
                [c for c in range(c0, c1 + 1) if not 0 <= c < w])

    def summary(self):
        lines = super().summary().split("\n")
        if self.error is None:  # the last line is the receptive field's: say "padding" only when it is there
            (r0, r1), (c0, c1) = self.receptive_field()
            line = f"output[{self.row.value}, {self.col.value}] sees input rows {r0}..{r1}, cols {c0}..{c1}"
            rows, cols = self.padding_touched()
            parts = [f"{name}{'s' if len(cells) > 1 else ''} {', '.join(map(str, cells))}"
                     for name, cells in (("row", rows), ("col", cols)) if cells]
            if parts:
                line += f" (padding: {'; '.join(parts)})"
            lines[-1] = line
        return "\n".join(lines)

    def _extra_summary(self):
        lines = [f"feature map: {self.feature.value}"]
        if self.error is None:
            count, value, winner = self._window_stats(self.patch)
            what = "max" if self.mode.value == "max" else "mean"
            line = (f"output[{self.row.value}, {self.col.value}] = {what} of {count} real cells "
                    f"= {value:.3f}")
            if winner is not None:
                line += f" (gradient goes to window cell {winner})"
            lines.append(line)
        return lines
