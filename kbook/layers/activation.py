"""``Activation``: applies an activation function as a layer (``keras.layers.Activation``)."""
from kbook import activations
from kbook.layers.base import Layer


class Activation(Layer):
    """Applies ``activation`` to its input; no weights.

    Args:
        activation: a name that ``keras.activations.get`` accepts (``"relu"``,
            ``"softmax"``, ...), ``None`` (identity) or a callable.

    Example:
        >>> Activation("relu")(np.array([[-1.0, 2.0]]))
        array([[0., 2.]], dtype=float32)

    x: any shape -> y: same shape (``glu`` halves the last axis).
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation_id = activation
        self.activation = self._get_activation(activation)

    def call(self, x, training=None):
        self._cache = x
        return self.activation(x)

    def backward(self, dy):
        dy = self._check_dy(dy)
        return activations.gradient(self.activation, self._cache, dy)

    def compute_output_shape(self, input_shape):
        if self.activation is activations.glu:
            return tuple(input_shape[:-1]) + (input_shape[-1] // 2,)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_id}
