"""``Model``: a layer made of layers, plus what a whole network needs (``keras.Model``).

Two ways to make one, as in Keras:

* **subclassing** — ``class TestModel(Model)`` creates layers in ``__init__`` and calls
  them in ``call``;
* **Functional** — ``Model(inputs=..., outputs=...)`` on symbolic tensors from ``Input``
  (``Model(...)`` then returns a :class:`~kbook.models.functional.Functional`).

What a Model adds to a Layer: ``layers`` and ``get_layer``, ``summary()``, and (in the
training chapter) ``compile`` / ``fit`` / ``evaluate`` / ``predict``.  Weights, building on
the first call, ``training`` and the automatic ``backward`` are the Layer's.
"""
from kbook.layers.base import Layer
from kbook.models.trainer import Trainer


class Model(Trainer, Layer):
    """A network: layers in ``__init__`` and ``call`` (subclassing), or a graph (Functional).

    Example (the notes' TestModel, corrected):
        >>> class TestModel(Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.flatten = Flatten()
        ...         self.dense1 = Dense(units=10, activation="sigmoid")
        ...         self.dense2 = Dense(units=20, activation="sigmoid")
        ...     def call(self, x):
        ...         x = self.flatten(x)
        ...         x = self.dense1(x)
        ...         return self.dense2(x)
        >>> model = TestModel()
        >>> model(np.zeros((2, 28, 28))).shape
        (2, 20)
        >>> [layer.name for layer in model.layers]
        ['flatten', 'dense', 'dense_1']
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from kbook.models.functional import Functional

            return Layer.__new__(Functional)
        return Layer.__new__(cls)

    @property
    def layers(self):
        """The model's layers, in the order Keras lists them."""
        return self._sublayers()

    def get_layer(self, name=None, index=None):
        """A layer by name or by its index in ``layers``, as ``keras.Model.get_layer``."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self.layers)} layers.")
            return self.layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        candidates = self._layers_for_lookup()
        for layer in candidates:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in candidates]}.")

    def _layers_for_lookup(self):
        return self.layers

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the table Keras 3 prints: layers, output shapes, parameter counts, totals."""
        from kbook.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)
