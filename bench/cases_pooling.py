"""Pooling on (32, 64, 64, 32) float32: each layer forward, and forward + backward against
forward + ``GradientTape`` gradient; plus the pooling explorer's update.

Goals: forward <= 1.5 x tf.keras (2 x for the general 3x3 / stride 2 / "same" case),
forward + backward <= 2 x, explorer update <= 30 ms.
"""
import numpy as np

from twins import explorer_case, layer_cases

from kbook.layers import (AveragePooling2D, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
                          MaxPooling2D)

SHAPE = (32, 64, 64, 32)


def explorer_cases():
    from kbook.widgets.pooling import PoolingExplorer

    # one control change = one update(), as when a reader moves a slider
    moves = [("pool_size", 3), ("mode", "average"), ("padding", "same"), ("strides", 1),
             ("feature", "edges + relu"), ("pool_size", 2), ("mode", "max"), ("padding", "valid"),
             ("strides", 2), ("feature", "photo")]
    return [explorer_case("explorer PoolingExplorer update (ms)", PoolingExplorer(), moves)]


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype("float32")
    result = []
    for label, layer, *goal in [
        ("MaxPooling2D(2)", MaxPooling2D(2)),
        ("AveragePooling2D(2)", AveragePooling2D(2)),
        # the general case (overlapping windows, border windows with padding): a looser forward goal
        ("MaxPooling2D(3,2,same)", MaxPooling2D(3, strides=2, padding="same"), 2.0),
        ("AveragePooling2D(3,2,same)", AveragePooling2D(3, strides=2, padding="same"), 2.0),
        ("GlobalAveragePooling2D", GlobalAveragePooling2D()),
        ("GlobalMaxPooling2D", GlobalMaxPooling2D()),
        ("Flatten", Flatten()),
    ]:
        dy = rng.standard_normal(layer.compute_output_shape(SHAPE)).astype("float32")
        result += layer_cases(f"pool {label}", layer, x, dy, forward_goal=(goal or [1.5])[0], backward_goal=2.0)
    return result
