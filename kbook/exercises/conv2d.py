"""Chapter 3 (Conv2D) exercises: each function checks one answer."""
import math

import numpy as np

from kbook.exercises.checker import judge, returns


def output_shape(answer):
    """What shape does Conv2D(16, kernel_size=5, strides=2) (padding "valid") give for (2, 32, 32, 3)?"""
    return judge(
        answer, lambda a: tuple(int(v) for v in a) == (2, 14, 14, 16),
        success="(2, 14, 14, 16): floor((32 - 5) / 2) + 1 = 14 rows and columns, one channel per filter.",
        hint="valid: H_out = floor((H - k) / s) + 1 along each spatial axis; the batch stays, "
             "and the channels become `filters`.",
    )


def param_count(answer):
    """How many numbers does Conv2D(32, kernel_size=3) learn on RGB images (N, 64, 64, 3)?"""
    return judge(
        answer, lambda a: int(a) == 3 * 3 * 3 * 32 + 32,
        success="kernel (3, 3, 3, 32) has 864, bias (32,) has 32: 896. The image size plays no part.",
        hint="The kernel is (kh, kw, in_channels, filters), the bias has one number per filter. "
             "Does the 64 x 64 matter?",
    )


def same_padding(answer):
    """padding="same", kernel_size=3, strides=2, input height 8: (rows on top, rows at the bottom)?"""
    return judge(
        answer, lambda a: tuple(int(v) for v in a) == (0, 1),
        success="(0, 1): 4 output rows need (4 - 1) * 2 + 3 = 9 input rows, one more than 8, "
                "and TensorFlow puts the odd row at the bottom.",
        hint="Output rows: ceil(8 / 2). Rows they need: (out - 1) * stride + kernel. The total padding is "
             "the difference; when it is odd, which side gets the extra row?",
    )


def _reference_conv(image, kernel):
    kh, kw = kernel.shape
    ho, wo = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))[:ho, :wo]
    return np.einsum("ijkl,kl->ij", windows, kernel)


def conv_single_channel(fn):
    """Write fn(image, kernel) -> the "valid" cross-correlation of a 2-D image with a 2-D kernel (stride 1)."""
    def correct(fn):
        rng = np.random.default_rng(3)
        for image_shape, kernel_shape in [((7, 7), (3, 3)), ((6, 9), (2, 4)), ((5, 5), (5, 5))]:
            image, kernel = rng.standard_normal(image_shape), rng.standard_normal(kernel_shape)
            got = np.asarray(returns(fn, image, kernel), dtype=float)
            expected = _reference_conv(image, kernel)
            if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
                return False
        return True
    return judge(
        fn, correct,
        success="that is Conv2D with one channel and one filter: every output pixel is "
                "sum(window * kernel), and the kernel is not flipped.",
        hint="The output is (H - kh + 1, W - kw + 1); output[i, j] = (image[i:i+kh, j:j+kw] * kernel).sum(). "
             "Rectangular kernels too; do not flip the kernel (Keras does not).",
    )


def tf_same_pads(fn):
    """Write fn(length, kernel_size, stride) -> (before, after): TensorFlow's "same" padding on one axis."""
    def correct(fn):
        for length in range(1, 13):
            for k in range(1, 6):
                for s in range(1, 5):
                    out = math.ceil(length / s)
                    total = max((out - 1) * s + k - length, 0)
                    if tuple(int(v) for v in returns(fn, length, k, s)) != (total // 2, total - total // 2):
                        return False
        return True
    return judge(
        fn, correct,
        success="right for every length, kernel and stride: the total is max((ceil(L/s) - 1) * s + k - L, 0), "
                "and the odd cell goes after.",
        hint="out = ceil(L / s); total = max((out - 1) * s + k - L, 0) (it can be 0, never negative); "
             "before = total // 2, after = the rest.",
    )
