"""Weight initializers with Keras's names and formulas.

The random numbers differ from Keras's (different generators); the
distributions are the same.  ``kbook.check`` copies weights across, so the
comparison never depends on them.
"""
import numpy as np

_rng = np.random.default_rng(0)


def set_seed(seed):
    """Reseed the generator every kbook initializer draws from."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator():
    """The generator kbook draws from (initializers, fit's shuffling); ``set_seed`` resets it."""
    return _rng


def compute_fans(shape):
    """Keras's fan_in / fan_out: a conv kernel counts its receptive field."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _truncated_normal(shape, stddev):
    # Keras truncates at two standard deviations; redraw what falls outside.
    z = _rng.standard_normal(shape)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = _rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return z * stddev


def _variance_scaling(shape, scale, mode, distribution):
    fan_in, fan_out = compute_fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = scale / max(1.0, fan)
    if distribution == "uniform":
        limit = np.sqrt(3.0 * variance)
        return _rng.uniform(-limit, limit, size=shape)
    # 0.879... is the stddev of a unit normal truncated at +-2 (Keras's constant).
    return _truncated_normal(shape, np.sqrt(variance) / 0.87962566103423978)


def zeros(shape):
    return np.zeros(shape)


def ones(shape):
    return np.ones(shape)


def random_normal(shape):
    return _rng.normal(0.0, 0.05, size=shape)


def random_uniform(shape):
    return _rng.uniform(-0.05, 0.05, size=shape)


def glorot_uniform(shape):
    return _variance_scaling(shape, 1.0, "fan_avg", "uniform")


def glorot_normal(shape):
    return _variance_scaling(shape, 1.0, "fan_avg", "normal")


def he_uniform(shape):
    return _variance_scaling(shape, 2.0, "fan_in", "uniform")


def he_normal(shape):
    return _variance_scaling(shape, 2.0, "fan_in", "normal")


def lecun_uniform(shape):
    return _variance_scaling(shape, 1.0, "fan_in", "uniform")


def lecun_normal(shape):
    return _variance_scaling(shape, 1.0, "fan_in", "normal")


ALL = {
    f.__name__: f
    for f in (zeros, ones, random_normal, random_uniform, glorot_uniform, glorot_normal,
              he_uniform, he_normal, lecun_uniform, lecun_normal)
}


def get(identifier, layer_name="layer", argument="initializer"):
    """Look an initializer up by name, or accept a callable ``f(shape) -> array``."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]
    raise ValueError(
        f"Layer '{layer_name}': could not interpret `{argument}`={identifier!r}. "
        f"Known initializers: {', '.join(sorted(ALL))}."
    )
