"""Benchmark cases shared by the chapters: a layer against its tf.keras twin, an explorer's update."""
import itertools

from kbook.check import import_tensorflow, keras_twin


def layer_cases(name, layer, x, dy, forward_goal, backward_goal):
    """Two cases: forward, and forward + backward against forward + ``GradientTape``.

    The twin gets kbook's weights, so both sides do the same arithmetic; the tape
    asks for dL/dx and every weight gradient, as ``layer.backward`` computes them.
    """
    tf = import_tensorflow()
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
        {"name": f"{name} forward", "kbook": lambda: layer(x), "keras": lambda: twin(x_tf),
         "goal": forward_goal},
        {"name": f"{name} fwd+bwd vs GradientTape", "kbook": kbook_train_step,
         "keras": keras_train_step, "goal": backward_goal},
    ]


def explorer_case(name, explorer, moves, goal_ms=30):
    """One timed call = one control change (recompute, move the artists, render the PNG)."""
    cycle = itertools.cycle(moves)

    def move():
        control, value = next(cycle)
        getattr(explorer, control).value = value

    return {"name": name, "kbook": move, "keras": None, "goal": goal_ms}
