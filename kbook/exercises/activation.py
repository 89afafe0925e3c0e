"""Chapter 2 (Activation) exercises: each function checks one answer."""
import numpy as np

from kbook import activations
from kbook.exercises.checker import judge, returns


def not_an_activation(answer):
    """Which name in the notes' list (sigmoid, gelu, get, linear, relu, softmax, swish) is not an activation?"""
    return judge(
        answer, lambda a: str(a).strip().lower() == "get",
        success="`get` is the lookup function: keras.activations.get('relu') returns relu.",
        hint="Try each name with keras.activations.get(name); one of them is a function of the module, "
             "but not an activation.",
    )


def relu_slope_at_zero(answer):
    """What slope does TensorFlow's gradient give relu at exactly x = 0?"""
    return judge(
        answer, lambda a: float(a) == 0.0,
        success="TF's ReluGrad passes the gradient only where x > 0, so relu'(0) = 0.",
        hint="relu has no derivative at 0, so TF had to choose. Ask it: "
             "tf.GradientTape on tf.nn.relu(tf.constant(0.0)).",
    )


def stable_softmax(fn):
    """Write fn(x) -> softmax over the last axis that survives x = [1000, 1001, 1002]."""
    def correct(fn):
        cases = [np.array([[1000.0, 1001.0, 1002.0]]),
                 np.random.default_rng(3).standard_normal((4, 5)) * 20]
        for x in cases:
            with np.errstate(all="ignore"):
                got = np.asarray(returns(fn, x), dtype=float)
            if got.shape != x.shape or not np.allclose(got, activations.softmax(x)):
                return False
        return True
    return judge(
        fn, correct,
        success="subtracting the row maximum changes nothing mathematically and keeps exp() finite.",
        hint="exp(1000) overflows to inf. softmax(x) == softmax(x - c) for any c; "
             "pick c per row (keepdims=True helps).",
    )


def softmax_row_sums(answer):
    """Activation('softmax') on an input of shape (4, 5): what does y.sum(axis=-1) equal?"""
    return judge(
        answer, lambda a: np.shape(a) == (4,) and np.allclose(a, 1.0),
        success="four ones: softmax turns each row (the last axis) into a probability distribution.",
        hint="Give an array of the right shape. Softmax normalises along which axis, and to what total?",
    )
