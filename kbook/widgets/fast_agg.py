"""Agg rendering for the explorers, made fast where a redraw repeats itself.

An explorer redraws the same titles, tick labels and cell numbers over and over.
In matplotlib 3.11 (pinned here) each text draw shapes its string with libraqm and
renders every glyph with FreeType again, and each text's layout re-reads the font's
tables to find its line height: ~1 ms a label on a slow machine, most of a redraw
of a figure with a few dozen labels.  ``LiveCanvas`` draws with a renderer that
remembers those three results (shaped strings, glyph bitmaps, line heights), so the
pixels are exactly the stock renderer's (``tests/test_widgets.py`` compares them)
at a fraction of the cost.  It also remembers each text's last drawing: the pixels
under it before and after.  A title redrawn where it was, over the same pixels, is
pasted back (exactly what drawing it gives: the same glyphs blended onto the same
pixels) instead of blending its glyphs one Agg call at a time (~1.2 ms for a
30-character title on this 2-core machine, most of it in those calls).  It relies on
private matplotlib hooks; where they are missing (another matplotlib version) it
renders the stock way.

``png_bytes`` encodes the canvas several times faster than ``print_png`` (which
goes through Pillow's adaptive filters at zlib level 6) for about the same size: the
explorers' pictures are flat colour areas and nearest-neighbour cells, which the
PNG "Up" filter turns into long runs of zeros.
"""
import math
import struct
import zlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from matplotlib.backends import backend_agg
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.font_manager import fontManager, get_font

from matplotlib.text import Text

try:
    from matplotlib.ft2font import FT2Font, RenderMode
except ImportError:  # older matplotlib: no RenderMode
    FT2Font = RenderMode = None

# The private pieces the caching renderer builds on; without any of them, the stock renderer draws.
CACHING = (RenderMode is not None and hasattr(FT2Font, "_layout") and hasattr(Text, "get_fontfeatures")
           and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes") and hasattr(RendererAgg, "_prepare_font")
           and hasattr(backend_agg, "get_hinting_flag"))


class _LRU(OrderedDict):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def get_or_make(self, key, make):
        """The value kept for ``key``, made by ``make()`` and kept if there is none."""
        value = self.find(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def find(self, key):
        """The value kept for ``key`` (now the most recently used), or None."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


# Shared by every explorer: the same fonts, sizes and strings recur across figures.
_SHAPED = _LRU(4096)      # (string, font, dpi, ...) -> shaped glyphs
_GLYPHS = _LRU(16384)     # (font, glyph, sub-pixel offset, ...) -> bitmap
_HEIGHTS = _LRU(256)      # (font, dpi) -> (ascent, descent, line gap)
_DRAWN_MAX_PIXELS = 1 << 14  # a text's box kept at most this big (a 500 x 30 px title fits): <= 64 MB in all
_DRAWN = _LRU(512)        # (string, font, position, colour, clip, canvas size) -> (region, pixels before, after)


class TextCachingRenderer(RendererAgg):
    """``RendererAgg`` that reuses shaped strings, glyph bitmaps and font line heights."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        if ismath or not isinstance(language, (str, type(None))) or not isinstance(features, (tuple, type(None))):
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)  # rare: not worth a cache key
        flags = backend_agg.get_hinting_flag()

        def shape():
            font = self._prepare_font(prop)
            return [(item.ft_object, item.glyph_index, item.x, item.y)
                    for item in font._layout(s, flags=flags, features=features, language=language)]

        shaped = _SHAPED.get_or_make((s, hash(prop), self.dpi, features, language, flags), shape)
        size = prop.get_size_in_points()
        glyphs = ((font, size, glyph, 0, 1, gx, gy) for font, glyph, gx, gy in shaped)
        if gc.get_clip_path()[0] is not None:  # a clip path, not just a rectangle: not worth a key
            return self._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, [])
        clip = gc.get_clip_rectangle()
        key = (s, hash(prop), self.dpi, features, language, flags, angle, x, y, tuple(gc.get_rgb()),
               gc.get_alpha(), gc.get_forced_alpha(), gc.get_antialiased(),
               None if clip is None else tuple(clip.bounds), self.width, self.height)
        canvas = np.asarray(self.buffer_rgba())
        drawn = _DRAWN.find(key)
        if drawn is not None:
            (top, bottom, left, right), before, after = drawn
            if np.array_equal(canvas[top:bottom, left:right], before):
                canvas[top:bottom, left:right] = after
                return
        placed = self._place_glyphs(gc, x, y, angle, glyphs)
        if not placed:
            return
        region = self._region(placed, canvas.shape)
        top, bottom, left, right = region
        if (bottom - top) * (right - left) > _DRAWN_MAX_PIXELS:  # a long slanted label: not worth its memory
            return self._blend(gc, placed)
        before = canvas[top:bottom, left:right].copy()
        self._blend(gc, placed)
        _DRAWN.put(key, (region, before, canvas[top:bottom, left:right].copy()))

    @staticmethod
    def _region(placed, shape):
        """(top, bottom, left, right) of the canvas rows and columns the glyphs cover."""
        top = max(min(y - buffer.shape[0] for buffer, x, y in placed), 0)
        bottom = min(max(y for buffer, x, y in placed), shape[0])
        left = max(min(x for buffer, x, y in placed), 0)
        right = min(max(x + buffer.shape[1] for buffer, x, y in placed), shape[1])
        return top, max(bottom, top), left, max(right, left)

    def _blend(self, gc, placed):
        for buffer, x, y in placed:
            self._renderer.draw_text_image(buffer, x, y, 0, gc)

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        boxes = list(boxes)
        if boxes:  # mathtext rules: rare, drawn the stock way
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        self._blend(gc, self._place_glyphs(gc, x, y, angle, glyphs))

    def _place_glyphs(self, gc, x, y, angle, glyphs):
        """[(bitmap, x, y)] as ``draw_text_image`` takes them: y is the canvas row below the bitmap."""
        placed = []
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        flags = backend_agg.get_hinting_flag()
        mode = RenderMode.NORMAL if gc.get_antialiased() else RenderMode.MONO
        height = int(self.height)
        matrices = {}
        for font, size, glyph, slant, extend, dx, dy in glyphs:
            if (slant, extend) not in matrices:
                matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])
                          @ [[extend, extend * slant], [0, 1]]).round().astype(int)
                matrices[slant, extend] = matrix, matrix.tobytes()
            matrix, matrix_key = matrices[slant, extend]
            # FreeType positions in 1/64 pixel: a whole-pixel shift moves the bitmap
            # and changes none of its pixels, so only the sub-pixel part is in the key.
            tx = round(0x40 * (x + dx * cos - dy * sin))
            ty = round(0x40 * (self.height - y + dx * sin + dy * cos))
            key = (font, size, self.dpi, glyph, matrix_key, tx & 63, ty & 63, flags, mode)
            buffer, left, top = _GLYPHS.get_or_make(
                key, lambda: self._render_glyph(font, size, glyph, matrix, (tx & 63, ty & 63), flags, mode))
            placed.append((buffer, left + (tx >> 6), height - top - (ty >> 6) + buffer.shape[0]))
        return placed

    def _render_glyph(self, font, size, glyph, matrix, offset, flags, mode):
        font.set_size(size, self.dpi)
        font._set_transform(matrix, list(offset))
        bitmap = font._render_glyph(glyph, flags, mode)
        buffer = np.array(bitmap.buffer)  # a copy: FreeType reuses the glyph slot
        if mode == RenderMode.MONO:
            buffer *= 0xff
        return buffer, bitmap.left, bitmap.top

    def _get_font_height_metrics(self, prop):
        """(ascent, descent, line gap) in pixels, as ``Text._get_layout`` computes them itself."""
        return _HEIGHTS.get_or_make((hash(prop), self.dpi), lambda: _font_height_metrics(prop, self.dpi))


def _font_height_metrics(prop, dpi):
    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap_key, ascent_key, descent_key in (
            ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
            ("hhea", "lineGap", "ascent", "descent")):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None  # Text measures the font itself


class LiveCanvas(FigureCanvasAgg):
    """A ``FigureCanvasAgg`` that draws with ``TextCachingRenderer`` (when this matplotlib allows)."""

    def get_renderer(self):
        if not CACHING:
            return super().get_renderer()
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = TextCachingRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _deflate(rows, level, last):
    """Raw deflate data of ``rows``; a part before the last ends on a byte boundary with an empty
    dictionary (a full flush), so the parts' data joined are one valid stream."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(rows) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kbook-png")
_SPLIT_BYTES = 1 << 17  # smaller images are compressed in one piece: a thread's hand-off would cost more


def png_bytes(rgba, level=3):
    """An (H, W, 4) uint8 image (the Agg canvas) as PNG bytes.

    Every row but the first is stored as its difference from the row above (filter
    type 2, "Up"), which is what makes flat areas and repeated cell rows compress; an
    opaque canvas's alpha channel then costs nothing.  The rows are differenced whole
    (4 * W bytes at a time): per-pixel slicing is several times slower.  zlib takes most of
    the time and lets go of the GIL, so the top and bottom halves are compressed at once on
    two threads (as pigz does): the explorers' pictures took 1.5-7.9 ms in one piece on this
    machine, 1.0-4.9 ms in two (fastest of 31 runs each).
    """
    rgba = np.asarray(rgba)
    h, w, _ = rgba.shape
    flat = rgba.reshape(h, 4 * w)
    rows = np.empty((h, 1 + 4 * w), np.uint8)  # each row: its filter type, then its bytes
    rows[:, 0] = 2
    rows[0, 0] = 0  # the first row has no row above: stored as is
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # uint8: modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    if rows.nbytes < _SPLIT_BYTES or h < 2:
        data = zlib.compress(rows, level)
    else:
        top = _POOL.submit(_deflate, rows[:h // 2], level, False)
        bottom = _deflate(rows[h // 2:], level, True)
        # zlib's two-byte header (32 kB window, no preset dictionary), the data, Adler-32 of it all.
        data = b"\x78\x01" + top.result() + bottom + struct.pack(">I", zlib.adler32(rows))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
