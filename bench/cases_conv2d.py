"""Conv2D on (32, 64, 64, 16) -> 32 filters, 3x3, "same", float32: forward, and forward + backward
against forward + ``GradientTape``; plus the convolution explorer's update (one slider move ->
new figure rendered, headless).

Goals: forward <= 1.25 x tf.keras, forward + backward <= 2 x, explorer update <= 30 ms.
"""
import numpy as np

from twins import explorer_case, layer_cases

from kbook.layers.conv2d import Conv2D


def _layer_cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 64, 16)).astype("float32")
    dy = rng.standard_normal((32, 64, 64, 32)).astype("float32")
    layer = Conv2D(32, 3, padding="same")
    layer.build(x.shape)
    layer.set_weights([w + rng.standard_normal(w.shape).astype("float32") * 0.1 for w in layer.get_weights()])
    return layer_cases("conv Conv2D (32,64,64,16)->32 3x3", layer, x, dy, forward_goal=1.25, backward_goal=2.0)


def explorer_cases():
    from kbook.widgets.conv2d import Conv2DChannelsExplorer, Conv2DExplorer

    moves = [("kernel_size", 5), ("strides", 2), ("padding", "same"), ("kernel", "blur"),
             ("kernel_size", 3), ("strides", 1), ("dilation_rate", 2), ("padding", "valid"),
             ("kernel", "edge"), ("dilation_rate", 1)]
    channel_moves = [("kernel_size", 7), ("filter_index", 3), ("padding", "valid"), ("filters", 2),
                     ("kernel_size", 3), ("filters", 4), ("filter_index", 0), ("padding", "same")]
    return [explorer_case("explorer Conv2DExplorer update (ms)", Conv2DExplorer(), moves),
            explorer_case("explorer Conv2DChannelsExplorer update (ms)", Conv2DChannelsExplorer(), channel_moves,
                          key_control="kernel_size")]


def cases():
    return _layer_cases()
