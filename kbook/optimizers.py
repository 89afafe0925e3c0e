"""The optimizers of ``keras.optimizers``: how each weight moves, given its gradient.

``optimizer.apply(grads, weights)`` changes the NumPy weight arrays **in place**
(so a layer's ``kernel`` attribute sees the new values) and counts the step in
``optimizer.iterations``, as Keras 3's ``optimizer.apply(grads, trainable_variables)``.
The first call builds the optimizer's state for those weights (``build``): a
momentum, a velocity, ... per weight, zeros of the weight's shape, which Keras calls
the optimizer variables.

Each ``update_step`` is written operation for operation as Keras 3 writes it (the
order decides the last bits), so a sequence of steps equals Keras's to the last bit,
in float32 and in float64.  Two details matter for float64: Keras keeps the learning
rate in a float32 variable (a float64 model is updated with float32(0.01) =
0.009999999776482582), and ``ops.cast`` turns SGD's momentum and Adam's betas into
float32 before float64 (see ``_cast``).  kbook does the same.

Example:
    >>> w = np.array([1.0, -2.0])
    >>> sgd = SGD(learning_rate=0.1)
    >>> sgd.apply([np.array([0.5, -1.0])], [w])
    >>> w                                      # w - 0.1 * g (with 0.1 rounded to float32)
    array([ 0.95, -1.9 ])
    >>> sgd.iterations
    1
"""
import numbers
import warnings

import numpy as np


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _cast(w, value):
    """``ops.cast(value, w.dtype)`` for a Python float, as Keras does it: through float32.

    TensorFlow turns a Python float into a float32 tensor before casting it, so
    ``ops.cast(0.9, "float64")`` is 0.8999999761581421.  Keras uses ``ops.cast`` for
    the learning rate, SGD's momentum and Adam's betas (in beta^t); a Python float
    met in arithmetic (``1 - beta_1``, ``epsilon``, ``rho``) keeps full precision.
    """
    return np.asarray(np.float32(value), dtype=w.dtype)


def _power(w, base, exponent):
    """base ** exponent in w's dtype, correctly rounded as TensorFlow's pow is.

    NumPy's float32 power can be one ulp off; float64 then rounded to float32 is not.
    """
    return np.power(_cast(w, base).astype(np.float64), exponent).astype(w.dtype)


class Optimizer:
    """The base class: weights, their state, and the step counter.

    A subclass writes ``build_state(weights)`` (its per-weight arrays) and
    ``update_step(gradient, weight, learning_rate)``, which changes ``weight`` in place.

    Args:
        learning_rate: a float (Keras refuses an int such as 1: write 1.0).  It may be
            negative (Keras allows it: the weights then climb the loss).
        name: used in error messages; the snake-case class name by default.
    """

    default_name = "optimizer"

    def __init__(self, learning_rate, name=None):
        self.name = name or self.default_name
        if not isinstance(learning_rate, float):  # Keras's own rule, word for word
            raise ValueError(self._error(
                "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or "
                "a callable (that takes in the current iteration value and returns the corresponding "
                f"learning rate value). Received instead: learning_rate={learning_rate!r}"))
        self.learning_rate = learning_rate
        self.iterations = 0
        self.built = False

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not _is_number(value):
            raise TypeError(self._error(f"`learning_rate` must be a number, got {value!r}."))
        # Keras stores it in a float32 variable (backend.floatx()), then casts it to each weight's dtype.
        self._learning_rate = float(np.float32(value))

    def _error(self, message):
        return f"Optimizer '{self.name}': {message}"

    # --- state ---------------------------------------------------------------------------

    def build(self, weights):
        """Create the per-weight state (zeros shaped like each weight) for this list of weights."""
        weights = list(weights)
        for i, w in enumerate(weights):
            if not isinstance(w, np.ndarray) or w.dtype.kind != "f" or not w.flags.writeable:
                raise TypeError(self._error(
                    f"`weights[{i}]` must be a writeable float NumPy array, updated in place; got "
                    + (f"an array of dtype {w.dtype}" if isinstance(w, np.ndarray) else type(w).__name__) + "."))
        self._weights = weights
        # Which state belongs to which weight, by identity (Keras's _get_variable_index).
        self._index = {id(w): i for i, w in enumerate(weights)}
        self.build_state(weights)
        self.built = True

    def build_state(self, weights):
        pass

    def _slot(self, weights):
        return [np.zeros_like(w) for w in weights]

    # --- one step ------------------------------------------------------------------------

    def apply(self, grads, weights=None):
        """Move each weight by its gradient, in place; then ``iterations += 1``.

        Args:
            grads: one gradient per weight, each shaped like its weight (``None`` skips a
                weight, with Keras's warning).
            weights: the weight arrays; optional after the first call (the built ones).

        Everything is checked before any weight changes, so a failed call moves no weight
        and counts no step.
        """
        grads = list(grads)
        if not grads:
            return  # Keras: nothing to do, and not counted as a step
        weights = self._known_weights(grads, weights)
        pairs = [(i, g, w) for i, (g, w) in enumerate(zip(grads, weights)) if g is not None]
        if not pairs:
            raise ValueError(self._error("No gradients provided for any variable."))
        if len(pairs) < len(grads):
            missing = [i for i, g in enumerate(grads) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} (indices into `weights`) when "
                          "minimizing the loss.", stacklevel=2)
        checked = [(self._check_gradient(i, g, w), w) for i, g, w in pairs]
        for g, w in checked:
            self.update_step(g, w, _cast(w, self.learning_rate))
        self.iterations += 1

    def _known_weights(self, grads, weights):
        if weights is None:
            if not self.built:
                raise ValueError(self._error(
                    "When passing `grads` without `weights`, the optimizer must already be built on a list "
                    "of weights. Call `optimizer.build(weights)` first."))
            weights = self._weights
        weights = list(weights)
        if len(grads) != len(weights):
            raise ValueError(self._error(
                f"`grads` and `weights` must pair up one to one; got {len(grads)} gradients for "
                f"{len(weights)} weights."))
        if not self.built:
            self.build(weights)
        for i, w in enumerate(weights):
            if id(w) not in self._index:
                raise ValueError(self._error(
                    f"Unknown variable: `weights[{i}]` (shape {np.shape(w)}) is not one of the arrays this "
                    "optimizer was built with. When working with a new set of weights, create a new "
                    "optimizer."))
        return weights

    def _check_gradient(self, i, g, w):
        g = np.asarray(g)
        if g.dtype.kind not in "biuf":
            raise TypeError(self._error(f"`grads[{i}]` must hold numbers, got dtype {g.dtype}."))
        if g.shape != w.shape:
            raise ValueError(self._error(
                f"`grads[{i}]` has shape {g.shape} but its weight `weights[{i}]` has shape {w.shape}."))
        return g.astype(w.dtype, copy=False)  # Keras casts the gradient to the variable's dtype

    def update_step(self, gradient, weight, learning_rate):
        raise NotImplementedError

    def _state(self, slots, weight):
        return slots[self._index[id(weight)]]

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"<{type(self).__name__}({args}) '{self.name}'>"


def _check_fraction(optimizer, argument, value, upper_open=True):
    """A decay rate in [0, 1) (or [0, 1]).

    Keras does not check these; outside, its formulas give nan or diverge.
    """
    if not _is_number(value) or not (0 <= value < 1 if upper_open else 0 <= value <= 1):
        interval = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(optimizer._error(f"`{argument}` must be a number in {interval}, got {value!r}."))
    return float(value)


def _check_epsilon(optimizer, epsilon):
    if not _is_number(epsilon) or not epsilon >= 0:
        raise ValueError(optimizer._error(f"`epsilon` must be a number >= 0, got {epsilon!r}."))
    return float(epsilon)


class SGD(Optimizer):
    """Gradient descent, with optional momentum and Nesterov momentum.

    Keras's update (m starts at 0):

    * no momentum: w <- w - lr g
    * momentum: m <- momentum m - lr g, then w <- w + m
    * nesterov: m <- momentum m - lr g, then w <- w + momentum m - lr g

    Args:
        learning_rate: float, default 0.01.
        momentum: float in [0, 1] (Keras checks this, and refuses an int such as 0).
        nesterov: whether to use Nesterov momentum.
        name: default ``"sgd"``.

    State: ``momentums`` (one per weight, only when momentum != 0).

    Example:
        >>> w = np.zeros(2)
        >>> sgd = SGD(learning_rate=0.5, momentum=0.5)
        >>> for _ in range(2):
        ...     sgd.apply([np.ones(2)], [w])
        >>> w                                    # -0.5, then -0.5 - 0.75
        array([-1.25, -1.25])
    """

    default_name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        if not isinstance(momentum, float) or not 0 <= momentum <= 1:
            raise ValueError(self._error(
                f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}"))
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def build_state(self, weights):
        self.momentums = self._slot(weights) if self.momentum != 0 else []

    def update_step(self, gradient, weight, learning_rate):
        if self.momentum == 0:
            weight -= gradient * learning_rate
            return
        m = self._state(self.momentums, weight)
        momentum = _cast(weight, self.momentum)
        m[...] = m * momentum - gradient * learning_rate
        if self.nesterov:
            weight += m * momentum - gradient * learning_rate  # look one momentum step further ahead
        else:
            weight += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: a step along the running mean of the gradients, scaled by their running RMS.

    Keras's update at step t = iterations + 1 (m, v start at 0):

        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)      (both bias corrections, in one scalar)
        m <- m + (g - m) (1 - beta_1)                          (= beta_1 m + (1 - beta_1) g)
        v <- v + (g^2 - v) (1 - beta_2)
        v_hat <- max(v_hat, v); use v_hat as v                 (amsgrad only)
        w <- w - m alpha / (sqrt(v) + epsilon)

    Putting the corrections into alpha puts epsilon outside the bias correction of v:
    it is the paper's "epsilon hat", not the epsilon of its Algorithm 1.

    Args:
        learning_rate: float, default 0.001.
        beta_1, beta_2: decay rates of the mean and of the mean square, in [0, 1).
        epsilon: >= 0, keeps the division finite, default 1e-7.
        amsgrad: use the largest v seen so far (Reddi et al., 2018).
        name: default ``"adam"``.

    State: ``momentums`` (m), ``velocities`` (v), ``velocity_hats`` (amsgrad only).

    Example:
        >>> w = np.zeros(3)
        >>> Adam(learning_rate=0.1).apply([np.array([1.0, -2.0, 0.0])], [w])
        >>> w.round(4)                 # the first step is about lr * sign(g)
        array([-0.1,  0.1,  0. ])
    """

    default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 name=None):
        super().__init__(learning_rate, name)
        self.beta_1 = _check_fraction(self, "beta_1", beta_1)
        self.beta_2 = _check_fraction(self, "beta_2", beta_2)
        self.epsilon = _check_epsilon(self, epsilon)
        self.amsgrad = bool(amsgrad)

    def build_state(self, weights):
        self.momentums = self._slot(weights)
        self.velocities = self._slot(weights)
        self.velocity_hats = self._slot(weights) if self.amsgrad else []

    def update_step(self, gradient, weight, learning_rate):
        step = self.iterations + 1
        beta_1_power = _power(weight, self.beta_1, step)
        beta_2_power = _power(weight, self.beta_2, step)
        m = self._state(self.momentums, weight)
        v = self._state(self.velocities, weight)
        alpha = learning_rate * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (gradient - m) * (1 - self.beta_1)
        v += (np.square(gradient) - v) * (1 - self.beta_2)
        if self.amsgrad:
            v_hat = self._state(self.velocity_hats, weight)
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        weight -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class RMSprop(Optimizer):
    """RMSprop: each gradient divided by the running RMS of its recent values.

    Keras's update (v, mg, mom start at 0):

        v <- rho v + (1 - rho) g^2
        centered:  mg <- rho mg + (1 - rho) g;  denominator = v - mg^2 + epsilon
        otherwise: denominator = v + epsilon
        increment = lr g / sqrt(denominator)                  (epsilon inside the sqrt)
        momentum > 0: mom <- momentum mom + increment; w <- w - mom
        otherwise:    w <- w - increment

    Args:
        learning_rate: float, default 0.001.
        rho: decay rate of the mean square, in [0, 1).
        momentum: in [0, 1]; 0 means none.
        epsilon: >= 0, default 1e-7.
        centered: divide by the running variance (v - mg^2) instead of the mean square.
        name: default ``"rmsprop"``.

    State: ``velocities`` (v), ``momentums`` (momentum > 0 only), ``average_gradients``
    (mg, centered only).

    Example:
        >>> w = np.zeros(2)
        >>> RMSprop(learning_rate=0.01).apply([np.array([3.0, -0.5])], [w])
        >>> w.round(6)                 # lr g / sqrt(0.1 g^2): about lr * 3.16 * sign(g)
        array([-0.031623,  0.031623])
    """

    default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name=None):
        super().__init__(learning_rate, name)
        self.rho = _check_fraction(self, "rho", rho)
        self.momentum = _check_fraction(self, "momentum", momentum, upper_open=False)
        self.epsilon = _check_epsilon(self, epsilon)
        self.centered = bool(centered)

    def build_state(self, weights):
        self.velocities = self._slot(weights)
        self.momentums = self._slot(weights) if self.momentum > 0 else []
        self.average_gradients = self._slot(weights) if self.centered else []

    def update_step(self, gradient, weight, learning_rate):
        rho = self.rho
        v = self._state(self.velocities, weight)
        v[...] = rho * v + (1 - rho) * np.square(gradient)
        if self.centered:
            mg = self._state(self.average_gradients, weight)
            mg[...] = rho * mg + (1 - rho) * gradient
            denominator = v - np.square(mg) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = (learning_rate * gradient) / np.sqrt(denominator)
        if self.momentum > 0:
            mom = self._state(self.momentums, weight)
            mom[...] = self.momentum * mom + increment
            weight -= mom
        else:
            weight -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


# --- lookup -------------------------------------------------------------------------------

ALL_OBJECTS = (SGD, Adam, RMSprop)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}  # Keras: names are case-insensitive


def get(identifier):
    """An optimizer from a name (``"sgd"``, ``"Adam"``, ``"RMSprop"``, any case), a class, or an instance.

    A name gives the optimizer with its default arguments; an instance is returned as is.

    Example:
        >>> get("adam")
        <Adam(learning_rate=0.0010000000474974513, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False) 'adam'>
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. kbook knows "
                             f"{', '.join(sorted(ALL_OBJECTS_DICT))} (in any case).")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(f"Could not interpret optimizer identifier: {identifier!r}. Pass a name such as 'adam' "
                    "or a kbook.optimizers optimizer.")
