"""``Sequential``: a plain stack of layers, each feeding the next (``keras.Sequential``)."""
from kbook import tape
from kbook.layers.base import Layer, unique_name
from kbook.layers.input_layer import InputLayer
from kbook.models.model import Model


class Sequential(Model):
    """Layers called one after the other.

    Args:
        layers: a list of layers; may start with ``Input(shape)`` (then the model is
            built at once and every layer's shape is checked as it is added).
        name: the model's name (``sequential``, ``sequential_1``, ...).

    Example:
        >>> model = Sequential([Input(shape=(28, 28)), Flatten(), Dense(10, activation="sigmoid")])
        >>> model.add(Dense(20, activation="sigmoid"))
        >>> model(np.zeros((2, 28, 28))).shape
        (2, 20)
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(name=name or unique_name("sequential"), trainable=trainable, **kwargs)
        self._layers_list = []
        self._input_layer = None
        self._output_tensor = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(getattr(self, "_layers_list", []))

    def _sublayers(self):
        return self.layers

    def _layers_for_lookup(self):
        return self.layers

    def add(self, layer):
        """Append a layer; with an Input first, its shape is checked now (nothing changes if not)."""
        if tape.is_symbolic(layer) and layer._keras_history and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `kbook.layers.Layer` can be added to a Sequential model. "
                             f"Received: {layer!r} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._layers_list or self._input_layer is not None:
                raise ValueError(f"Sequential model '{self.name}': an Input can only come first.")
            self._input_layer = layer
            self._output_tensor = layer.output
            self.built = True
            self._build_shape = layer.batch_shape
            return
        for existing in self._layers_list:
            if existing.name == layer.name:
                raise ValueError(
                    "All layers added to a Sequential model should have unique names. Name "
                    f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                    "argument to pass a unique name."
                )
        if self._output_tensor is not None:
            self._output_tensor = layer(self._output_tensor)  # raises here if the shape is wrong
        self._layers_list.append(layer)

    def build(self, input_shape):
        """Built on the first call: an Input of that shape, then each layer on it."""
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=tuple(input_shape), dtype=self.dtype)
            x = self._input_layer.output
            for layer in self._layers_list:
                x = layer(x)
            self._output_tensor = x
        self.built = True

    def _convert_inputs(self, inputs):
        """As Keras: data is cast to the Input's dtype when the model starts with one,
        else to the model's own dtype (float32 unless given)."""
        if self._input_layer is not None and not tape.is_symbolic(inputs):
            return self._as_numeric(inputs, "inputs").astype(self._input_layer.dtype, copy=False)
        return super()._convert_inputs(inputs)

    def _check_input_spec(self, shape):
        if self._input_layer is not None:
            expected = self._input_layer.batch_shape
            if len(shape) != len(expected) or any(
                    e is not None and s is not None and e != s for s, e in zip(shape[1:], expected[1:])):
                raise ValueError(
                    f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                    f"shape={(None,) + tuple(expected[1:])}, found shape={tuple(shape)}"
                )

    def call(self, x, training=None):
        for layer in self._layers_list:
            x = layer(x, training=training)
        return x

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "trainable": self.trainable}
