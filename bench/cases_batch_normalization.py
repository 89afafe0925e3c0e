"""BatchNormalization on (32, 64, 64, 32) float32: forward in training and in inference mode, and
forward + backward in training mode (the gradient through the batch mean and variance); and the
chapter's explorer (one control change: statistics, histograms and curves redrawn; goal <= 30 ms)."""
import numpy as np

from twins import explorer_case, train_steps

from kbook.check import import_tensorflow, keras_twin

from kbook.layers import BatchNormalization


def cases():
    tf = import_tensorflow()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 64, 32)).astype("float32")
    dy = rng.standard_normal(x.shape).astype("float32")
    layer = BatchNormalization()
    layer(x)
    twin = keras_twin(layer)
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())
    x_tf = tf.constant(x)
    kbook_train_step, keras_train_step = train_steps(layer, twin, x, dy, training=True)

    name = "BatchNormalization (32,64,64,32)"
    return [
        {"name": f"{name} forward training", "kbook": lambda: layer(x, training=True),
         "keras": lambda: twin(x_tf, training=True), "goal": 1.5},
        {"name": f"{name} forward inference", "kbook": lambda: layer(x, training=False),
         "keras": lambda: twin(x_tf, training=False), "goal": 1.5},
        {"name": f"{name} fwd+bwd vs GradientTape", "kbook": kbook_train_step,
         "keras": keras_train_step, "goal": 2.0},
    ]


def explorer_cases():
    from kbook.widgets.batch_normalization import BatchNormalizationExplorer

    # A step move reuses the moving-statistics curves; momentum and batch_size recompute them
    # (1000 steps); batch_size 64 is the largest batch to histogram.
    moves = [("step", 1000), ("training", False), ("batch_size", 64), ("momentum", 0.9), ("step", 10),
             ("epsilon", 1.0), ("batch_size", 1), ("training", True), ("step", 500), ("epsilon", 1e-3),
             ("momentum", 0.99), ("batch_size", 16)]
    return [explorer_case("explorer BatchNormalizationExplorer update (ms)", BatchNormalizationExplorer(), moves,
                          key_control="step")]
