"""Convolution explorer: slide a kernel over a real photograph and watch the shapes.

Built on :class:`kbook.widgets.sliding_window.SlidingWindowExplorer` (which draws the padded
input with the receptive field, the output map and the output-size formula); this module adds
what is special to ``Conv2D``: the ``dilation_rate`` slider, a choice of ``kernel`` and the
kernel panel.  The output is computed by ``kbook.layers.Conv2D`` itself.
"""
import ipywidgets as widgets
import numpy as np

from kbook.layers.conv2d import Conv2D
from kbook.widgets.sliding_window import SlidingWindowExplorer

KERNELS = ("edge", "blur", "sharpen", "emboss", "sobel_x", "sobel_y", "identity", "random")


def make_kernel(name, size, seed=0):
    """A ``size x size`` image kernel by name; every one is defined for any size >= 1.

    edge: -1 around, the rest in the centre (sums to 0: flat regions go to 0);
    blur: the mean of the window; sharpen: 2 * identity - blur; emboss: a diagonal
    gradient plus identity; sobel_x / sobel_y: a derivative across columns / rows,
    smoothed along the other axis with binomial weights; identity: copies the centre
    pixel; random: standard normal numbers (seeded).

    Example:
        >>> make_kernel("edge", 3)
        array([[-1., -1., -1.],
               [-1.,  8., -1.],
               [-1., -1., -1.]])
    """
    if name not in KERNELS:
        raise ValueError(f"make_kernel: `name` must be one of {KERNELS}, got {name!r}.")
    k = int(size)
    c = (k - 1) / 2
    centre = np.zeros((k, k))
    centre[k // 2, k // 2] = 1.0  # for even sizes: the cell just below-right of the middle
    offsets = np.arange(k) - c
    if name == "edge":
        return np.full((k, k), -1.0) + k * k * centre
    if name == "blur":
        return np.full((k, k), 1.0 / (k * k))
    if name == "sharpen":
        return 2 * centre - 1.0 / (k * k)
    if name == "emboss":
        return (offsets[:, None] + offsets[None, :]) / max(c, 1.0) + centre
    if name in ("sobel_x", "sobel_y"):
        smooth = _binomial(k)
        derivative = offsets / max(c, 1.0)
        kernel = smooth[:, None] * derivative[None, :]
        return kernel if name == "sobel_x" else kernel.T.copy()
    if name == "identity":
        return centre
    return np.random.default_rng(seed).standard_normal((k, k))


def _binomial(k):
    row = np.ones(1)
    for _ in range(k - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


class Conv2DExplorer(SlidingWindowExplorer):
    """Conv2D on a photo. Controls (Keras's names): ``kernel_size``, ``strides``, ``padding``,
    ``dilation_rate``, plus ``kernel`` (which image kernel) and ``row`` / ``col`` (the output
    pixel whose receptive field is outlined).

    Example:
        >>> ex = Conv2DExplorer()
        >>> ex.strides.value = 2
        >>> ex.padding.value = "same"
        >>> print(ex.summary())
    """

    window_arg = "kernel_size"
    layer_name = "Conv2D"
    middle_cmap = "coolwarm"

    def __init__(self, image=None, size=64, kernel_size=3, strides=1, padding="valid", dilation_rate=1,
                 kernel="edge", seed=0):
        self._initial = {"dilation_rate": dilation_rate, "kernel": kernel}
        self.seed = seed
        super().__init__(image=image, size=size, window=kernel_size, strides=strides, padding=padding)

    def _extra_controls(self):
        self.dilation_rate = widgets.IntSlider(value=self._initial["dilation_rate"], min=1, max=4,
                                               description="dilation_rate")
        self.kernel = widgets.Dropdown(options=KERNELS, value=self._initial["kernel"], description="kernel")
        return [self.dilation_rate, self.kernel]

    def _dilation(self):
        return self.dilation_rate.value

    def current_kernel(self):
        return make_kernel(self.kernel.value, self.kernel_size.value, self.seed)

    def _compute(self, image, window, strides, padding, dilation):
        layer = Conv2D(1, window, strides=strides, padding=padding, dilation_rate=dilation,
                       use_bias=False, dtype="float64", name="explorer_conv2d")
        x = image[None, :, :, None]
        layer.build(x.shape)
        layer.set_weights([self.current_kernel()[:, :, None, None]])
        self.layer = layer
        return layer(x)[0, :, :, 0]

    def _middle_panel(self, patch):
        kernel = self.current_kernel()
        self.patch = patch
        return kernel, f"kernel '{self.kernel.value}' {kernel.shape[0]}x{kernel.shape[1]}"

    def _middle_clim(self, data):
        bound = float(np.abs(data).max()) or 1.0
        return -bound, bound

    def _output_clim(self, output):
        return SlidingWindowExplorer._middle_clim(self, output)

    def _extra_args(self):
        return {"dilation_rate": self.dilation_rate.value}

    def _extra_summary(self):
        kernel = self.current_kernel()
        return [f"kernel '{self.kernel.value}' {kernel.shape}, sum of weights {kernel.sum():.3f}"]
