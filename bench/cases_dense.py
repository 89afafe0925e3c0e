"""Dense on (32, 64, 64, 32) -> 64 units, float32: forward, and forward + backward."""
import numpy as np

from kbook.check import import_tensorflow, keras_twin
from kbook.layers import Dense


def cases():
    tf = import_tensorflow()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 64, 32)).astype("float32")
    dy = rng.standard_normal((32, 64, 64, 64)).astype("float32")
    layer = Dense(64)
    layer(x)
    twin = keras_twin(layer)
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())
    x_tf, dy_tf = tf.constant(x), tf.constant(dy)

    def kbook_train_step():
        layer(x)
        return layer.backward(dy)

    def keras_train_step():
        with tf.GradientTape() as tape:
            tape.watch(x_tf)
            y = twin(x_tf)
        return tape.gradient(y, [x_tf] + list(twin.weights), output_gradients=dy_tf)

    return [
        {"name": "Dense forward (32,64,64,32)->64", "kbook": lambda: layer(x),
         "keras": lambda: twin(x_tf), "goal": 1.5},
        {"name": "Dense forward+backward vs GradientTape", "kbook": kbook_train_step,
         "keras": keras_train_step, "goal": 1.5},
    ]
