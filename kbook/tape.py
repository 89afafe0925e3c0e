"""Backward for free: record the layer calls of a forward pass, replay them in reverse.

A layer built from other layers (the notes' ``ConvLayer``, a ``Model``) does not need a
hand-written ``backward``.  While its ``call`` runs, every kbook layer it calls is written
on a *tape*: which layer, which arrays went in, which came out, and what the layer kept
for its own backward.  ``backward(dy)`` then walks the tape from the last call to the
first, the chain rule one layer at a time:

* each recorded call gets the gradient of its outputs and returns the gradient of its
  inputs (``layer.backward``);
* an array used twice (fan-out, a skip connection, a layer shared by two branches)
  collects the *sum* of the gradients that reach it;
* a layer called twice gets the sum of its weight gradients over both calls.

Arrays are recognised by identity (``id``): the tape keeps a reference to each one, so
an identity is never reused while the tape lives.  Arithmetic that kbook cannot see (a
NumPy expression on an intermediate value inside ``call``) produces an array that no
recorded call made; ``backward`` then stops with an error that names the layer instead
of returning a wrong gradient.  (Changing an array *in place* keeps its identity, so it
cannot be detected: don't.)  This is reverse-mode automatic differentiation at the
granularity of layers, the idea behind ``tf.GradientTape``.
"""
import numpy as np

_active = []  # tapes being recorded, innermost last


class UntraceableError(RuntimeError):
    """``backward`` met an array that no recorded layer call produced."""


def is_symbolic(value):
    return getattr(value, "_kbook_symbolic", False)


def contains_symbolic(value):
    if isinstance(value, np.ndarray):
        return False
    if is_symbolic(value):
        return True
    if isinstance(value, dict):
        return any(contains_symbolic(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_symbolic(v) for v in value)
    return False


def _flatten(structure):
    if isinstance(structure, dict):
        return [leaf for v in structure.values() for leaf in _flatten(v)]
    if isinstance(structure, (list, tuple)):
        return [leaf for v in structure for leaf in _flatten(v)]
    return [structure]


def current():
    """The tape of the innermost layer call being recorded, or None."""
    return _active[-1] if _active else None


class recording:
    """``with recording(layer, inputs) as tape:`` records the calls made inside."""

    def __init__(self, owner, inputs):
        self.tape = Tape(owner, inputs)

    def __enter__(self):
        _active.append(self.tape)
        return self.tape

    def __exit__(self, *exc):
        _active.pop()
        return False


class Call:
    """One recorded layer call: the layer, its inputs and outputs, and its saved state."""

    def __init__(self, layer, inputs, outputs, several_inputs, several_outputs, unknown):
        self.layer = layer
        self.inputs = inputs
        self.outputs = outputs
        self.several_inputs = several_inputs
        self.several_outputs = several_outputs
        self.unknown = unknown  # positions of inputs that no recorded call produced
        # What the layer's own backward needs from *this* call (a later call overwrites it).
        self.state = (layer._cache, layer._tape, layer._output_shape)

    def restore(self):
        self.layer._cache, self.layer._tape, self.layer._output_shape = self.state


class Tape:
    """The calls made inside one call of ``owner``, and how to run them backwards."""

    def __init__(self, owner, inputs):
        self.owner = owner
        self.inputs = inputs
        self.flat_inputs = _flatten(inputs)
        self.known = {id(a): a for a in self.flat_inputs}
        self.calls = []
        self.outputs = None
        self.unknown_outputs = []
        self.touched = []

    def record(self, layer, inputs, outputs):
        """Write down one call; returns the outputs (given their own identity if needed)."""
        flat_in = _flatten(inputs)
        flat_out = _flatten(outputs)
        if any(id(o) in self.known or any(o is a for a in flat_in) for o in flat_out):
            # A layer that hands back an array it was given (an identity) would make two
            # values share one identity; a view gives the output its own.
            outputs = _give_own_identity(outputs, self.known, flat_in)
            flat_out = _flatten(outputs)
        unknown = [k for k, a in enumerate(flat_in) if id(a) not in self.known]
        several_in = isinstance(inputs, (list, tuple, dict))
        several_out = isinstance(outputs, (list, tuple, dict))
        self.calls.append(Call(layer, flat_in, flat_out, several_in, several_out, unknown))
        for o in flat_out:
            self.known[id(o)] = o
        return outputs

    def finish(self, outputs):
        self.outputs = outputs
        self.unknown_outputs = [k for k, o in enumerate(_flatten(outputs)) if id(o) not in self.known]

    # --- backward -----------------------------------------------------------------------

    def _seed(self, dy):
        """The gradient of each output, checked against the outputs' shapes."""
        owner = self.owner
        flat_out = _flatten(self.outputs)
        if len(flat_out) == 1 and not isinstance(dy, (list, tuple)):
            dys = [dy]
        elif isinstance(dy, (list, tuple)) and len(dy) == len(flat_out):
            dys = list(dy)
        else:
            raise ValueError(
                f"Layer '{owner.name}': `dy` must be a list of {len(flat_out)} arrays, one per "
                f"output in `outputs` order; got {type(dy).__name__}"
                + (f" of length {len(dy)}." if isinstance(dy, (list, tuple)) else ".")
            )
        if self.unknown_outputs:
            raise UntraceableError(
                f"Layer '{owner.name}': cannot derive `backward` automatically: output "
                f"{self.unknown_outputs[0]} of {type(owner).__name__}.call was not made by a kbook "
                "layer (NumPy arithmetic on an intermediate value?). " + _ADVICE.format(type(owner).__name__)
            )
        grads = {}
        for out, d in zip(flat_out, dys):
            if d is None:
                continue
            d = owner._as_numeric(d, "dy")
            if d.shape != out.shape:
                raise ValueError(
                    f"Layer '{owner.name}': `dy` must have the shape of the last output "
                    f"{out.shape}, got {d.shape}."
                )
            _accumulate(grads, out, d)
        return grads

    def backward(self, dy):
        grads = self._seed(dy)
        sums = {}
        for call in reversed(self.calls):
            douts = [grads.pop(id(o), None) for o in call.outputs]
            if all(d is None for d in douts):
                continue  # this call does not reach the outputs
            if call.unknown:
                raise UntraceableError(self._untraceable_message(call))
            douts = [np.zeros_like(o) if d is None else d for o, d in zip(call.outputs, douts)]
            call.restore()
            layer = call.layer
            dx = layer.backward(douts if call.several_outputs else douts[0])
            if not layer.trainable:
                layer.grads = {}  # frozen: its weights get no gradient, as in Keras
            _sum_grads(sums, layer, layer.grads)
            if layer._tape is not None:  # a layer made of layers: its sublayers' sums too
                for sublayer, sub_grads in layer._tape.touched:
                    _sum_grads(sums, sublayer, sub_grads)
            for array, d in zip(call.inputs, _flatten(dx) if call.several_inputs else [dx]):
                _accumulate(grads, array, d)
        self.touched = list(sums.values())
        for layer, layer_grads in self.touched:
            layer.grads = layer_grads
        for call in self.calls:  # leave every layer as its last forward call left it
            call.restore()
        dxs = [grads.get(id(a), np.zeros_like(a)) for a in self.flat_inputs]
        return dxs if isinstance(self.inputs, (list, tuple, dict)) else dxs[0]

    def _untraceable_message(self, call):
        owner = self.owner
        return (
            f"Layer '{owner.name}': cannot derive `backward` automatically: input {call.unknown[0]} "
            f"of '{call.layer.name}' was not made by a kbook layer inside '{owner.name}', nor given "
            f"to it (NumPy arithmetic on an intermediate value, or a new array?), so kbook cannot "
            "see how it depends on the input. " + _ADVICE.format(type(owner).__name__)
        )


_ADVICE = ("Do that step with a layer (kbook.layers.Add, Subtract, Multiply, Average, Concatenate, "
           "Activation, ...), or write `backward(self, dy)` by hand in {0}.")


def _give_own_identity(outputs, known, flat_in):
    def fresh(o):
        if isinstance(o, np.ndarray) and (id(o) in known or any(o is a for a in flat_in)):
            return o.view()
        return o

    if isinstance(outputs, dict):
        return {k: fresh(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(fresh(v) for v in outputs)
    return fresh(outputs)


def _accumulate(grads, array, d):
    """grads[array] += d, never in place (d may be another call's array)."""
    d = np.asarray(d)
    if isinstance(array, np.ndarray) and d.dtype != array.dtype:
        d = d.astype(array.dtype)
    key = id(array)
    grads[key] = d if key not in grads else grads[key] + d


def _sum_grads(sums, layer, layer_grads):
    key = id(layer)
    if key not in sums:
        sums[key] = (layer, dict(layer_grads))
        return
    total = sums[key][1]
    for name, g in layer_grads.items():
        total[name] = g if name not in total else total[name] + g
