"""Chapter 9 (BatchNormalization) exercises: each function checks one answer.

Every checker works out the expected answer before it looks at the reader's, and gives the
reader's function copies, so a function that modifies its arguments changes nothing here.
"""
import math

import numpy as np

from kbook.exercises.checker import judge, returns

# --- 1. the non-trainable parameters of BatchNormalization on 64 channels -----------------------

CHANNELS = 64


def non_trainable_params(answer):
    """BatchNormalization() after a Conv2D with 64 filters: how many non-trainable params does summary() report?"""
    expected = 2 * CHANNELS                                   # moving_mean and moving_variance, one per channel
    wrong = {
        4 * CHANNELS: "That counts all four weights. gamma and beta are trained by the optimizer; which two "
                      "are updated by the forward pass instead?",
        2 * CHANNELS + 1: "No weight is shared by all channels: each of the two statistics has one value per channel.",
        CHANNELS: "Two statistics are kept per channel, not one: a mean and a variance.",
        0: "summary() counts the moving statistics as non-trainable params: the optimizer never changes them.",
        4: "Each weight has one value per channel (64), not one in all.",
        2: "Each of the two has one value per channel (64), not one in all.",
    }

    def correct(answer):
        return not isinstance(answer, bool) and float(answer) == expected

    try:
        hint = wrong.get(int(answer), "Which of gamma, beta, moving_mean, moving_variance does the optimizer not "
                                      "change, and how many values does each have?")
    except (TypeError, ValueError):
        hint = "Answer with a number."
    return judge(
        answer, correct,
        success="128: moving_mean and moving_variance, 64 values each. gamma and beta (128 more) are trainable, "
                "so summary() shows 256 params for the layer, 128 of them non-trainable.",
        hint=hint,
    )


# --- 2. one value through BatchNormalization in inference mode ----------------------------------

INFERENCE = {"x": 4.0, "moving_mean": 3.0, "moving_variance": 0.249, "epsilon": 0.001, "gamma": 2.0, "beta": 0.5}


def inference_output(answer):
    """BatchNormalization(epsilon=0.001) with gamma 2, beta 0.5, moving_mean 3, moving_variance 0.249:
    what does layer(x, training=False) give for x = 4?"""
    p = INFERENCE
    scale = math.sqrt(p["moving_variance"] + p["epsilon"])  # 0.5
    expected = p["gamma"] * (p["x"] - p["moving_mean"]) / scale + p["beta"]  # 4.5
    centred = p["x"] - p["moving_mean"]
    wrong = [
        (p["gamma"] * centred / math.sqrt(p["moving_variance"]) + p["beta"],
         "epsilon is missing: Keras divides by sqrt(moving_variance + epsilon), and 0.249 + 0.001 = 0.25 is "
         "what makes the numbers round."),
        (p["gamma"] * centred / (p["moving_variance"] + p["epsilon"]) + p["beta"],
         "That divides by the variance; BatchNormalization divides by the standard deviation, its square root."),
        (p["gamma"] * centred / scale, "beta is missing: it is added after the scaling by gamma."),
        (centred / scale + p["beta"], "gamma is missing: the normalised value is multiplied by gamma, then beta added."),
        (centred / scale, "That is the normalised value; gamma and beta come after it."),
        (p["gamma"] * (centred / scale + p["beta"]), "beta is added after gamma scales, not before."),
        (p["beta"], "In inference mode the layer uses moving_mean and moving_variance, not the statistics of a "
                    "batch (a batch of one x would have variance 0)."),
    ]

    def correct(answer):
        return math.isclose(float(answer), expected, rel_tol=1e-6, abs_tol=1e-6)

    hint = "y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta."
    try:
        value = float(answer)
        hint = next((message for bad, message in wrong if math.isclose(value, bad, rel_tol=1e-6, abs_tol=1e-6)), hint)
    except (TypeError, ValueError):
        pass
    return judge(
        answer, correct,
        success="4.5: (4 - 3) / sqrt(0.249 + 0.001) = 1 / 0.5 = 2, times gamma 2, plus beta 0.5. The same every "
                "time, whatever else is in the batch: inference mode uses no batch statistics.",
        hint=hint,
    )


# --- 3. how many steps until the moving statistics cover 90% of the way -------------------------

MOMENTUM = 0.99
FRACTION = 0.9


def steps_to_cover(answer):
    """momentum=0.99, the batches' statistic constant: after how many training steps has the moving
    statistic first moved at least 90% of the way from its start to it?"""
    # After t steps the remaining distance is momentum ** t of the start's: the first t with <= 0.1.
    expected = math.ceil(math.log(1 - FRACTION) / math.log(MOMENTUM))             # 230
    assert MOMENTUM ** expected <= 1 - FRACTION < MOMENTUM ** (expected - 1)
    wrong = {
        expected - 1: "One short: 0.99 ** 229 = 0.1003, so after 229 steps 10.03% of the way is still left.",
        90: "Each step moves 1% of the *remaining* distance, not 1% of the whole way: the steps get smaller.",
        100: "1 / (1 - momentum) = 100 is the averaging window's usual size, where 1 - 0.99 ** 100 = 63% is covered.",
        22: "That is momentum 0.9's answer. Here each step keeps 99% of the remaining distance.",
    }

    def correct(answer):
        return not isinstance(answer, bool) and float(answer) == expected

    try:
        value = float(answer)
        if not value.is_integer():
            hint = "A number of steps is a whole number: which way do you round?"
        else:
            hint = wrong.get(int(value), "After t steps, momentum ** t of the distance is left: find the first t "
                                         "with 0.99 ** t <= 0.1.")
    except (TypeError, ValueError):
        hint = "Answer with a number of steps."
    return judge(
        answer, correct,
        success="230: 0.99 ** 230 = 0.0991 is the first power below 0.1 (log 0.1 / log 0.99 = 229.1). With Keras's "
                "default momentum, the moving statistics need hundreds of steps to forget their start, which is why "
                "a model evaluated after a few steps of training predicts badly in inference mode.",
        hint=hint,
    )


# --- 4. BatchNormalization's training-mode forward, by hand -------------------------------------

def _reference(x, gamma, beta, epsilon):
    mean = x.mean(axis=(0, 1, 2))
    variance = x.var(axis=(0, 1, 2))
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def _typical_mistakes(x, gamma, beta, epsilon):
    """(output, hint) for the usual wrong versions."""
    channel_axes = (0, 1, 2)
    mean, var = x.mean(axis=channel_axes), x.var(axis=channel_axes)
    return [
        (gamma * (x - mean) / np.sqrt(x.var(axis=channel_axes, ddof=1) + epsilon) + beta,
         "That uses the unbiased variance (ddof=1). BatchNormalization normalises with the biased one, "
         "np.var's default (it divides by the count, not count - 1)."),
        (gamma * (x - x.mean()) / np.sqrt(x.var() + epsilon) + beta,
         "That normalises all channels with one mean and one variance. Each channel has its own: average over "
         "every axis except the last (0, 1 and 2)."),
        (gamma * (x - x.mean(axis=(1, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(1, 2, 3), keepdims=True) + epsilon)
         + beta,
         "That normalises each sample over its own pixels and channels (what LayerNormalization does). "
         "BatchNormalization averages each channel over the batch and the pixels: axes (0, 1, 2)."),
        (gamma * (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + epsilon)
         + beta,
         "That normalises each sample's channel on its own (instance normalisation). The batch axis 0 belongs "
         "in the average too: that is what makes it *batch* normalisation."),
        (gamma * (x - mean) / np.sqrt(var) + beta,
         "epsilon is missing: divide by sqrt(variance + epsilon), which also keeps a constant channel finite."),
        (gamma * (x - mean) / (np.sqrt(var) + epsilon) + beta,
         "epsilon goes inside the square root: sqrt(variance + epsilon), as Keras computes it."),
        ((x - mean) / np.sqrt(var + epsilon),
         "Normalised, but gamma and beta are not applied: the layer returns gamma * x_hat + beta."),
    ]


def _cases():
    rng = np.random.default_rng(9)
    cases = []
    for shape in [(4, 3, 3, 2), (2, 5, 4, 3), (1, 2, 2, 4), (8, 1, 1, 5)]:
        channels = shape[-1]
        x = rng.normal(2.0, 3.0, shape) + rng.normal(0.0, 5.0, channels)  # each channel off centre
        gamma, beta = rng.uniform(0.5, 2.0, channels), rng.normal(0.0, 1.0, channels)
        cases.append((x, gamma, beta, 0.001))
    # a batch whose every channel has a tiny variance, where epsilon changes the answer a lot
    x = rng.normal(0.0, 0.01, (3, 2, 2, 2))
    cases.append((x, np.ones(2), np.zeros(2), 0.001))
    return cases


def batch_norm_forward(fn):
    """Write fn(x, gamma, beta, epsilon) -> y: BatchNormalization's training-mode output for x (N, H, W, C)."""
    cases = _cases()
    expected = [_reference(*case) for case in cases]

    def copies(case):
        x, gamma, beta, epsilon = case
        return x.copy(), gamma.copy(), beta.copy(), epsilon

    def correct(fn):
        for case, want in zip(cases, expected):
            got = np.asarray(returns(fn, *copies(case)), dtype=float)
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-9, atol=1e-9):
                return False
        return True

    hint = ("Per channel (the last axis): the mean and the biased variance over axes (0, 1, 2), then "
            "gamma * (x - mean) / sqrt(variance + epsilon) + beta.")
    if callable(fn):
        try:
            for case in cases:
                got = np.asarray(returns(fn, *copies(case)), dtype=float)
                message = next((message for bad, message in _typical_mistakes(*case)
                                if bad.shape == got.shape and np.allclose(got, bad, rtol=1e-9, atol=1e-9)
                                and not np.allclose(bad, _reference(*case), rtol=1e-9, atol=1e-9)), None)
                if message:
                    hint = message
                    break
        except Exception:  # the reader's function fails: judge reports that
            pass
    return judge(
        fn, correct,
        success="Each channel now has mean beta and standard deviation gamma * sqrt(var / (var + epsilon)), just "
                "under gamma. That is all of training mode's forward pass; the layer also updates its moving "
                "statistics with the same mean and variance.",
        hint=hint,
    )
