"""Merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Concatenate`` (``keras.layers``).

They take a *list* of tensors, which is how branches of a Functional model meet again
(a residual connection is ``Add()([x, shortcut])``).  Elementwise merges follow Keras's
shape rule: shapes must be equal except where one of them is 1 (broadcast); a tensor
of lower rank gets axes of size 1 inserted after the batch axis.  Their backward passes
are the derivatives of +, -, * and the mean, summed back over broadcast axes;
Concatenate's backward slices ``dy`` back into the pieces.
"""
import numpy as np

from kbook.layers.base import Layer

__all__ = ["Add", "Average", "Concatenate", "Multiply", "Subtract"]


def _unbroadcast(d, shape):
    """Sum ``d`` over the axes that broadcasting added or stretched, back to ``shape``."""
    while d.ndim > len(shape):
        d = d.sum(axis=1)  # lower-rank inputs were expanded at axis 1, as Keras does
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and d.shape[k] != 1)
    return d.sum(axis=stretched, keepdims=True) if stretched else d


class Merge(Layer):
    """Shared by the elementwise merges: shape checks, expansion to one rank, backward."""

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(input_shape[0], tuple):
            raise ValueError("A merge layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape} (not a list of shapes)")
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"Cannot merge tensors with different batch sizes. Received tensors with "
                             f"shapes {list(input_shape)}")
        self.compute_output_shape(input_shape)  # raises on incompatible shapes
        self.built = True

    def _check_input_spec(self, shape):
        if not isinstance(shape, (list, tuple)) or not shape or not isinstance(shape[0], tuple):
            raise ValueError(f"Layer '{self.name}': a merge layer should be called on a list of inputs. "
                             f"Received: input_shape={shape} (not a list of shapes)")
        if self.built:
            self.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        out = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            out = _elementwise_shape(out, tuple(shape[1:]))
        batch_sizes = {s[0] for s in input_shape} - {None}
        return ((batch_sizes.pop() if len(batch_sizes) == 1 else None),) + out

    def call(self, inputs, training=None):
        rank = max(x.ndim for x in inputs)
        xs = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]
        self._cache = (xs, [x.shape for x in inputs])
        return self._merge(xs)

    def backward(self, dy):
        dy = self._check_dy(dy)
        xs, shapes = self._cache
        self.grads = {}
        return [_unbroadcast(d, x.shape).reshape(shape)
                for d, x, shape in zip(self._input_gradients(xs, dy), xs, shapes)]


def _elementwise_shape(a, b):
    """Keras's rule for two shapes without the batch axis: equal, or one of them 1."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return a
    out = list(a[:len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1 or i == j:
            out.append(j if i == 1 else i)
        else:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {a} and {b}")
    return tuple(out)


class Add(Merge):
    """y = x1 + x2 + ... (a residual connection's join).

    Example:
        >>> Add()([np.ones((2, 3)), np.ones((2, 3))])
        array([[2., 2., 2.], [2., 2., 2.]], dtype=float32)
    """

    def _merge(self, xs):
        out = xs[0] + xs[1] if len(xs) > 1 else xs[0].copy()
        for x in xs[2:]:
            out += x
        return out

    def _input_gradients(self, xs, dy):
        return [dy] * len(xs)


class Subtract(Merge):
    """y = x1 - x2 (exactly two inputs)."""

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                             f"input_shape={list(input_shape)}")
        super().build(input_shape)

    def _check_input_spec(self, shape):
        super()._check_input_spec(shape)
        if len(shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                             f"input_shape={list(shape)}")

    def _merge(self, xs):
        return xs[0] - xs[1]

    def _input_gradients(self, xs, dy):
        return [dy, -dy]


class Multiply(Merge):
    """y = x1 * x2 * ... elementwise (a gate: one branch scales another)."""

    def _merge(self, xs):
        out = xs[0].copy()
        for x in xs[1:]:
            out = out * x
        return out

    def _input_gradients(self, xs, dy):
        # d(x1*x2*...*xn)/dxi = the product of the others (no division: a zero is fine)
        grads = []
        for i in range(len(xs)):
            g = dy
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(Merge):
    """y = (x1 + ... + xn) / n."""

    def _merge(self, xs):
        out = xs[0] + xs[1] if len(xs) > 1 else xs[0].copy()
        for x in xs[2:]:
            out += x
        return out / len(xs)

    def _input_gradients(self, xs, dy):
        return [dy / len(xs)] * len(xs)


class Concatenate(Layer):
    """Joins a list of tensors along ``axis`` (default -1, the channels).

    Args:
        axis: the axis to join along; every other axis must match.

    Example:
        >>> Concatenate()([np.zeros((2, 3)), np.zeros((2, 5))]).shape
        (2, 8)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"Layer '{self.name}': `axis` must be an int, got {axis!r}.")
        self.axis = int(axis)

    def _check_input_spec(self, shape):
        if not isinstance(shape, (list, tuple)) or not shape or not isinstance(shape[0], tuple):
            raise ValueError("A `Concatenate` layer should be called on a list of at least 1 input. "
                             f"Received: input_shape={shape}")
        ranks = {len(s) for s in shape}
        mismatch = len(ranks) != 1
        if not mismatch:
            rank = ranks.pop()
            if not -rank <= self.axis < rank:
                raise ValueError(f"Layer '{self.name}': `axis`={self.axis} is out of range for inputs "
                                 f"of rank {rank}.")
            axis = self.axis % rank
            for k in range(rank):
                sizes = {s[k] for s in shape} - {None}
                if k != axis and len(sizes) > 1:
                    mismatch = True
        if mismatch:
            raise ValueError("A `Concatenate` layer requires inputs with matching shapes except for the "
                             f"concatenation axis. Received: input_shape={list(shape)}")

    def compute_output_shape(self, input_shape):
        out = list(input_shape[0])
        axis = self.axis % len(out)
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs, training=None):
        self._cache = [x.shape[self.axis] for x in inputs]
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, dy):
        dy = self._check_dy(dy)
        self.grads = {}
        cuts = np.cumsum(self._cache)[:-1]
        return [np.ascontiguousarray(d) for d in np.split(dy, cuts, axis=self.axis)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
