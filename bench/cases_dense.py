"""Dense on (32, 64, 64, 32) -> 64 units, float32: forward, and forward + backward."""
import numpy as np

from twins import layer_cases

from kbook.layers import Dense


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 64, 32)).astype("float32")
    dy = rng.standard_normal((32, 64, 64, 64)).astype("float32")
    return layer_cases("Dense (32,64,64,32)->64", Dense(64), x, dy, forward_goal=1.5, backward_goal=1.5)
