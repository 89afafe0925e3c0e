"""Every activation, forward, on a 1M-element float32 array; plus the activation explorer's update
(one control change -> f and f' recomputed and redrawn, headless, <= 30 ms)."""
import numpy as np

from twins import explorer_case

from kbook import activations
from kbook.check import import_tensorflow

KWARGS = {"threshold": {"threshold": 0.0, "default_value": 0.0}}


def cases():
    tf = import_tensorflow()
    x = np.random.default_rng(0).standard_normal((1000, 1000)).astype("float32")
    x_tf = tf.constant(x)
    result = []
    for name in sorted(activations.ALL_OBJECTS_DICT):
        ours, theirs = activations.get(name), tf.keras.activations.get(name)
        kwargs = KWARGS.get(name, {})
        result.append({
            "name": f"activation {name} (1M)",
            "kbook": lambda ours=ours, kwargs=kwargs: ours(x, **kwargs),
            "keras": lambda theirs=theirs, kwargs=kwargs: theirs(x_tf, **kwargs),
            "goal": 1.5,
        })
    return result


def explorer_cases():
    from kbook.widgets.activation import ActivationExplorer

    moves = [("activation", "gelu"), ("x_range", 8.0), ("activation", "tanh"), ("x_range", 3.0),
             ("activation", "exponential"), ("x_range", 10.0), ("activation", "softplus"), ("x_range", 1.5),
             ("activation", "linear"), ("x_range", 5.0), ("activation", "relu")]
    return [explorer_case("explorer ActivationExplorer update (ms)", ActivationExplorer(), moves,
                          key_control="x_range")]
