"""Chapter 3 (Conv2D) exercises: each function checks one answer.

Every checker works out the expected answer before it looks at the reader's, gives the
reader's function copies of its arguments (and says so when the function changed them),
tries it on several shapes (rectangular images and kernels, so an H/W swap shows), accepts
float32 answers at float32 tolerance, and names the typical mistake when it recognises one.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kbook.exercises.checker import integer_problem, is_integer, judge, judge_function, returns, shape_verdict


# --- 1. output shape ------------------------------------------------------------------------------

def output_shape(answer):
    """Conv2D(16, kernel_size=5, strides=2) (padding "valid") on (2, 32, 24, 3): the output shape?"""
    expected = (2, 14, 10, 16)                   # floor((32 - 5) / 2) + 1, floor((24 - 5) / 2) + 1
    ok, hint = shape_verdict(
        answer, expected,
        wrong={
            (2, 15, 11, 16): "That rounds up. With 'valid' a window must fit inside the image: floor((L - k) / s) + 1.",
            (2, 16, 12, 16): "That is padding='same', ceil(L / strides). With 'valid' nothing is padded: "
                             "floor((L - k) / s) + 1.",
            (2, 28, 20, 16): "That is the count for strides=1. With strides=2 the kernel moves two pixels at a time.",
            (2, 13, 9, 16): "Did you forget the + 1? The first window sits at 0, then one more every `strides` pixels.",
            (2, 14, 10, 3): "The channels become `filters` (16): each filter makes one output map, summed over the "
                            "3 input channels.",
            (2, 10, 14, 16): "H and W are swapped: (N, H, W, C) = (2, 32, 24, 3) has 32 rows and 24 columns.",
            (1, 14, 10, 16): "The batch axis does not change: 2 images in, 2 out.",
            (14, 10, 16): "Keep the batch axis: the output is (N, H_out, W_out, filters).",
        },
        default="With padding='valid': floor((L - kernel_size) / strides) + 1 per spatial axis; the batch stays "
                "and the channels become `filters`.",
        fraction_hint="did you forget the floor? A window that does not fit is not computed.",
    )
    return judge(
        answer, lambda a: ok,
        success="(2, 14, 10, 16): floor((32 - 5) / 2) + 1 = 14 rows, floor((24 - 5) / 2) + 1 = 10 columns, "
                "one channel per filter.",
        hint=hint,
    )


# --- 2. parameter count ---------------------------------------------------------------------------

def param_count(answer):
    """How many numbers does Conv2D(32, kernel_size=3) learn on RGB images (N, 64, 64, 3)?"""
    expected = 3 * 3 * 3 * 32 + 32
    wrong = {
        3 * 3 * 3 * 32: "That is the kernel alone: each of the 32 filters also has a bias.",
        3 * 3 * 32 + 32: "That forgets the input channels: each filter has one 3x3 slice per input channel (3), "
                         "a kernel (3, 3, 3, 32).",
        3 * 3 * 32: "Each filter has a 3x3 slice per input channel (3), and a bias.",
        3 * 3 * 3 * 32 + 3 * 32: "One bias per filter, not one per filter and input channel: the channels are "
                                 "summed first, then the bias is added once.",
        3 * 3 * 3 + 1: "That is one filter. There are 32.",
        64 * 64 * 3 * 32 + 32: "That is a Dense layer on the flattened image. A convolution's kernel is only 3x3: "
                               "the image size plays no part.",
        64 * 64 * 3 * 3 * 3 * 32 + 32: "The same kernel is used at every position (weight sharing): count it once.",
    }
    default = ("The kernel is (kh, kw, in_channels, filters), the bias has one number per filter. "
               "Does the 64 x 64 matter?")
    problem = None if answer is None else integer_problem(answer, "a count is a whole number.")
    ok = answer is not None and problem is None and int(answer) == expected
    hint = problem or (wrong.get(int(answer), default) if answer is not None else default)
    return judge(
        answer, lambda a: ok,
        success="kernel (3, 3, 3, 32) has 864, bias (32,) has 32: 896. The image size plays no part.",
        hint=hint,
    )


# --- 3. TensorFlow's "same" padding ---------------------------------------------------------------

def same_padding(answer):
    """padding="same", kernel_size=3, strides=2, input height 8: (rows on top, rows at the bottom)?"""
    ok, hint = shape_verdict(
        answer, (0, 1),
        wrong={
            (1, 0): "The total (1 row) is right, but TensorFlow puts the odd row at the bottom (and the odd column "
                    "on the right), not on top.",
            (1, 1): "That pads as for strides=1 (kernel - 1 = 2 rows). With strides=2 only ceil(8 / 2) = 4 outputs "
                    "are needed: how many rows do they read?",
            (0, 0): "4 outputs with strides=2 and a 3-row kernel read (4 - 1) * 2 + 3 = 9 rows: one more than 8.",
            (2, 0): "Only one row is missing: (4 - 1) * 2 + 3 = 9 rows read, 8 there.",
        },
        default="Output rows: ceil(8 / 2). Rows they read: (out - 1) * stride + kernel. The total padding is the "
                "difference; when it is odd, which side gets the extra row?",
        fraction_hint="padding is whole rows: total // 2 on top, the rest at the bottom.",
        noun="answer",
    )
    if not ok and isinstance(answer, tuple) and any(is_integer(v) and v < 0 for v in answer):
        hint = ("Padding is never negative: it adds rows of zeros (0 or more) on each side. "
                "Here 4 outputs read (4 - 1) * 2 + 3 = 9 rows, one more than 8: where does that row go?")
    return judge(
        answer, lambda a: ok,
        success="(0, 1): 4 output rows need (4 - 1) * 2 + 3 = 9 input rows, one more than 8, "
                "and TensorFlow puts the odd row at the bottom.",
        hint=hint,
    )


# --- 4. one channel, one filter -------------------------------------------------------------------

def _correlate(image, kernel):
    windows = sliding_window_view(image, kernel.shape)            # (H - kh + 1, W - kw + 1, kh, kw)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _single_cases():
    rng = np.random.default_rng(3)
    shapes = [((7, 7), (3, 3)), ((6, 9), (2, 4)), ((5, 5), (5, 5)), ((8, 4), (3, 1))]
    cases = [(rng.standard_normal(i), rng.standard_normal(k)) for i, k in shapes]
    cases.append((rng.standard_normal((6, 7)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)))
    return cases


def _single_mistakes(image, kernel):
    return [(_correlate(image, kernel[::-1, ::-1]),
             "That flips the kernel: a true convolution. Conv2D computes a cross-correlation: "
             "output[i, j] = (image[i:i+kh, j:j+kw] * kernel).sum(), no flip."),
            (_correlate(image, kernel).T,
             "Your output is transposed: rows and columns swapped. output[i, j] belongs to row i, column j.")]


def _square(got, want):
    """The hint for a square (H', W') where a rectangle was due: H and W (or kh and kw) mixed up."""
    if got[0] == got[1] and want[0] != want[1]:
        return (f"Your maps are square, {got}, but this image or kernel is a rectangle: they are {want}. "
                "Use H and W, kh and kw, separately (image.shape, kernel.shape).")
    return None


def _single_shape_hint(got, want):
    if len(got) != 2:
        return f"A one-channel, one-filter convolution gives a 2-D map; yours has {len(got)} axes."
    if got == want[::-1] and got != want:
        return "H and W are swapped: the output is (H - kh + 1, W - kw + 1), rows first."
    if square := _square(got, want):
        return square
    if got == (want[0] - 1, want[1] - 1):
        return "One row and column short: there are H - kh + 1 window positions per column (the + 1)."
    if got[0] > want[0] or got[1] > want[1]:
        return ("Your output is larger than the 'valid' one, (H - kh + 1, W - kw + 1): did you pad ('same') or "
                "let windows run past the border?")
    return None


def conv_single_channel(fn):
    """Write fn(image, kernel) -> the "valid" cross-correlation of a 2-D image with a 2-D kernel (stride 1)."""
    return judge_function(
        fn, _single_cases(), _correlate, _single_mistakes,
        success="that is Conv2D with one channel and one filter: every output pixel is "
                "sum(window * kernel), and the kernel is not flipped.",
        hint="The output is (H - kh + 1, W - kw + 1); output[i, j] = (image[i:i+kh, j:j+kw] * kernel).sum(). "
             "Rectangular images and kernels too.",
        shape_hint=_single_shape_hint,
    )


# --- 5. TensorFlow's "same" padding as a function -------------------------------------------------

def _tf_pads(length, kernel_size, stride):
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + kernel_size - length, 0)
    return total // 2, total - total // 2


def _pad_mistakes():
    def before_first(L, k, s):
        b, a = _tf_pads(L, k, s)
        return a, b

    def unclipped(L, k, s):
        total = (math.ceil(L / s) - 1) * s + k - L
        return total // 2, total - total // 2

    def floor_out(L, k, s):
        total = max((L // s - 1) * s + k - L, 0)
        return total // 2, total - total // 2

    def stride_one(L, k, s):
        return (k - 1) // 2, k - 1 - (k - 1) // 2

    return [
        (before_first, "The totals are right, but TensorFlow puts the odd cell *after* (bottom/right): "
                       "before = total // 2, after = the rest."),
        (unclipped, "When the stride is larger than the kernel the formula goes negative (e.g. length 5, kernel 1, "
                    "stride 3): padding is never negative, take max(total, 0)."),
        (floor_out, "The number of outputs with 'same' is ceil(length / stride), not floor."),
        (stride_one, "kernel_size - 1 is the total only for strides=1. In general: "
                     "max((ceil(L / s) - 1) * s + k - L, 0)."),
    ]


def _judge_pads(fn, grid, expected):
    """(correct, hint or None) for the reader's fn over every (length, kernel_size, stride) of ``grid``."""
    got = {}
    for args in grid:
        answer = returns(fn, *args)
        if not isinstance(answer, tuple):
            return False, "Answer with a tuple, (before, after): (0, 1) == [0, 1] is False in Python."
        if len(answer) != 2:
            return False, f"Answer with two numbers, (before, after); you returned {answer!r}."
        problem = next((p for p in (integer_problem(v, "padding is whole cells: total // 2 before, the rest after.")
                                    for v in answer) if p), None)
        if problem:
            return False, problem
        got[args] = tuple(int(v) for v in answer)
    if got == expected:
        return True, None
    for mistake, hint in _pad_mistakes():
        if all(got[args] == mistake(*args) for args in grid):
            return False, hint
    L, k, s = next(args for args in grid if got[args] != expected[args])
    return False, (f"For length={L}, kernel_size={k}, stride={s} your function gives {got[(L, k, s)]}. "
                   "out = ceil(L / s); total = max((out - 1) * s + k - L, 0); before = total // 2, after = the rest.")


def tf_same_pads(fn):
    """Write fn(length, kernel_size, stride) -> (before, after): TensorFlow's "same" padding on one axis."""
    grid = [(L, k, s) for L in range(1, 13) for k in range(1, 6) for s in range(1, 5)]
    expected = {args: _tf_pads(*args) for args in grid}      # worked out before the reader's code runs
    outcome = {"error": None, "ok": None,
               "hint": "out = ceil(L / s); total = max((out - 1) * s + k - L, 0) (it can be 0, never negative); "
                       "before = total // 2, after = the rest."}
    if fn is not None and not callable(fn):
        outcome["error"] = TypeError(f"your answer is of type {type(fn).__name__}, not a function")
    elif callable(fn):
        try:
            outcome["ok"], named = _judge_pads(fn, grid, expected)
            outcome["hint"] = named or outcome["hint"]
        except Exception as e:  # the reader's code (or None, the placeholder): judge reports it
            outcome["error"] = e

    def correct(_):
        if outcome["error"] is not None:
            raise outcome["error"]
        return outcome["ok"]

    return judge(
        fn, correct,
        success="right for every length, kernel and stride: the total is max((ceil(L/s) - 1) * s + k - L, 0), "
                "and the odd cell goes after.",
        hint=outcome["hint"],
    )


# --- 6. several channels, several filters -----------------------------------------------------------

def _multi_reference(image, kernel, bias):
    kh, kw = kernel.shape[:2]
    windows = sliding_window_view(image, (kh, kw), axis=(0, 1))   # (H', W', C, kh, kw)
    return np.einsum("ijcab,abcf->ijf", windows, kernel) + bias


def _multi_cases():
    rng = np.random.default_rng(7)
    shapes = [((7, 9, 3), (3, 2, 3, 4)), ((5, 5, 1), (3, 3, 1, 2)), ((6, 8, 2), (1, 3, 2, 3)), ((4, 6, 5), (2, 2, 5, 1))]
    cases = [(rng.standard_normal(i), rng.standard_normal(k), rng.standard_normal(k[-1])) for i, k in shapes]
    cases.append((rng.standard_normal((6, 5, 3)).astype(np.float32), rng.standard_normal((3, 3, 3, 2)).astype(np.float32),
                  rng.standard_normal(2).astype(np.float32)))
    return cases


def _multi_mistakes(image, kernel, bias):
    C = image.shape[-1]
    return [
        (_multi_reference(image, kernel, 0 * bias),
         "The bias is missing: add bias[f] to filter f's map (after the sum over channels)."),
        (_multi_reference(image[..., :1], kernel[:, :, :1], bias),
         "That reads only the first channel. Each filter sums its per-channel results over all C channels."),
        (_multi_reference(image[..., -1:], kernel[:, :, -1:], bias),
         "That reads only the last channel (the notes' test_image[..., -1:]). Each filter sums over all C channels."),
        (_multi_reference(image, kernel / C, bias),
         "That averages over the channels. A filter *sums* its per-channel results."),
        (_multi_reference(image, kernel, C * bias),
         "The bias is added once per filter, after the sum over channels, not once per channel."),
        (_multi_reference(image, kernel[::-1, ::-1], bias),
         "That flips the kernel (a true convolution). Conv2D is a cross-correlation: no flip."),
    ]


def _multi_shape_hint(got, want):
    h, w, f = want
    if len(got) == 4 and got[:2] == (h, w) and got[-1] == f:
        return ("Your output keeps the channel axis, (H', W', C, F): each filter must *sum* its C per-channel "
                "results into one map.")
    if got == (f, h, w) and got != want:
        return "The filters go last: (H', W', F), as in Keras's channels_last."
    if got == (h, w):
        return "One map per filter: the output is (H', W', F)."
    if got == (w, h, f) and got != want:
        return "H and W are swapped: the output is (H - kh + 1, W - kw + 1, F)."
    if len(got) == 3 and got[-1] == f:
        return _square(got[:2], want[:2])
    return None


def multi_channel(fn):
    """Write fn(image, kernel, bias) -> the "valid" Conv2D output (stride 1) for one image:
    image (H, W, C), kernel (kh, kw, C, F), bias (F,) -> (H - kh + 1, W - kw + 1, F)."""
    return judge_function(
        fn, _multi_cases(), _multi_reference, _multi_mistakes,
        success="each filter correlates every input channel with its own kernel slice, sums the C results and adds "
                "its bias: one map per filter, exactly Conv2D.",
        hint="For each filter f and window (i, j): (image[i:i+kh, j:j+kw, :] * kernel[:, :, :, f]).sum() + bias[f] "
             "— the sum runs over the window *and* the channels.",
        shape_hint=_multi_shape_hint,
    )
