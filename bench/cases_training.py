"""Chapter 10: training the capstone CNN on scikit-learn's digits, float32, batch 32.

* one epoch of ``fit`` (1,437 digits, 45 steps, Adam, sparse crossentropy from logits, accuracy):
  kbook's NumPy loop against Keras's ``model.fit``, which runs a compiled ``tf.function``; goal 1.5.
* ``predict`` on the same 1,437 digits at batch 32; goal 1.5.
* the training explorer's update (one control change: the optimizer's path on the 2-D loss
  surface recomputed and redrawn); goal <= 30 ms.

Both models start from the same weights and see the same batches (``shuffle=False``); every
timed fit continues the training, as a reader's next epoch would.  The warm-up call of each
side pays for Keras's tracing and kbook's first allocations.
"""
from twins import explorer_case

from kbook.check import import_tensorflow, keras_model_twin


def digits_cnn(dtype="float32"):
    """The chapter's CNN: two Conv2D -> BatchNormalization -> ReLU -> MaxPooling2D blocks, Flatten, Dense(10)."""
    from kbook.layers import Activation, BatchNormalization, Conv2D, Dense, Flatten, Input, MaxPooling2D
    from kbook.models import Sequential

    layers = [Input((8, 8, 1), dtype=dtype)]
    for filters in (16, 32):
        layers += [Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype),
                   BatchNormalization(momentum=0.9, dtype=dtype), Activation("relu", dtype=dtype),
                   MaxPooling2D(dtype=dtype)]
    layers += [Flatten(dtype=dtype), Dense(10, dtype=dtype)]
    return Sequential(layers, name="digits_cnn", dtype=dtype)


def cases():
    import keras

    import kbook
    from kbook import losses, optimizers
    from kbook.widgets.training import digits_split

    import_tensorflow()
    (x, y), _ = digits_split()
    kbook.set_seed(0)
    model = digits_cnn()
    twin = keras_model_twin(model)
    twin.set_weights(model.get_weights())
    model.compile(optimizers.Adam(0.003), losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    twin.compile(keras.optimizers.Adam(0.003), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])

    def fit(m, **kwargs):
        return lambda: m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, **kwargs)

    return [
        {"name": "training digits CNN fit, 1 epoch (1437, batch 32)", "kbook": fit(model), "keras": fit(twin),
         "goal": 1.5},
        {"name": "training digits CNN predict (1437, batch 32)",
         "kbook": lambda: model.predict(x, batch_size=32, verbose=0),
         "keras": lambda: twin.predict(x, batch_size=32, verbose=0), "goal": 1.5},
    ]


def explorer_cases():
    from kbook.widgets.training import TrainingExplorer

    # Each move redraws the path on the 2-D surface; batch 8 with 10 epochs is the longest path (320 steps).
    moves = [("optimizer", "sgd"), ("learning_rate", 0.1), ("batch_size", 8), ("epochs", 10),
             ("optimizer", "momentum"), ("learning_rate", 1.0), ("batch_size", 256), ("optimizer", "adam"),
             ("epochs", 5), ("learning_rate", 0.01), ("batch_size", 32)]
    return [explorer_case("explorer TrainingExplorer update (ms)", TrainingExplorer(), moves,
                          key_control="epochs")]
