"""Chapter 5 (Flatten) exercises: each function checks one answer."""
import numpy as np

from kbook.exercises.checker import judge, returns


def flat_shape(answer):
    """What shape does Flatten() return for a batch of feature maps of shape (32, 7, 7, 64)?"""
    return judge(
        answer, lambda a: tuple(int(v) for v in a) == (32, 3136),
        success="(32, 3136): the batch axis stays, the rest becomes 7 * 7 * 64 = 3136 features.",
        hint="Flatten keeps the first (batch) axis and multiplies all the others together.",
    )


def flat_position(answer):
    """For x of shape (1, 4, 5, 3), at which index p does x[0, 2, 1, 2] land in Flatten()(x)[0]?"""
    return judge(
        answer, lambda a: int(a) == 35,
        success="p = (i * W + j) * C + k = (2 * 5 + 1) * 3 + 2 = 35: row-major, channels fastest.",
        hint="Flatten reads (H, W, C) in row-major order: k changes fastest, then j, then i. "
             "How many entries come before row i, column j?",
    )


def dense_params(answer):
    """Input (1, 28, 28, 1) -> Conv2D(8, 3) -> MaxPooling2D(2) -> Flatten() -> Dense(10):
    how many parameters does the Dense layer have?"""
    return judge(
        answer, lambda a: int(a) == 13530,
        success="Conv2D valid: 28 - 3 + 1 = 26; pool: 13; Flatten: 13 * 13 * 8 = 1352 features; "
                "Dense: 1352 * 10 + 10 = 13530.",
        hint="Follow the shape: Conv2D(8, 3) with 'valid' gives (26, 26, 8), MaxPooling2D(2) halves "
             "the spatial axes, Flatten multiplies them out; Dense has in * units + units parameters.",
    )


def flatten_channels_first(fn):
    """Write fn(x) -> Flatten(data_format="channels_first")(x) for x: (N, C, H, W)."""
    def correct(fn):
        x = np.random.default_rng(7).standard_normal((2, 3, 4, 5))
        got = np.asarray(returns(fn, x), dtype=float)
        expected = x.transpose(0, 2, 3, 1).reshape(2, -1)
        return got.shape == expected.shape and np.array_equal(got, expected)
    return judge(
        fn, correct,
        success="Keras moves the channels last first, so the vector is the same as for the "
                "channels_last copy of the image.",
        hint="x.reshape(N, -1) keeps the channels_first order (a whole channel, then the next). "
             "Keras transposes to (N, H, W, C) before reshaping.",
    )
