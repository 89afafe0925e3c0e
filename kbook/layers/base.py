"""The Layer base class: what every kbook layer shares with ``keras.layers.Layer``.

A layer's life, as in Keras: the constructor validates and stores arguments;
the first ``__call__`` runs ``build(input_shape)``, which creates the weights;
every call then checks the input against ``input_spec`` and runs ``call``.
kbook adds the backward pass: ``call`` keeps what ``backward(dy)`` needs, and
``backward`` returns dL/dx and fills ``layer.grads`` (dL/dw, keyed by weight name).
"""
import re

import numpy as np

from kbook import activations, initializers

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


class Layer:
    """Base class of every kbook layer.

    Args:
        name: the layer's name; by default the snake-cased class name made
            unique (``dense``, ``dense_1``, ...).
        dtype: ``"float32"`` (default) or ``"float64"``; weights are stored and
            inputs are cast to it.
        trainable: kept for Keras parity; kbook never trains by itself.

    Example:
        >>> layer = Dense(3)
        >>> y = layer(np.ones((2, 4)))      # builds: kernel (4, 3), bias (3,)
        >>> dx = layer.backward(np.ones_like(y))
        >>> sorted(layer.grads)
        ['bias', 'kernel']
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
        self.trainable = trainable
        self.built = False
        self.input_spec = None
        self.grads = {}
        self._weights = {}
        self._cache = None
        self._output_shape = None

    # --- weights -----------------------------------------------------------------

    def add_weight(self, name, shape, initializer="zeros"):
        init = initializers.get(initializer, self.name, f"{name}_initializer")
        value = np.asarray(init(tuple(shape)), dtype=self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(
                f"Layer '{self.name}': initializer for `{name}` returned shape {value.shape}, "
                f"expected {tuple(shape)}."
            )
        self._weights[name] = value
        return value

    @property
    def weights(self):
        return list(self._weights.values())

    @property
    def weight_names(self):
        return list(self._weights)

    def get_weights(self):
        """Copies of the weights, in Keras's order (creation order: kernel, bias)."""
        return [w.copy() for w in self._weights.values()]

    def set_weights(self, weights):
        """Replace every weight at once; counts and shapes must match, as in Keras."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting {len(self._weights)} weights."
            )
        checked = []
        for (name, old), value in zip(self._weights.items(), weights):
            value = self._as_numeric(value, f"set_weights (`{name}`)")
            if value.shape != old.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {old.shape} is not compatible with "
                    f"provided weight shape {value.shape}."
                )
            checked.append(value)
        # Copy into the existing arrays (all checked first, so a bad list changes nothing):
        # attributes such as ``self.kernel`` keep pointing at the live weights.
        for old, value in zip(self._weights.values(), checked):
            old[...] = value

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer "
                "isn't built. You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(w.size for w in self._weights.values()))

    # --- the Keras life cycle ---------------------------------------------------

    def build(self, input_shape):
        self.built = True

    def call(self, x, training=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call().")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} must implement backward().")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        """Constructor arguments, by Keras's names (kbook.check builds the twin from them)."""
        return {"name": self.name, "dtype": self.dtype, "trainable": self.trainable}

    def __call__(self, inputs, training=None):
        x = self._as_numeric(inputs, "inputs").astype(self.dtype, copy=False)
        if not self.built:
            self._check_input_spec(x.shape)
            self.build(x.shape)
            self.built = True
        self._check_input_spec(x.shape)
        y = self.call(x, training=training)
        self._output_shape = y.shape
        return y

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
        ndim = len(shape)
        prefix = f"Input 0 of layer '{self.name}' is incompatible with the layer: "
        if spec.ndim is not None and ndim != spec.ndim:
            raise ValueError(prefix + f"expected ndim={spec.ndim}, found ndim={ndim}. "
                             f"Full shape received: {tuple(shape)}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(prefix + f"expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                             f"Full shape received: {tuple(shape)}")
        for axis, size in spec.axes.items():
            if shape[axis] != size:
                raise ValueError(prefix + f"expected axis {axis} of input shape to have value "
                                 f"{size}, but received input with shape {tuple(shape)}")

    def __repr__(self):
        state = "built" if self.built else "not built"
        return f"<{type(self).__name__} name={self.name!r}, {state}>"
