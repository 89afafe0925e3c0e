"""kbook.optimizers: the weights after every step equal tf.keras's, in place; Keras's names and checks."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbook import optimizers
from kbook.check import relative_error

SHAPES = [(3, 4), (4,), (2, 3, 2)]
# kbook repeats Keras's operations in Keras's order, so float64 agrees to the last bit on this
# machine (measured: 0).  The bound leaves room for a libm whose pow or sqrt rounds differently
# by an ulp on another platform: ulps of 1e-16 over 10 steps stay far below 1e-12.  float32: the
# same reasoning, a few float32 ulps (1e-7 each).
TOLERANCE = {"float64": 1e-12, "float32": 1e-6}
# kbook's state name -> Keras's attribute for it.
KERAS_STATE = {"momentums": ("momentums", "_momentums"), "velocities": ("_velocities",),
               "velocity_hats": ("_velocity_hats",), "average_gradients": ("_average_gradients",)}

CONFIGS = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.05, "momentum": 1.0, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True, "epsilon": 1e-4}),
]


def random_run(dtype, steps, seed):
    """Starting weights of three shapes, and one gradient per weight per step (scales from 1e-3 to 10)."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2)).astype(dtype) for s in SHAPES]
             for _ in range(steps)]
    return weights, grads


def keras_state(twin, name):
    for attribute in KERAS_STATE[name]:
        if hasattr(twin, attribute):
            return [v.numpy() for v in getattr(twin, attribute)]
    raise AttributeError(name)


def assert_same_trajectory(tf, cls_name, kwargs, dtype, steps=10, seed=0):
    """Apply the same gradients with kbook and Keras; compare every weight after every step, then the state."""
    ours = getattr(optimizers, cls_name)(**kwargs)
    twin = getattr(tf.keras.optimizers, cls_name)(**kwargs)
    weights, grad_steps = random_run(dtype, steps, seed)
    variables = [tf.Variable(w) for w in weights]
    worst = 0.0
    for step, grads in enumerate(grad_steps, start=1):
        ours.apply(grads, weights)
        twin.apply([tf.constant(g) for g in grads], variables)
        for w, v in zip(weights, variables):
            err = relative_error(w, v.numpy())
            assert err <= TOLERANCE[dtype], (cls_name, kwargs, dtype, step, err)
            worst = max(worst, err)
        assert ours.iterations == int(twin.iterations.numpy()) == step
    assert all(w.dtype == dtype for w in weights)
    for name in KERAS_STATE:
        mine = getattr(ours, name, None)
        if mine:  # built only when the configuration needs it, as in Keras
            for a, b in zip(mine, keras_state(twin, name)):
                assert relative_error(a, b) <= TOLERANCE[dtype], (cls_name, name)
    return worst


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls_name, kwargs", CONFIGS, ids=[f"{c}-{'-'.join(k) or 'default'}" for c, k in CONFIGS])
def test_ten_steps_equal_keras(tf, cls_name, kwargs, dtype):
    assert_same_trajectory(tf, cls_name, kwargs, dtype)


@given(
    cls_name=st.sampled_from(["SGD", "Adam", "RMSprop"]),
    learning_rate=st.floats(1e-4, 1.0),
    fraction=st.floats(0.0, 0.999),
    flag=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=15)  # about 130 ms each: Keras builds its optimizer, then 3 eager steps
def test_random_hyperparameters_equal_keras(tf, cls_name, learning_rate, fraction, flag, dtype, seed):
    kwargs = {"learning_rate": learning_rate}
    if cls_name == "SGD":
        kwargs.update(momentum=fraction, nesterov=flag)
    elif cls_name == "Adam":
        kwargs.update(beta_1=fraction, beta_2=1 - (1 - fraction) / 10, amsgrad=flag)
    else:
        kwargs.update(rho=fraction, momentum=1 - fraction, centered=flag)
    assert_same_trajectory(tf, cls_name, kwargs, dtype, steps=3, seed=seed)


def test_learning_rate_is_float32_as_in_keras(tf):
    """Keras keeps the learning rate in a float32 variable: a float64 step uses float32(0.1)."""
    w = np.array([1.0, -2.0])
    g = np.array([0.3, 0.7])
    optimizers.SGD(learning_rate=0.1).apply([g], [w])
    v = tf.Variable([1.0, -2.0], dtype=tf.float64)
    tf.keras.optimizers.SGD(learning_rate=0.1).apply([tf.constant(g)], [v])
    assert np.array_equal(w, v.numpy())
    assert not np.array_equal(w, np.array([1.0, -2.0]) - 0.1 * g)  # the exact 0.1 would differ
    assert optimizers.SGD(learning_rate=0.1).learning_rate == float(np.float32(0.1))


# --- the apply contract ------------------------------------------------------------------------------

def test_updates_in_place_so_layer_attributes_stay_live():
    from kbook.layers import Dense

    layer = Dense(2, dtype="float64")
    layer(np.ones((1, 3)))
    kernel, before = layer.kernel, layer.kernel.copy()
    opt = optimizers.Adam(learning_rate=0.1)
    opt.apply([np.ones((3, 2)), np.ones(2)], [layer.kernel, layer.bias])
    assert layer.kernel is kernel and not np.array_equal(kernel, before)
    assert np.allclose(layer.kernel, before - 0.1, atol=1e-6) and np.allclose(layer.bias, -0.1, atol=1e-6)


def test_builds_once_then_apply_without_weights():
    w = np.zeros(3)
    opt = optimizers.SGD(learning_rate=0.5, momentum=0.5)
    assert not opt.built
    opt.apply([np.ones(3)], [w])
    assert opt.built and len(opt.momentums) == 1 and opt.iterations == 1
    opt.apply([np.ones(3)])  # the weights it was built with
    assert opt.iterations == 2
    assert np.allclose(w, -0.5 - 0.75)


def test_empty_gradient_list_is_not_a_step(tf):
    opt = optimizers.Adam()
    opt.apply([], [])
    twin = tf.keras.optimizers.Adam()
    twin.apply([], [])
    assert opt.iterations == int(twin.iterations.numpy()) == 0


def test_none_gradient_skips_its_weight_like_keras(tf):
    ours = [np.ones(2), np.ones(3)]
    variables = [tf.Variable(np.ones(2)), tf.Variable(np.ones(3))]
    opt, twin = optimizers.Adam(learning_rate=0.1), tf.keras.optimizers.Adam(learning_rate=0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \[0\]"):
        opt.apply([None, np.full(3, 0.5)], ours)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        twin.apply([None, tf.constant(np.full(3, 0.5))], variables)
    assert np.all(ours[0] == 1.0) and np.all(ours[1] < 1.0)
    opt.apply([np.full(2, 2.0), np.full(3, -1.0)], ours)  # step 2 for both weights (t counts calls)
    twin.apply([tf.constant(np.full(2, 2.0)), tf.constant(np.full(3, -1.0))], variables)
    for w, v in zip(ours, variables):
        assert relative_error(w, v.numpy()) <= TOLERANCE["float64"]
    assert opt.iterations == 2


def test_all_none_gradients_is_an_error():
    with pytest.raises(ValueError, match=r"Optimizer 'sgd': No gradients provided for any variable"):
        optimizers.SGD().apply([None], [np.zeros(2)])


def test_float64_gradients_are_cast_to_float32_weights():
    w = np.zeros(3, np.float32)
    optimizers.RMSprop().apply([np.ones(3)], [w])
    assert w.dtype == np.float32 and np.all(w < 0)


# --- bad input --------------------------------------------------------------------------------------

def test_mismatched_lists_name_the_optimizer():
    with pytest.raises(ValueError, match=r"Optimizer 'adam': `grads` and `weights` must pair up one to one; "
                                         r"got 1 gradients for 2 weights"):
        optimizers.Adam().apply([np.ones(2)], [np.zeros(2), np.zeros(3)])
    opt = optimizers.Adam()
    opt.apply([np.ones(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="got 2 gradients for 1 weights"):
        opt.apply([np.ones(2), np.ones(2)])


def test_wrong_gradient_shape_changes_nothing():
    a, b = np.zeros(2), np.zeros((2, 2))
    opt = optimizers.SGD(learning_rate=0.1)
    with pytest.raises(ValueError, match=r"Optimizer 'sgd': `grads\[1\]` has shape \(2,\) but its weight "
                                         r"`weights\[1\]` has shape \(2, 2\)"):
        opt.apply([np.ones(2), np.ones(2)], [a, b])
    assert np.all(a == 0) and opt.iterations == 0  # checked before the first weight moved


def test_unknown_weight_after_build():
    opt = optimizers.RMSprop(name="rms")
    opt.apply([np.ones(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match=r"Optimizer 'rms': Unknown variable: `weights\[0\]`.*create a new optimizer"):
        opt.apply([np.ones(2)], [np.zeros(2)])


def test_apply_without_weights_before_build():
    with pytest.raises(ValueError, match=r"Optimizer 'sgd': .*must already be built"):
        optimizers.SGD().apply([np.ones(2)])


@pytest.mark.parametrize("weight, message", [
    ([0.0, 1.0], "got list"), (np.zeros(2, np.int64), "of dtype int64"),
])
def test_weights_must_be_float_arrays(weight, message):
    with pytest.raises(TypeError, match=r"Optimizer 'sgd': `weights\[0\]` must be a writeable float NumPy array.*"
                                        + message):
        optimizers.SGD().apply([np.ones(2)], [weight])


@pytest.mark.parametrize("cls_name", ["SGD", "Adam", "RMSprop"])
@pytest.mark.parametrize("learning_rate", [1, np.float32(0.1), "0.1"])
def test_learning_rate_must_be_a_float_as_in_keras(tf, cls_name, learning_rate):
    with pytest.raises(ValueError, match="Argument `learning_rate` should be float"):
        getattr(tf.keras.optimizers, cls_name)(learning_rate=learning_rate)
    with pytest.raises(ValueError, match=r"Optimizer '\w+': Argument `learning_rate` should be float"):
        getattr(optimizers, cls_name)(learning_rate=learning_rate)


def test_negative_learning_rate_is_allowed_as_in_keras(tf):
    tf.keras.optimizers.SGD(learning_rate=-0.1)
    w = np.zeros(1)
    optimizers.SGD(learning_rate=-0.5).apply([np.ones(1)], [w])
    assert w[0] == 0.5  # climbs the loss


@pytest.mark.parametrize("momentum", [0, 1, -0.1, 1.5, "0.9"])
def test_sgd_momentum_is_checked_as_in_keras(tf, momentum):
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]"):
        tf.keras.optimizers.SGD(momentum=momentum)
    with pytest.raises(ValueError, match=r"Optimizer 'sgd': `momentum` must be a float between \[0, 1\]"):
        optimizers.SGD(momentum=momentum)


@pytest.mark.parametrize("cls_name, kwargs, argument", [
    ("Adam", {"beta_1": 1.0}, "beta_1"), ("Adam", {"beta_1": -0.1}, "beta_1"), ("Adam", {"beta_2": 1.5}, "beta_2"),
    ("Adam", {"epsilon": -1e-7}, "epsilon"), ("RMSprop", {"rho": 1.5}, "rho"),
    ("RMSprop", {"momentum": -0.5}, "momentum"), ("RMSprop", {"momentum": 2.0}, "momentum"),
    ("RMSprop", {"epsilon": "small"}, "epsilon"), ("Adam", {"beta_2": None}, "beta_2"),
])
def test_ranges_keras_leaves_unchecked(cls_name, kwargs, argument):
    """Keras accepts these and then computes nan or diverges; kbook says which argument is wrong."""
    name = cls_name.lower()
    with pytest.raises(ValueError, match=rf"Optimizer '{name}': `{argument}` must be a number"):
        getattr(optimizers, cls_name)(**kwargs)


def test_adam_beta_1_of_one_is_nan_in_keras(tf):
    """Why kbook refuses beta_1 = 1: Keras divides by 1 - beta_1^t = 0."""
    v = tf.Variable([1.0])
    tf.keras.optimizers.Adam(beta_1=1.0).apply([tf.constant([1.0])], [v])
    assert not np.isfinite(v.numpy()[0])


# --- names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sgd", "SGD", "adam", "Adam", "rmsprop", "RMSprop", "RMSPROP"])
def test_names_resolve_as_in_keras(tf, name):
    ours, theirs = optimizers.get(name), tf.keras.optimizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config()["learning_rate"] == pytest.approx(float(theirs.learning_rate.numpy()), rel=0)


def test_get_passes_objects_and_classes_through():
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    assert isinstance(optimizers.get(optimizers.Adam), optimizers.Adam)
    assert optimizers.get(None) is None


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Could not interpret optimizer identifier: 'adamw'.*adam, rmsprop, sgd"):
        optimizers.get("adamw")
    with pytest.raises(TypeError, match="Could not interpret optimizer identifier"):
        optimizers.get(0.01)
