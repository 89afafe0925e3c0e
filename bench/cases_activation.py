"""Every activation, forward, on a 1M-element float32 array."""
import numpy as np

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
