"""The Layer base class: what every kbook layer shares with ``keras.layers.Layer``.

A layer's life, as in Keras: the constructor validates and stores arguments;
the first ``__call__`` runs ``build(input_shape)``, which creates the weights;
every call then checks the input against ``input_spec`` and runs ``call``.
kbook adds the backward pass: ``call`` keeps what ``backward(dy)`` needs, and
``backward`` returns dL/dx and fills ``layer.grads`` (dL/dw, keyed by weight name).

Composition, as in Keras: a layer assigned as an attribute of another layer (also
inside a list, tuple or dict) is its *sublayer*.  ``weights``, ``get_weights()``,
``set_weights()``, ``count_params()`` and ``trainable`` cover the sublayers, in
Keras's order (the layer's own trainable weights, its own non-trainable weights,
then each sublayer's in assignment order).  A layer that does not write its own
``backward`` gets one derived from the calls it made (see :mod:`kbook.tape`), and
``training`` reaches the sublayers it calls.
"""
import inspect
import re

import numpy as np

from kbook import activations, initializers, tape

SUPPORTED_DTYPES = ("float32", "float64")
_name_counts = {}


def to_snake_case(name):
    """Keras's rule: ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix):
    """``dense``, then ``dense_1``, ``dense_2``, ... (one counter per prefix)."""
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def reset_names():
    """Restart automatic names, like ``keras.backend.clear_session()``."""
    _name_counts.clear()


def is_positive_int(value):
    """A count such as ``units`` or ``filters``: an int > 0 (bool is an int in Python, but not a count)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


class InputSpec:
    """What a layer accepts: an exact rank, a minimum rank, and fixed axis sizes."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim = ndim
        self.min_ndim = min_ndim
        self.axes = axes or {}


# Attributes that hold kbook's own bookkeeping, never sublayers.
_UNTRACKED = frozenset({"_cache", "_tape", "_inbound_nodes", "_operations", "_nodes_by_depth",
                        "_inputs_struct", "_outputs_struct", "inputs", "outputs", "_input_layer"})
_training_context = []  # the ``training`` value of each enclosing layer call
_accepts_training = {}  # class -> does its ``call`` take ``training``?


def _call_accepts_training(cls):
    if cls not in _accepts_training:
        params = inspect.signature(cls.call).parameters
        _accepts_training[cls] = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    return _accepts_training[cls]


def is_structure(value):
    """A list, tuple or dict of arrays (several inputs), as opposed to one array-like."""
    if isinstance(value, dict):
        return True
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(v, (np.ndarray, list, tuple, dict)) or tape.is_symbolic(v) for v in value)
            and any(isinstance(v, np.ndarray) or tape.is_symbolic(v) for v in value))


def flatten(structure):
    """The arrays of a structure, in order (dicts by insertion order)."""
    if isinstance(structure, dict):
        return [leaf for v in structure.values() for leaf in flatten(v)]
    if isinstance(structure, (list, tuple)):
        return [leaf for v in structure for leaf in flatten(v)]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


class Layer:
    """Base class of every kbook layer.

    Args:
        name: the layer's name; by default the snake-cased class name made
            unique (``dense``, ``dense_1``, ...).
        dtype: ``"float32"`` (default) or ``"float64"``; weights are stored and
            inputs are cast to it.
        trainable: ``False`` freezes the layer and every sublayer: their weights
            move from ``trainable_weights`` to ``non_trainable_weights``.

    Example:
        >>> layer = Dense(3)
        >>> y = layer(np.ones((2, 4)))      # builds: kernel (4, 3), bias (3,)
        >>> dx = layer.backward(np.ones_like(y))
        >>> sorted(layer.grads)
        ['bias', 'kernel']

    Subclassing, as in the Keras guide: create sublayers in ``__init__``, call them
    in ``call``; weights, building and ``backward`` come for free.

        >>> class Block(Layer):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.dense = Dense(4)
        ...         self.act = Activation("relu")
        ...     def call(self, x):
        ...         return self.act(self.dense(x))
        >>> block = Block()
        >>> y = block(np.ones((2, 3)))
        >>> [w.shape for w in block.get_weights()]
        [(3, 4), (4,)]
        >>> block.backward(np.ones_like(y)).shape
        (2, 3)
    """

    def __init__(self, name=None, dtype="float32", trainable=True, **kwargs):
        if kwargs:  # Keras's error for a misspelt argument (``unit=3``, ``poolsize=2``)
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        self.name = unique_name(to_snake_case(type(self).__name__)) if name is None else name
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Layer {type(self).__name__}: `name` must be a non-empty string, got {name!r}.")
        if dtype is None:
            dtype = "float32"
        dtype = np.dtype(dtype).name if isinstance(dtype, (type, np.dtype)) else dtype
        if dtype not in SUPPORTED_DTYPES:
            raise ValueError(
                f"Layer '{self.name}': `dtype` must be one of {SUPPORTED_DTYPES}, got {dtype!r}."
            )
        self.dtype = dtype
        self._weights = {}
        self._non_trainable_names = set()
        self.trainable = trainable
        self.built = False
        self.input_spec = None
        self.grads = {}
        self._cache = None
        self._tape = None
        self._output_shape = None
        self._inbound_nodes = []
        self._build_shape = None

    # --- weights -----------------------------------------------------------------

    def add_weight(self, name, shape, initializer="zeros", trainable=True):
        """Create a weight; ``trainable=False`` for state such as BatchNormalization's moving mean."""
        init = initializers.get(initializer, self.name, f"{name}_initializer")
        value = np.asarray(init(tuple(shape)), dtype=self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(
                f"Layer '{self.name}': initializer for `{name}` returned shape {value.shape}, "
                f"expected {tuple(shape)}."
            )
        self._weights[name] = value
        if not trainable:
            self._non_trainable_names.add(name)
        return value

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        # As in Keras: freezing a layer freezes everything inside it.
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self):
        """Layers assigned as attributes (also in lists, tuples, dicts), in assignment order."""
        found = []

        def visit(value):
            if isinstance(value, Layer):
                if value is not self and not any(value is seen for seen in found):
                    found.append(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    visit(item)
            elif isinstance(value, dict):
                for item in value.values():
                    visit(item)

        for key, value in vars(self).items():
            if key not in _UNTRACKED:
                visit(value)
        return found

    @property
    def weight_names(self):
        """This layer's own weights, in Keras's order: trainable ones first."""
        names = list(self._weights)
        return ([n for n in names if n not in self._non_trainable_names]
                + [n for n in names if n in self._non_trainable_names])

    def _weight_entries(self):
        """(owner layer, weight name, array) for every weight, own then sublayers', each once."""
        entries = [(self, name, self._weights[name]) for name in self.weight_names]
        seen = {id(array) for _, _, array in entries}
        for layer in self._sublayers():
            for entry in layer._weight_entries():
                if id(entry[2]) not in seen:
                    seen.add(id(entry[2]))
                    entries.append(entry)
        return entries

    @staticmethod
    def _entry_is_trainable(entry):
        owner, name, _ = entry
        return owner.trainable and name not in owner._non_trainable_names

    @property
    def weights(self):
        return [array for _, _, array in self._weight_entries()]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [e[2] for e in self._weight_entries() if self._entry_is_trainable(e)]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [e[2] for e in self._weight_entries() if not self._entry_is_trainable(e)]

    def get_weights(self):
        """Copies of every weight, in Keras's order (for Dense: kernel, bias)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Replace every weight at once; counts and shapes must match, as in Keras."""
        weights = list(weights)
        entries = self._weight_entries()
        if len(weights) != len(entries):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting {len(entries)} weights."
            )
        checked = []
        for (owner, name, old), value in zip(entries, weights):
            value = self._as_numeric(value, f"set_weights (`{name}`)")
            if value.shape != old.shape:
                raise ValueError(
                    f"Layer {owner.name} weight shape {old.shape} is not compatible with "
                    f"provided weight shape {value.shape}."
                )
            checked.append(value)
        # Copy into the existing arrays (all checked first, so a bad list changes nothing):
        # attributes such as ``self.kernel`` keep pointing at the live weights.
        for (_, _, old), value in zip(entries, checked):
            old[...] = value

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer "
                "isn't built. You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(w.size for w in self.weights))

    # --- the Keras life cycle ---------------------------------------------------

    def build(self, input_shape):
        self.built = True

    def call(self, x, training=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call().")

    def backward(self, dy):
        """dL/dx from dL/dy, derived from the sublayer calls the last forward pass made.

        A layer that computes with its own weights writes this by hand (Dense, Conv2D, ...);
        a layer made of other layers inherits this one.  Several outputs: ``dy`` is a list,
        one per output; several inputs: a list of dx is returned.
        """
        if self._tape is None:
            if not _defines(type(self), "call"):
                raise NotImplementedError(f"{type(self).__name__} must implement call() and backward().")
            raise RuntimeError(
                f"Layer '{self.name}': call the layer on an input before `backward(dy)`; "
                "backward uses what the forward pass kept."
            )
        return self._tape.backward(dy)

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape``; every kbook layer with its own ``call`` math writes one.

        A layer made of layers has none (as in Keras): calling it on an ``Input`` finds its
        output shape by running its ``call`` on symbolic tensors.
        """
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) does not implement `compute_output_shape`; "
            "call it on an `Input` (or on data) to see its output shape."
        )

    def get_config(self):
        """Constructor arguments, by Keras's names (kbook.check builds the twin from them)."""
        return {"name": self.name, "dtype": self.dtype, "trainable": self.trainable}

    def __call__(self, inputs, training=None, **kwargs):
        if tape.contains_symbolic(inputs):
            # Functional API: build from the shape and return a symbolic tensor.
            from kbook.layers.input_layer import call_symbolic

            return call_symbolic(self, inputs, training, kwargs)
        x = self._convert_inputs(inputs)
        shapes = map_structure(lambda a: a.shape, x)
        if not self.built:
            self._check_input_spec(shapes)
            self.build(shapes)
            self.built = True
            self._build_shape = shapes
        self._check_input_spec(shapes)
        if training is None and _training_context:
            training = _training_context[-1]  # as in Keras, an outer call's flag reaches inner calls
        if _call_accepts_training(type(self)):
            kwargs["training"] = training
        parent = tape.current()
        _training_context.append(training)
        try:
            if _defines(type(self), "backward"):
                y = self.call(x, **kwargs)
            else:
                with tape.recording(self, x) as own:
                    y = self.call(x, **kwargs)
                    own.finish(y)
                self._tape = own
        finally:
            _training_context.pop()
        self._output_shape = y.shape if isinstance(y, np.ndarray) else None
        if parent is not None:
            y = parent.record(self, inputs, y)
        return y

    def _convert_inputs(self, inputs):
        """Arrays in this layer's dtype: one array, or a list/tuple/dict of them."""
        if is_structure(inputs):
            return map_structure(lambda v: self._as_numeric(v, "inputs").astype(self.dtype, copy=False),
                                 inputs)
        return self._as_numeric(inputs, "inputs").astype(self.dtype, copy=False)

    # --- helpers for subclasses ----------------------------------------------------

    def _get_activation(self, identifier):
        """activations.get, with an error that names this layer and the argument."""
        try:
            return activations.get(identifier)
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}': invalid `activation`={identifier!r}. {e}") from None

    def _check_dy(self, dy):
        """Validate the upstream gradient against the last forward call."""
        if self._cache is None:
            raise RuntimeError(
                f"Layer '{self.name}': call the layer on an input before `backward(dy)`; "
                "backward uses what the forward pass kept."
            )
        dy = self._as_numeric(dy, "dy").astype(self.dtype, copy=False)
        if dy.shape != self._output_shape:
            raise ValueError(
                f"Layer '{self.name}': `dy` must have the shape of the last output "
                f"{self._output_shape}, got {dy.shape}."
            )
        return dy

    def _as_numeric(self, value, argument):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Layer '{self.name}': `{argument}` is not array-like ({e}).") from None
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Layer '{self.name}': `{argument}` must be numeric (bool, int or float), "
                f"got dtype {array.dtype} ({type(value).__name__})."
            )
        return array

    def _check_input_spec(self, shape):
        spec = self.input_spec
        if spec is None:
            return
        if isinstance(shape, (list, dict)) or (isinstance(shape, tuple) and shape
                                               and isinstance(shape[0], tuple)):
            count = len(shape)
            raise ValueError(f"Layer '{self.name}' expects 1 input(s), but it received {count} "
                             "input tensors.")
        ndim = len(shape)
        prefix = f"Input 0 of layer '{self.name}' is incompatible with the layer: "
        if spec.ndim is not None and ndim != spec.ndim:
            raise ValueError(prefix + f"expected ndim={spec.ndim}, found ndim={ndim}. "
                             f"Full shape received: {tuple(shape)}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(prefix + f"expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                             f"Full shape received: {tuple(shape)}")
        for axis, size in spec.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(prefix + f"expected axis {axis} of input shape to have value "
                                 f"{size}, but received input with shape {tuple(shape)}")

    def __repr__(self):
        state = "built" if self.built else "not built"
        return f"<{type(self).__name__} name={self.name!r}, {state}>"


def _defines(cls, method):
    """Does ``cls`` (or a parent below Layer) write its own ``method``?"""
    return getattr(cls, method) is not getattr(Layer, method)
