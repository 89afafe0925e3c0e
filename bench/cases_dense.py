"""Dense on (32, 64, 64, 32) -> 64 units, float32: forward, and forward + backward; plus the
Dense explorer's update (one control change -> new figure rendered, headless, <= 30 ms)."""
import numpy as np

from twins import explorer_case, layer_cases

from kbook.layers import Dense


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 64, 32)).astype("float32")
    dy = rng.standard_normal((32, 64, 64, 64)).astype("float32")
    return layer_cases("Dense (32,64,64,32)->64", Dense(64), x, dy, forward_goal=1.5, backward_goal=1.5)


def explorer_cases():
    from kbook.widgets.dense import DenseExplorer

    # every control, sizes up to the sliders' maximum (the largest heat maps)
    moves = [("units", 8), ("input_dim", 16), ("batch_size", 10), ("activation", "tanh"), ("use_bias", False),
             ("units", 16), ("input_dim", 10), ("batch_size", 4), ("activation", "sigmoid"), ("use_bias", True),
             ("units", 3)]
    return [explorer_case("explorer DenseExplorer update (ms)", DenseExplorer(), moves, key_control="units")]
