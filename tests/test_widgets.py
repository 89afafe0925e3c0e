"""The explorers: driven from code, they recompute, redraw in place, and say what they show."""
import numpy as np

from kbook.widgets.activation import ActivationExplorer
from kbook.widgets.dense import DenseExplorer

PNG = b"\x89PNG"


def test_dense_explorer_follows_its_controls():
    ex = DenseExplorer(units=3, input_dim=10, batch_size=4)
    figure, renders = ex.live.figure, ex.live.renders
    assert bytes(ex.live.image.value).startswith(PNG)
    ex.units.value = 8
    ex.use_bias.value = False
    assert ex.live.renders == renders + 2          # one redraw per control change
    assert ex.live.figure is figure                # same figure, artists updated in place
    assert "(4, 10) @ W (10, 8)) -> (4, 8)" in ex.summary()
    assert "parameters: 10*8 = 80" in ex.summary()
    assert ex.images[2].get_array().shape == (4, 8)


def test_dense_explorer_output_is_the_layer_output():
    ex = DenseExplorer(units=5, input_dim=3, batch_size=2, activation="relu")
    layer, x, y = ex.compute()
    assert np.allclose(y, np.maximum(x @ layer.kernel + layer.bias, 0))


def test_activation_explorer_plots_function_and_derivative():
    ex = ActivationExplorer(activation="relu")
    ex.activation.value = "tanh"
    x, y = ex.line_f.get_data()
    _, dy = ex.line_df.get_data()
    assert np.allclose(y, np.tanh(x)) and np.allclose(dy, 1 - np.tanh(x) ** 2)
    assert "f'(-2, -1, 0, 1, 2) = 0.0707, 0.4200, 1.0000, 0.4200, 0.0707" in ex.summary()
    ex.x_range.value = 2.0
    assert ex.line_f.get_data()[0][-1] == 2.0


def test_explorer_widget_contains_controls_and_image():
    ex = ActivationExplorer()
    box = ex.widget
    assert ex.live.image in box.children
    assert ex.activation in box.children[0].children
