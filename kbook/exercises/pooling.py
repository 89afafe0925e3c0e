"""Chapter 4 (Pooling) exercises: each function checks one answer."""
import numpy as np

from kbook.exercises.checker import judge, returns


def _shape(answer):
    return tuple(int(v) for v in answer)


def valid_shape(answer):
    """What shape does MaxPooling2D(pool_size=2, strides=2) return for an input of shape (1, 7, 7, 1)?"""
    return judge(
        answer, lambda a: _shape(a) == (1, 3, 3, 1),
        success="(1, 3, 3, 1): floor((7 - 2) / 2) + 1 = 3; the 7th row and column fit no window "
                "and are dropped.",
        hint="With padding='valid' a window must fit: count the start positions 0, 2, 4, ... whose "
             "window of 2 stays inside 7 cells. Batch and channels do not change.",
    )


def same_shape(answer):
    """MaxPooling2D(pool_size=3, strides=2, padding="same") on (8, 15, 20, 16): the output shape?"""
    return judge(
        answer, lambda a: _shape(a) == (8, 8, 10, 16),
        success="(8, 8, 10, 16): with 'same', each axis gives ceil(L / strides) = ceil(15/2), "
                "ceil(20/2) outputs, whatever the pool size.",
        hint="With padding='same' the output length is ceil(L / strides); the pool size only decides "
             "how much padding that takes. Batch and channels stay.",
    )


def corner_average(answer):
    """AveragePooling2D(2, strides=1, padding="same") on [[1, 2], [3, 4]]: the bottom-right output?"""
    return judge(
        answer, lambda a: abs(float(a) - 4.0) < 1e-9,
        success="4.0: that window covers one real cell (the 4) and three padded ones, and TensorFlow "
                "divides by the number of real cells.",
        hint="Draw the 2x2 window that starts at the bottom-right cell: how many of its cells are real? "
             "Padding is not a zero that gets averaged in.",
    )


def tie_winner(answer):
    """MaxPooling2D(2) on the window [[3, 3], [1, 0]]: which (row, col) of the window gets dL/dy?"""
    return judge(
        answer, lambda a: _shape(a) == (0, 0),
        success="(0, 0): on CPU TensorFlow gives the whole gradient to the first maximum in row-major "
                "order; the tie at (0, 1) gets nothing.",
        hint="Both 3s are maxima, but the gradient is not split. Scan the window row by row: which "
             "maximum does the scan meet first?",
    )


def max_pool_forward(fn):
    """Write fn(x) -> MaxPooling2D(2) of x: (N, H, W, C) with even H and W, without a loop over pixels."""
    def correct(fn):
        rng = np.random.default_rng(5)
        for shape in [(2, 4, 6, 3), (1, 8, 2, 1)]:
            x = rng.standard_normal(shape)
            n, h, w, c = shape
            expected = x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
            got = np.asarray(returns(fn, x), dtype=float)
            if got.shape != expected.shape or not np.array_equal(got, expected):
                return False
        return True
    return judge(
        fn, correct,
        success="each output is the max of a 2x2 block, and a reshape lines those blocks up on their own axes.",
        hint="Reshape (N, H, W, C) to (N, H/2, 2, W/2, 2, C): the two axes of size 2 run over one window. "
             "Take the max over them.",
    )


def global_average(fn):
    """Write fn(x) -> GlobalAveragePooling2D of x: (N, H, W, C)."""
    def correct(fn):
        x = np.random.default_rng(6).standard_normal((3, 4, 5, 2))
        got = np.asarray(returns(fn, x), dtype=float)
        return got.shape == (3, 2) and np.allclose(got, x.mean(axis=(1, 2)))
    return judge(
        fn, correct,
        success="one mean per channel per sample: shape (N, C), not a scalar.",
        hint="Average over the two spatial axes only (1 and 2); the result keeps the batch and the "
             "channels: (N, C).",
    )
