"""Benchmark cases shared by the chapters: a layer against its tf.keras twin, an explorer's update."""
import itertools

import ipywidgets as widgets

from kbook.check import import_tensorflow, keras_twin


def train_steps(ours, twin, x, dy, training=None):
    """(kbook step, keras step): forward + backward of ``ours``, and of ``twin`` under ``GradientTape``
    asking for dL/dx and every trainable weight's gradient, as kbook's backward computes them."""
    tf = import_tensorflow()
    x_tf, dy_tf = tf.constant(x), tf.constant(dy)

    def kbook_step():
        ours(x, training=training)
        return ours.backward(dy)

    def keras_step():
        with tf.GradientTape() as tape:
            tape.watch(x_tf)
            y = twin(x_tf, training=training)
        return tape.gradient(y, [x_tf] + list(twin.trainable_weights), output_gradients=dy_tf)

    return kbook_step, keras_step


def layer_cases(name, layer, x, dy, forward_goal, backward_goal):
    """Two cases: forward, and forward + backward against forward + ``GradientTape``.

    The twin gets kbook's weights, so both sides do the same arithmetic.
    """
    tf = import_tensorflow()
    layer(x)
    twin = keras_twin(layer)
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())
    x_tf = tf.constant(x)
    kbook_step, keras_step = train_steps(layer, twin, x, dy)
    return [
        {"name": f"{name} forward", "kbook": lambda: layer(x), "keras": lambda: twin(x_tf),
         "goal": forward_goal},
        {"name": f"{name} fwd+bwd vs GradientTape", "kbook": kbook_step, "keras": keras_step,
         "goal": backward_goal},
    ]


def explorer_case(name, explorer, moves, goal_ms=30, key_control=None):
    """One timed call = one control change (recompute, move the artists, render the PNG).

    ``moves`` are ``(control, value)`` pairs applied in a cycle; each must change its
    control (a value equal to the current one re-renders nothing, and would time nothing).
    The median covers three full cycles, so every move weighs the same.  ``key_control``
    names the slider, dropdown or checkbox that ``python3 dev.py browser-bench`` presses
    keys on (default: the first slider among ``explorer.controls()``).
    """
    cycle = itertools.cycle(moves)

    def move():
        control, value = next(cycle)
        getattr(explorer, control).value = value

    return {"name": name, "kbook": move, "keras": None, "goal": goal_ms, "repeat": 3 * len(moves),
            "explorer": explorer, "moves": list(moves), "key_control": key_control}


def key_control(case):
    """(attribute name, keys to alternate) of the control ``python3 dev.py browser-bench`` presses
    keys on: the case's ``key_control``, else the explorer's first slider or checkbox.  Not a
    dropdown: arrow keys on a focused <select> change nothing in headless Chromium (measured:
    the press never produced a picture), so a case names a slider instead."""
    explorer = case["explorer"]
    if case.get("key_control"):
        control = getattr(explorer, case["key_control"])
    else:
        kinds = ((widgets.IntSlider, widgets.FloatSlider), widgets.Checkbox)
        control = next((c for kind in kinds for c in explorer.controls() if isinstance(c, kind)), None)
    if control is None:
        raise ValueError(f"{case['name']}: no slider or checkbox to press keys on")
    name = next(attr for attr, value in vars(explorer).items() if value is control)
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
        keys = ("ArrowRight", "ArrowLeft") if control.value < control.max else ("ArrowLeft", "ArrowRight")
    elif isinstance(control, widgets.Checkbox):
        keys = (" ", " ")
    else:
        raise ValueError(f"{case['name']}: cannot press keys on a {type(control).__name__}")
    return name, keys
