"""Chapter 5 (Flatten) exercises: each function checks one answer.

As in chapter 4, with the same helpers (kbook/exercises/checker.py): the expected answer is worked
out first, integers are asked for where a count or an index is asked, a shape is a tuple, function
answers get copies and run on several shapes (N != 2, H != W), float32 answers are accepted at
float32 tolerance, and the typical mistakes are named.
"""
import math

import numpy as np

from kbook.exercises.checker import integer_problem, judge, judge_function, shape_verdict


def _integer_verdict(answer, expected, wrong, default):
    """(correct, hint) for an answer that must be an integer."""
    problem = integer_problem(answer, fraction_hint="a count or an index is a whole number.")
    if problem:
        return False, problem[0].upper() + problem[1:]
    if int(answer) == expected:
        return True, None
    return False, wrong.get(int(answer), default)


# --- 1. the shape after Flatten -----------------------------------------------------------------

def flat_shape(answer):
    """What shape does Flatten() return for a batch of feature maps of shape (32, 7, 9, 64)?"""
    expected = (32, 7 * 9 * 64)                                       # (32, 4032)
    ok, hint = shape_verdict(
        answer, expected,
        wrong={
            (7 * 9 * 64,): "That drops the batch axis. Flatten keeps axis 0: 32 images in, 32 vectors out.",
            (32 * 7 * 9 * 64,): "That flattens the batch too. Flatten keeps axis 0 and multiplies the others.",
            (1, 32 * 7 * 9 * 64): "That flattens the batch too. Flatten keeps axis 0 and multiplies the others.",
            (32, 7 * 9): "The channels are flattened too: multiply H, W *and* C.",
            (32, 9 * 64): "Every axis after the batch is multiplied in, H included.",
            (32, 7 * 64): "Every axis after the batch is multiplied in, W included.",
            (32, 7 + 9 + 64): "The sizes multiply (H * W * C entries), they do not add.",
            (32, 7, 9 * 64): "Flatten gives a rank-2 output (N, features): every axis after the batch is multiplied in.",
        },
        default="Flatten keeps the first (batch) axis and multiplies all the others together.",
        fraction_hint="a shape holds whole numbers.",
    )
    return judge(
        answer, lambda a: ok,
        success="(32, 4032): the batch axis stays, the rest becomes 7 * 9 * 64 = 4032 features.",
        hint=hint,
    )


# --- 2. where one value lands ------------------------------------------------------------------

def flat_position(answer):
    """For x of shape (1, 4, 5, 3), at which index p does x[0, 2, 1, 2] land in Flatten()(x)[0]?"""
    h, w, c = 4, 5, 3
    i, j, k = 2, 1, 2
    expected = (i * w + j) * c + k                                    # 35
    ok, hint = _integer_verdict(
        answer, expected,
        wrong={
            (i * h + j) * c + k: "H and W are swapped: a row of the image holds W = 5 pixels, so row i starts after "
                                 "i * W pixels.",
            (k * h + i) * w + j: "That is the channels_first order (a whole channel, then the next). With "
                                 "channels_last the channels change fastest.",
            expected + 1: "Indices start at 0: p counts the entries *before* this one.",
            (i * w + j) * c: "Add k: the channel index moves the position within the pixel's C entries.",
            i * w + j: "Each pixel takes C = 3 entries: multiply the pixel's number by C, then add k.",
        },
        default="Flatten reads (H, W, C) in row-major order: k changes fastest, then j, then i. How many entries "
                "come before row i, column j?",
    )
    return judge(
        answer, lambda a: ok,
        success="p = (i * W + j) * C + k = (2 * 5 + 1) * 3 + 2 = 35: row-major, channels fastest.",
        hint=hint,
    )


# --- 3. Flatten decides the Dense layer's size ---------------------------------------------------

def dense_params(answer):
    """Input (1, 32, 32, 3) -> Conv2D(16, 3) -> MaxPooling2D(2) -> Flatten() -> Dense(10):
    how many parameters does the Dense layer have?"""
    conv = 32 - 3 + 1                                                 # 30: "valid"
    pooled = conv // 2                                                # 15
    features = pooled * pooled * 16                                  # 3600
    expected = features * 10 + 10                                     # 36010
    ok, hint = _integer_verdict(
        answer, expected,
        wrong={
            features * 10: "The bias is missing: Dense has one bias per unit, in * units + units.",
            conv * conv * 16 * 10 + 10: "MaxPooling2D(2) comes before Flatten: it halves H and W.",
            32 * 32 * 16 * 10 + 10: "Conv2D(16, 3) uses padding='valid' by default, and the pooling halves what it "
                                    "gives.",
            16 * 16 * 16 * 10 + 10: "Conv2D(16, 3) uses padding='valid' by default: 32 - 3 + 1 rows, not 32.",
            pooled * pooled * 10 + 10: "Flatten multiplies in the channels too: the Conv2D's 16 feature maps.",
            pooled * pooled * 3 * 10 + 10: "After the Conv2D there are 16 channels (one per filter), not the image's 3.",
            features: "That is the number of features Flatten gives; Dense(10) has a weight for each feature and "
                      "unit, plus the biases.",
            3 * 3 * 3 * 16 + 16: "That is the Conv2D's count. The question asks for the Dense layer's.",
            features * 10 + 10 + 3 * 3 * 3 * 16 + 16: "That counts the Conv2D too. The question asks for the Dense "
                                                      "layer's alone.",
        },
        default="Follow the shape: Conv2D(16, 3) with 'valid', then MaxPooling2D(2) halves the spatial axes, "
                "Flatten multiplies them out; Dense has in * units + units parameters.",
    )
    return judge(
        answer, lambda a: ok,
        success="Conv2D valid: 32 - 3 + 1 = 30; pool: 15; Flatten: 15 * 15 * 16 = 3600 features; Dense: "
                "3600 * 10 + 10 = 36010.",
        hint=hint,
    )


# --- 4. the same network with GlobalAveragePooling2D instead of Flatten ------------------------

def gap_dense_params(answer):
    """The same network with GlobalAveragePooling2D() in place of Flatten(): how many parameters does
    Dense(10) have now?"""
    expected = 16 * 10 + 10                                           # one feature per channel
    ok, hint = _integer_verdict(
        answer, expected,
        wrong={
            16 * 10: "The bias is missing: in * units + units.",
            15 * 15 * 16 * 10 + 10: "That is Flatten's count. GlobalAveragePooling2D averages each channel over the "
                                    "whole map: how many features are left?",
            15 * 15 * 10 + 10: "GlobalAveragePooling2D keeps the channels and removes H and W: (N, H, W, C) -> (N, C).",
            3 * 10 + 10: "The channels GlobalAveragePooling2D averages are the Conv2D's 16 feature maps, not the "
                         "image's 3.",
            10: "Dense(10) still has a weight per input feature and unit, plus its biases.",
            1 * 10 + 10: "GlobalAveragePooling2D returns one value per channel, not one per image: (N, C).",
        },
        default="GlobalAveragePooling2D turns (N, 15, 15, 16) into (N, 16); then Dense has in * units + units.",
    )
    return judge(
        answer, lambda a: ok,
        success="170: GlobalAveragePooling2D leaves 16 features (one mean per channel), so Dense(10) has 16 * 10 + 10 "
                "= 170 parameters, against 36010 after Flatten — and the count no longer depends on the image size.",
        hint=hint,
    )


# --- 5. Flatten(data_format="channels_first"), by hand -------------------------------------------

def _channels_first_cases():
    rng = np.random.default_rng(7)
    cases = [(rng.standard_normal(shape),) for shape in [(2, 3, 4, 5), (3, 2, 5, 4), (1, 4, 2, 3), (5, 1, 3, 2)]]
    cases.append((rng.standard_normal((3, 3, 4, 2)).astype(np.float32),))
    return cases


def _channels_first_mistakes(x):
    n = x.shape[0]
    return [
        (x.reshape(n, -1), "x.reshape(N, -1) keeps the channels_first order (a whole channel, then the next). Keras "
                           "transposes to (N, H, W, C) before reshaping."),
        (x.transpose(0, 3, 2, 1).reshape(n, -1), "H and W are swapped: (N, C, H, W) -> (N, H, W, C) is "
                                                 "transpose(0, 2, 3, 1)."),
        (x.transpose(0, 3, 1, 2).reshape(n, -1), "transpose(0, 3, 1, 2) is the way from channels_last to "
                                                 "channels_first. Here x is (N, C, H, W): move axis 1 to the end."),
        (x.transpose(0, 2, 1, 3).reshape(n, -1), "Move the channel axis (1) to the end: (N, H, W, C)."),
    ]


def _flat_shape_hint(got, want):
    n, features = want
    if got == (n * features,):
        return "That flattens the batch too: Flatten keeps axis 0, (N, C*H*W)."
    if len(got) == 4:
        return "The answer is rank 2: (N, H*W*C). Transpose, then reshape."
    return None


def flatten_channels_first(fn):
    """Write fn(x) -> Flatten(data_format="channels_first")(x) for x: (N, C, H, W)."""
    return judge_function(
        fn, _channels_first_cases(),
        lambda x: x.transpose(0, 2, 3, 1).reshape(x.shape[0], math.prod(x.shape[1:])),
        _channels_first_mistakes,
        success="Keras moves the channels last first, so the vector is the same as for the channels_last copy of "
                "the image.",
        hint="Flatten(data_format='channels_first') gives the same vector as Flatten() on the channels_last copy "
             "of the image: transpose (N, C, H, W) to (N, H, W, C), then reshape to (N, -1).",
        shape_hint=_flat_shape_hint,
    )
