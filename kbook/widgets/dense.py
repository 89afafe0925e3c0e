"""Dense explorer: change units, input size, batch size, activation; watch shapes and values.

Three heat maps side by side: the input x (N, in), the kernel W (in, units) and
the output y = activation(x @ W + b) (N, units).  The caption keeps the shape
arithmetic and the parameter count in view.
"""
import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from kbook import activations
from kbook.layers import Dense
from kbook.widgets.live_figure import Explorer

ELEMENTWISE = sorted(n for n in activations.ALL_OBJECTS_DICT
                     if n not in activations.NOT_ELEMENTWISE and n != "threshold")


class DenseExplorer(Explorer):
    """Controls (named after Dense's arguments where Dense has one):
    ``units``, ``activation``, ``use_bias``, plus ``input_dim`` and ``batch_size``.

    Example:
        >>> ex = DenseExplorer()
        >>> ex.units.value = 8
        >>> print(ex.summary())
    """

    def __init__(self, units=3, input_dim=10, batch_size=4, activation="sigmoid", use_bias=True, seed=0):
        super().__init__(figsize=(9, 3))
        self.seed = seed
        self.units = widgets.IntSlider(value=units, min=1, max=16, description="units")
        self.input_dim = widgets.IntSlider(value=input_dim, min=1, max=16, description="input_dim")
        self.batch_size = widgets.IntSlider(value=batch_size, min=1, max=16, description="batch N")
        self.activation = widgets.Dropdown(options=ELEMENTWISE, value=activation, description="activation")
        self.use_bias = widgets.Checkbox(value=use_bias, description="use_bias")
        axes = self.live.figure.subplots(1, 3)
        self.images = [ax.imshow(np.zeros((1, 1)), cmap="coolwarm", vmin=-1.5, vmax=1.5) for ax in axes]
        self.axes = axes
        for ax in axes:  # cells are whole rows and columns
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        self._watch(self.units, self.input_dim, self.batch_size, self.activation, self.use_bias)
        self.update()

    def controls(self):
        return [self.units, self.input_dim, self.batch_size, self.activation, self.use_bias]

    def compute(self):
        """The layer and its input and output for the current control values."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.batch_size.value, self.input_dim.value))
        layer = Dense(self.units.value, activation=self.activation.value,
                      use_bias=self.use_bias.value, name="explorer_dense", dtype="float64")
        layer.build(x.shape)
        layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
        return layer, x, layer(x)

    def update(self):
        self.layer, x, y = self.compute()
        titles = [f"x {x.shape}", f"kernel W {self.layer.kernel.shape}", f"y {y.shape}"]
        for ax, image, data, title in zip(self.axes, self.images, (x, self.layer.kernel, y), titles):
            image.set_data(data)
            rows, cols = data.shape
            image.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
            ax.set_xlim(-0.5, cols - 0.5)
            ax.set_ylim(rows - 0.5, -0.5)
            ax.set_title(title)
        self.caption.value = f"<code>{self.formula()}</code> &nbsp; {self.layer.count_params()} parameters"
        self.live.render()

    def formula(self):
        n, d, u = self.batch_size.value, self.input_dim.value, self.units.value
        bias = f" + b ({u},)" if self.use_bias.value else ""
        return f"y = {self.activation.value}(x ({n}, {d}) @ W ({d}, {u}){bias}) -> ({n}, {u})"

    def summary(self):
        d, u = self.input_dim.value, self.units.value
        params = d * u + (u if self.use_bias.value else 0)
        return (f"{self.formula()}\n"
                f"parameters: {d}*{u}" + (f" + {u}" if self.use_bias.value else "") + f" = {params}")
