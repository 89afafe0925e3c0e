"""Conv2D on (32, 64, 64, 16) -> 32 filters, 3x3, "same", float32: forward, and forward + backward
against forward + ``GradientTape``; the sweep of the shapes people actually use (issue 13); plus the
convolution explorers' updates (one control change -> new figure rendered, headless).

The sweep: a tiny image, a strided stem, ResNet-style 3x3 and 1x1 layers, a 7x7 layer, a CIFAR
first layer, a strided 256-channel layer, a large 3-channel image, and the two convolutions of
bench/cases_models.py's residual CNN.  Its rows form two groups, forward and forward + backward,
and bench.py adds each group's median and worst ratio to the table.

Goals: forward <= 1.25 x tf.keras for every shape and <= 1.0 for the sweep's median, forward +
backward <= 2 x; explorer update <= 30 ms.
"""
import numpy as np

from twins import explorer_case, layer_cases

from kbook.layers.conv2d import Conv2D


# (input (N, H, W, C), filters, kernel, strides, padding)
SWEEP = [
    ((1, 64, 64, 3), 16, 3, 1, "same"),
    ((1, 224, 224, 3), 32, 3, 2, "same"),
    ((8, 56, 56, 64), 64, 3, 1, "same"),
    ((8, 56, 56, 64), 128, 1, 1, "valid"),
    ((16, 28, 28, 128), 128, 3, 1, "same"),
    ((4, 112, 112, 32), 32, 7, 1, "same"),
    ((64, 32, 32, 3), 32, 5, 1, "same"),
    ((32, 16, 16, 256), 256, 3, 2, "same"),
    ((2, 512, 512, 3), 8, 3, 1, "same"),
    ((64, 32, 32, 3), 16, 3, 1, "same"),   # the residual CNN's stem
    ((64, 32, 32, 16), 16, 3, 1, "same"),  # and its 16 -> 16 convolutions
]


def _layer(shape, filters, kernel_size, strides, padding, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype("float32")
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding)
    layer.build(x.shape)
    layer.set_weights([w + rng.standard_normal(w.shape).astype("float32") * 0.1 for w in layer.get_weights()])
    dy = rng.standard_normal(layer.compute_output_shape(x.shape)).astype("float32")
    return layer, x, dy


def _flops(layer, shape):
    """Useful floating-point operations of one forward pass: a multiply and an add for every
    kernel weight at every output position."""
    n, h_out, w_out, filters = layer.compute_output_shape(shape)
    kh, kw, channels, _ = layer.kernel.shape  # channels per group
    return 2 * n * h_out * w_out * kh * kw * channels * filters


def _counted_cases(name, layer, x, dy):
    """layer_cases with their operation counts: forward + backward is three such products
    (the output, dL/dkernel and dL/dx each multiply the same pairs)."""
    forward, both = layer_cases(name, layer, x, dy, forward_goal=1.25, backward_goal=2.0)
    flops = _flops(layer, x.shape)
    return {**forward, "flops": flops}, {**both, "flops": 3 * flops}


def _layer_cases():
    layer, x, dy = _layer((32, 64, 64, 16), 32, 3, 1, "same")
    return list(_counted_cases("conv Conv2D (32,64,64,16)->32 3x3", layer, x, dy))


def _sweep_cases():
    for shape, filters, k, s, padding in SWEEP:
        layer, x, dy = _layer(shape, filters, k, s, padding)
        name = f"conv sweep {','.join(map(str, shape))}>{filters} k{k} s{s} {padding}"
        forward, both = _counted_cases(name, layer, x, dy)
        yield {**forward, "group": "conv sweep forward", "median_goal": 1.0}
        yield {**both, "group": "conv sweep fwd+bwd", "median_goal": 2.0}


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
    yield from _layer_cases()
    yield from _sweep_cases()
