"""kbook's layers, named and shaped like ``keras.layers``."""
from kbook.layers.activation import Activation
from kbook.layers.base import InputSpec, Layer, reset_names
from kbook.layers.dense import Dense

__all__ = ["Activation", "Dense", "InputSpec", "Layer", "reset_names"]
