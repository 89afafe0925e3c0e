"""``Dense``: y = activation(x @ kernel + bias) on the last axis (``keras.layers.Dense``)."""

from kbook import activations
from kbook.ops.blas import column_sums, matmul
from kbook.layers.base import InputSpec, is_positive_int, Layer


class Dense(Layer):
    """A fully connected layer that acts on the last axis of any input of rank >= 2.

    Args:
        units: positive int, the number of neurons (the size of the output's last axis).
        activation: activation name, callable or ``None`` (identity).
        use_bias: whether to add a bias vector.
        kernel_initializer: name or callable, default ``"glorot_uniform"``.
        bias_initializer: name or callable, default ``"zeros"``.

    Shapes: x: (N, ..., in) -> y: (N, ..., units); kernel: (in, units); bias: (units,).

    Example:
        >>> dense = Dense(units=3, activation="sigmoid")
        >>> dense(np.zeros((8, 10))).shape
        (8, 3)
        >>> [w.shape for w in dense.get_weights()]
        [(10, 3), (3,)]
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not is_positive_int(units):
            raise ValueError(
                f"Layer '{self.name}': received an invalid value for `units`, "
                f"expected a positive integer. Received: units={units!r}"
            )
        self.units = int(units)
        self.activation_id = activation
        self.activation = self._get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight("kernel", (input_dim, self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, x, training=None):
        z = matmul(x, self.kernel)  # x @ kernel, on the BLAS the convolutions use (kbook/ops/blas.py)
        if self.use_bias:
            z += self.bias  # in place: z is our own fresh array
        self._cache = (x, z)
        return self.activation(z)

    def backward(self, dy):
        """dy: (N, ..., units) -> dx: (N, ..., in); fills grads["kernel"], grads["bias"]."""
        dy = self._check_dy(dy)
        x, z = self._cache
        dz = activations.gradient(self.activation, z, dy)
        x2 = x.reshape(-1, x.shape[-1])
        dz2 = dz.reshape(-1, self.units)
        self.grads = {"kernel": matmul(x2.T, dz2)}
        if self.use_bias:
            self.grads["bias"] = column_sums(dz2)
        return matmul(dz, self.kernel.T)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation_id,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }
