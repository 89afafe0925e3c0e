"""A real photograph to convolve and pool, from a package that is already installed.

The book downloads nothing: the photo is the portrait of Grace Hopper that ships with
matplotlib (``matplotlib.cbook.get_sample_data("grace_hopper.jpg")``).
``sample_photo`` turns it into a small grayscale image in [0, 1], the same on every
call and every machine with the pinned packages (pure NumPy after decoding).
"""
import functools

import numpy as np

PHOTO = "grace_hopper.jpg"
# The portrait is 600 x 512 (height x width); this square keeps the face and the cap.
_CROP_ROWS = slice(30, 542)
_CROP_COLS = slice(0, 512)
# ITU-R BT.601 luma, the weights of PIL's "L" mode and of most grayscale conversions.
_LUMA = np.array([0.299, 0.587, 0.114])


@functools.lru_cache(maxsize=None)
def _photo_rgb():
    from matplotlib import cbook
    from matplotlib import image as mpimg

    with cbook.get_sample_data(PHOTO) as f:
        rgb = mpimg.imread(f, format="jpg")
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.max() > 1.0:
        rgb = rgb / 255.0
    return rgb[_CROP_ROWS, _CROP_COLS, :3]


def _area_resize(image, height, width):
    """Shrink by averaging the source pixels that fall in each target pixel (no library resampler)."""
    h, w = image.shape[:2]
    if height > h or width > w:
        raise ValueError(f"sample_photo: can only shrink the {h}x{w} photo, asked for {height}x{width}.")
    rows = np.arange(height + 1) * h // height
    cols = np.arange(width + 1) * w // width
    summed = np.add.reduceat(np.add.reduceat(image, rows[:-1], axis=0), cols[:-1], axis=1)
    counts = np.diff(rows)[:, None] * np.diff(cols)[None, :]
    if image.ndim == 3:
        counts = counts[..., None]
    return summed / counts


def sample_photo(size=64, color=False, dtype="float64"):
    """Grace Hopper's portrait, square-cropped and shrunk, values in [0, 1].

    Args:
        size: an int (square) or ``(height, width)``, at most 512.
        color: ``False`` -> grayscale ``(H, W)``; ``True`` -> RGB ``(H, W, 3)``.
        dtype: ``"float64"`` (default) or ``"float32"``.

    Returns a new array each call (safe to modify).

    Example:
        >>> photo = sample_photo(64)
        >>> photo.shape, float(photo.min()) >= 0.0, float(photo.max()) <= 1.0
        ((64, 64), True, True)
    """
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        height = width = int(size)
    else:
        height, width = (int(s) for s in size)
    if height <= 0 or width <= 0:
        raise ValueError(f"sample_photo: `size` must be positive, got {size!r}.")
    rgb = _photo_rgb()
    image = rgb if color else rgb @ _LUMA
    small = _area_resize(image, height, width)
    return np.clip(small, 0.0, 1.0).astype(dtype)
