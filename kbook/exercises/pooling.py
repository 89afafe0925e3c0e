"""Chapter 4 (Pooling) exercises: each function checks one answer.

Every checker works out the expected answer before it looks at the reader's, gives the
reader's function copies of its arguments (and says so when the function changed them),
tries it on several shapes (N != 2, H != W, so an H/W swap shows), accepts float32 answers
at float32 tolerance, and names the typical mistake when it recognises one.
"""
import numpy as np

from kbook.exercises.checker import judge, judge_function, shape_verdict
from kbook.layers import MaxPooling2D


# --- 1. the notes' layer on a rectangular batch ----------------------------------------------------

def valid_shape(answer):
    """MaxPooling2D(pool_size=2, strides=2) on an input of shape (3, 7, 11, 5): the output shape?"""
    expected = (3, 3, 5, 5)                      # floor((7 - 2) / 2) + 1, floor((11 - 2) / 2) + 1
    ok, hint = shape_verdict(
        answer, expected,
        wrong={
            (3, 4, 6, 5): "That rounds up (ceil(L / 2)), which is what padding='same' gives. With 'valid' a "
                          "window must fit inside the image: the last row and column that fit no window are dropped.",
            (3, 5, 3, 5): "H and W are swapped: the rows (7) come first in (N, H, W, C), the columns (11) second.",
            (3, 6, 10, 5): "That is the count for strides=1. strides=None means strides = pool_size = 2: the windows "
                           "sit side by side.",
            (3, 3, 5, 1): "Pooling works on each channel separately: the channels stay 5.",
            (1, 3, 5, 5): "The batch axis does not change: 3 images in, 3 out.",
            (3, 3, 5): "The output has 4 axes: (N, H, W, C).",
            (3, 5): "The output has 4 axes: (N, H, W, C).",
        },
        default="With padding='valid': floor((L - pool_size) / strides) + 1 per spatial axis; batch and "
                "channels do not change.",
        fraction_hint="did you forget the floor? A window that does not fit is not computed.",
    )
    return judge(
        answer, lambda a: ok,
        success="(3, 3, 5, 5): floor((7 - 2) / 2) + 1 = 3 rows and floor((11 - 2) / 2) + 1 = 5 columns; the last "
                "row and the last column fit no window and are dropped.",
        hint=hint,
    )


# --- 2. "same" padding -------------------------------------------------------------------------

def same_shape(answer):
    """MaxPooling2D(pool_size=3, strides=2, padding="same") on (8, 15, 20, 16): the output shape?"""
    expected = (8, 8, 10, 16)                    # ceil(15 / 2), ceil(20 / 2)
    ok, hint = shape_verdict(
        answer, expected,
        wrong={
            (8, 7, 10, 16): "15 / 2 = 7.5 rounded down. With 'same', partial windows at the border are kept: round "
                            "up, ceil(L / strides).",
            (8, 7, 9, 16): "That is the 'valid' count, floor((L - 3) / 2) + 1. With 'same' the image is padded so "
                           "that ceil(L / strides) windows fit.",
            (8, 10, 8, 16): "H and W are swapped: (N, H, W, C) = (8, 15, 20, 16) has 15 rows and 20 columns.",
            (8, 15, 20, 16): "'same' keeps the size only with strides=1. Here strides=2: every second position.",
            (8, 5, 7, 16): "That divides by the pool size. With 'same' the count is ceil(L / strides), whatever the "
                           "pool size.",
        },
        default="With padding='same' the output length is ceil(L / strides); the pool size only decides how much "
                "padding that takes. Batch and channels stay.",
        fraction_hint="'same' rounds up: ceil(L / strides).",
    )
    return judge(
        answer, lambda a: ok,
        success="(8, 8, 10, 16): with 'same', each axis gives ceil(L / strides) = ceil(15 / 2), ceil(20 / 2) "
                "outputs, whatever the pool size.",
        hint=hint,
    )


# --- 3. average pooling at a padded corner -----------------------------------------------------

def corner_average(answer):
    """AveragePooling2D(2, strides=1, padding="same") on [[1, 2], [3, 4]]: the bottom-right output?"""
    expected = 4.0                               # one real cell under the window: 4 / 1
    wrong = {
        1.0: "That averages the padding in as zeros: (4 + 0 + 0 + 0) / 4. TensorFlow divides by the number of "
             "real cells under the window.",
        2.5: "That is the mean of the whole image. The bottom-right output's window starts at the bottom-right cell.",
        0.0: "Padding is not a value: it is never averaged in, and the window holds one real cell.",
    }
    try:
        if isinstance(answer, (bool, np.bool_)):
            raise TypeError("a bool is not a value of the image")
        value = float(answer)
        ok = abs(value - expected) < 1e-6
        hint = wrong.get(value, "Draw the 2x2 window that starts at the bottom-right cell: how many of its cells "
                                "are real? Padding is not a zero that gets averaged in.")
    except (TypeError, ValueError):
        ok, hint = False, "Answer with a number."
    return judge(
        answer, lambda a: ok,
        success="4.0: that window covers one real cell (the 4) and three padded ones, and TensorFlow divides by the "
                "number of real cells.",
        hint=hint,
    )


# --- 4. which tied cell receives the gradient ----------------------------------------------------

def tie_winner(answer):
    """MaxPooling2D(2) on the window [[3, 3], [1, 0]]: which (row, col) of the window gets dL/dy?"""
    ok, hint = shape_verdict(
        answer, (0, 0),
        wrong={
            (0, 1): "That is the last maximum in row-major order. TensorFlow replaces its running max only on a "
                    "strictly larger value, so the first one keeps it.",
            (1, 0): "The 1 is not a maximum: the gradient goes to a cell that holds the window's max (3).",
            (1, 1): "The 0 is not a maximum: the gradient goes to a cell that holds the window's max (3).",
        },
        default="Answer with the (row, col) of one cell of the 2x2 window, counted from 0.",
        fraction_hint="the gradient is not split between the two 3s: name one cell.",
    )
    return judge(
        answer, lambda a: ok,
        success="(0, 0): on CPU TensorFlow gives the whole gradient to the first maximum in row-major order; the tie "
                "at (0, 1) gets nothing.",
        hint=hint,
    )


# --- 5. MaxPooling2D(2) forward, without a loop ----------------------------------------------------

def _max_pool_2x2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _forward_cases():
    rng = np.random.default_rng(5)
    shapes = [(3, 4, 6, 2), (1, 8, 2, 1), (5, 2, 4, 3), (2, 6, 6, 4)]
    cases = [(rng.standard_normal(shape),) for shape in shapes]
    cases.append((rng.standard_normal((3, 4, 8, 2)).astype(np.float32),))
    return cases


def _forward_mistakes(x):
    n, h, w, c = x.shape
    blocks = x.reshape(n, h // 2, 2, w // 2, 2, c)
    out = [
        (x[:, ::2, ::2], "That keeps the top-left cell of each window (a subsampling). Max pooling keeps the "
                         "largest of the four."),
        (blocks.mean(axis=(2, 4)), "That is average pooling: take the max of each 2x2 block."),
        (x.reshape(n, 2, h // 2, 2, w // 2, c).max(axis=(1, 3)),
         "reshape(N, 2, H/2, 2, W/2, C) groups cells H/2 apart, not neighbours: the axis of size 2 must come "
         "*after* the block axis, (N, H/2, 2, W/2, 2, C)."),
        (blocks.max(axis=(1, 3)), "That takes the max over the blocks (axes 1 and 3); the window's own axes are 2 "
                                  "and 4."),
    ]
    if h != w:
        out.append((x.reshape(n, w // 2, 2, h // 2, 2, c).max(axis=(2, 4)),
                    "H and W are swapped in the reshape: x.shape is (N, H, W, C)."))
    return out


def _max_pool_shape_hint(got, want):
    if len(got) == len(want) and got[1:3] == want[2:0:-1]:
        return "H and W are swapped: x.shape is (N, H, W, C), rows before columns."
    if got == want[:1] + want[3:] or got == want[3:]:
        return "That pools the whole image. MaxPooling2D(2) keeps one value per 2x2 block: (N, H/2, W/2, C)."
    return None


def max_pool_forward(fn):
    """Write fn(x) -> MaxPooling2D(2) of x: (N, H, W, C) with even H and W, without a loop over pixels."""
    return judge_function(
        fn, _forward_cases(), _max_pool_2x2, _forward_mistakes,
        success="each output is the max of a 2x2 block, and a reshape lines those blocks up on their own axes.",
        hint="Reshape (N, H, W, C) to (N, H/2, 2, W/2, 2, C): the two axes of size 2 run over one window. "
             "Take the max over them.",
        shape_hint=_max_pool_shape_hint,
    )


# --- 6. GlobalAveragePooling2D ----------------------------------------------------------------------

def _global_cases():
    rng = np.random.default_rng(6)
    cases = [(rng.standard_normal(shape),) for shape in [(3, 4, 5, 2), (1, 2, 7, 3), (4, 3, 3, 1)]]
    cases.append((rng.standard_normal((5, 6, 2, 4)).astype(np.float32),))
    return cases


def _global_mistakes(x):
    return [
        (x.max(axis=(1, 2)), "That is GlobalMaxPooling2D: take the mean."),
        (x.mean(axis=(0, 1, 2)), "That averages over the batch too: each sample keeps its own means."),
        (x.mean(axis=(2, 3)), "That averages over W and C, as if x were (N, C, H, W). Here x is (N, H, W, C)."),
    ]


def _global_shape_hint(got, want):
    n, c = want
    if got == ():
        return "One number for the whole batch: GlobalAveragePooling2D keeps one mean per sample and channel, (N, C)."
    if got == (n, 1, 1, c):
        return "That is keepdims=True's shape. GlobalAveragePooling2D() returns (N, C)."
    if got == (c,):
        return "That averages over the batch too: each sample keeps its own means, (N, C)."
    if len(got) == 3 and got[0] == n:
        return "Average over both spatial axes, 1 and 2, and keep batch and channels: (N, C)."
    return None


def global_average(fn):
    """Write fn(x) -> GlobalAveragePooling2D of x: (N, H, W, C)."""
    return judge_function(
        fn, _global_cases(), lambda x: x.mean(axis=(1, 2)), _global_mistakes,
        success="one mean per channel per sample: shape (N, C), not a scalar.",
        hint="Average over the two spatial axes only (1 and 2); the result keeps the batch and the channels: (N, C).",
        shape_hint=_global_shape_hint,
    )


# --- 7. MaxPooling2D backward on one channel -----------------------------------------------------------

def _backward_reference(x, dy, pool, stride):
    """dL/dx from kbook's MaxPooling2D, proved identical to tf.keras (ties included)."""
    layer = MaxPooling2D(pool, strides=stride, dtype="float64")
    layer(x.astype(np.float64)[None, :, :, None])
    return layer.backward(dy.astype(np.float64)[None, :, :, None])[0, :, :, 0]


def _windows(x, dy, pool, stride):
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            yield i, j, (slice(i * stride, i * stride + pool), slice(j * stride, j * stride + pool))


def _route(x, dy, pool, stride, share, accumulate=True):
    """dx with ``share(window, dy_ij)`` placed in each window: the typical versions of backward."""
    dx = np.zeros(x.shape)
    for i, j, window in _windows(x, dy, pool, stride):
        part = share(x[window], dy[i, j])
        if accumulate:
            dx[window] += part
        else:
            dx[window] = np.where(part != 0, part, dx[window])
    return dx


def _first_max(patch, g):
    out = np.zeros(patch.shape)
    out[np.unravel_index(np.argmax(patch), patch.shape)] = g
    return out


def _last_max(patch, g):
    out = np.zeros(patch.shape)
    flat = patch.size - 1 - int(np.argmax(patch.ravel()[::-1]))
    out[np.unravel_index(flat, patch.shape)] = g
    return out


def _backward_mistakes(x, dy, pool, stride):
    return [
        (_route(x, dy, pool, stride, lambda p, g: np.full(p.shape, g)),
         "That sends dy to every cell of the window. Only the cell that was the max influenced the output: it "
         "alone receives dy; the others get 0."),
        (_route(x, dy, pool, stride, lambda p, g: np.full(p.shape, g / p.size)),
         "That shares dy equally over the window: average pooling's backward. Max pooling routes all of dy to the "
         "window's max."),
        (_route(x, dy, pool, stride, _first_max, accumulate=False),
         "Where windows overlap (strides < pool_size) a cell can be the max of several windows: add their dy "
         "(dx[...] += ...), do not overwrite."),
        (_route(x, dy, pool, stride, lambda p, g: (p == p.max()) * g),
         "With tied maxima that gives dy to every tied cell. MaxPooling2D gives all of it to the first maximum in "
         "row-major order (np.argmax finds it)."),
        (_route(x, dy, pool, stride, lambda p, g: (p == p.max()) * g / (p == p.max()).sum()),
         "Splitting dy among tied maxima is GlobalMaxPooling2D's rule (reduce_max). MaxPooling2D gives all of it to "
         "the first maximum in row-major order."),
        (_route(x, dy, pool, stride, _last_max),
         "With ties that picks the last maximum. TensorFlow scans the window row by row and keeps the first."),
        (_route(x, dy, pool, stride, lambda p, g: _first_max(p.T, g).T),
         "With ties that scans the window column by column. Row-major order: along the first row, then the next."),
    ]


def _backward_cases():
    rng = np.random.default_rng(11)
    cases = []
    for (h, w), pool, stride in [((4, 6), 2, 2), ((5, 7), 3, 2), ((4, 5), 2, 1), ((6, 4), 3, 1)]:
        x = rng.standard_normal((h, w))
        dy = rng.standard_normal(((h - pool) // stride + 1, (w - pool) // stride + 1))
        cases.append((x, dy, pool, stride))
    # small integers: most windows hold tied maxima
    x = rng.integers(0, 3, size=(5, 6)).astype(np.float64)
    cases.append((x, rng.standard_normal((4, 5)), 2, 1))
    x = rng.integers(0, 2, size=(4, 4)).astype(np.float64)
    cases.append((x, rng.standard_normal((2, 2)), 2, 2))
    # float32, as a layer of a float32 model sees them
    x = rng.standard_normal((5, 5)).astype(np.float32)
    cases.append((x, rng.standard_normal((3, 3)).astype(np.float32), 3, 1))
    return cases


def _backward_shape_hint(got, want):
    if len(got) == 2 and got == want[::-1]:
        return "H and W are swapped: dx has x's shape (H, W)."
    if len(got) == 2 and got[0] <= want[0] and got[1] <= want[1]:
        return "dL/dx has the input's shape (H, W), one gradient per input cell, not the output's."
    return None


def max_pool_backward(fn):
    """Write fn(x, dy, pool, stride) -> dL/dx of MaxPooling2D(pool, strides=stride) ("valid"), for one
    channel: x (H, W), dy (H_out, W_out)."""
    return judge_function(
        fn, _backward_cases(), _backward_reference, _backward_mistakes,
        success="each window's dy goes to its first maximum, and a cell that wins several overlapping windows adds "
                "their dy up: exactly what TensorFlow's gradient does.",
        hint="Start from dx = np.zeros_like(x). For each output (i, j): take the window x[i*s : i*s+pool, "
             "j*s : j*s+pool], find its first maximum (np.argmax), and add dy[i, j] to that cell of dx.",
        shape_hint=_backward_shape_hint,
    )
