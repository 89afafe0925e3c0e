"""Normalise the chapters' slide metadata so every slideshow tool reads it the same way.

    python3 slides/metadata.py book/03_conv2d.ipynb ...   # rewrite these notebooks in place
    python3 slides/metadata.py --check book/*.ipynb       # exit 1 if any would change

A cell that just continues the current slide carries no slide type at all.  JupyterLab and
nbconvert also accept the literal "-" for that, but jupyterlab-slideshow (the live slideshow)
does not know "-" (it reads slide_type with no "-" case), so "-" (and null) are dropped.
Nothing else is touched: code, outputs and the other metadata stay byte for byte, so nbval
compares exactly what it compared before.  Running it twice changes nothing the second time.
"""
import sys
from pathlib import Path

import nbformat

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes")  # absent = continue the slide
CONTINUE = ("-", None)


def normalise_cell(cell):
    """Drop a "continue" slide type (and an emptied `slideshow` dict); True if the cell changed."""
    slideshow = cell.metadata.get("slideshow")
    if slideshow is None or "slide_type" not in slideshow or slideshow["slide_type"] not in CONTINUE:
        return False
    del slideshow["slide_type"]
    if not slideshow:
        del cell.metadata["slideshow"]
    return True


def normalise(nb):
    """Normalise every cell of a notebook node in place; returns how many cells changed."""
    return sum(normalise_cell(cell) for cell in nb.cells)


def normalise_file(path, write=True):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    changed = normalise(nb)
    if changed and write:
        nbformat.write(nb, path)
    return changed


def main(argv):
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"]
    if not paths:
        print(__doc__)
        return 2
    dirty = 0
    for path in paths:
        changed = normalise_file(path, write=not check)
        dirty += bool(changed)
        if changed:
            print(f"{path}: {changed} cells {'would change' if check else 'normalised'}")
    return 1 if check and dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
