"""Every notebook is stored as a reader should find it: executed in order, clean, presentable.

nbval (run by `python3 dev.py test`) re-executes each notebook and compares outputs;
these tests check what nbval cannot: how the stored file looks.
"""
import json
import re
from pathlib import Path

import nbformat
import pytest

from slides import metadata

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
APPENDIX = BOOK / "99_appendix.ipynb"  # the cheat sheet and glossary: reference, not a chapter
CHAPTERS = [p for p in NOTEBOOKS if not p.name.startswith("00_") and p != APPENDIX]
SLIDE_TYPES = set(metadata.SLIDE_TYPES)  # or none at all: the cell continues the current slide
MACHINE_SPECIFIC = re.compile(
    r"(/(?:root|home|tmp|work|Users|var|opt)/|site-packages|[A-Za-z]:\\\\|0x[0-9a-fA-F]{6,}"
    r"|Wall time|CPU times|\blocalhost:\d+|127\.0\.0\.1)"
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LAST_CHAPTER_OF_THE_NOTES = 9  # BatchNormalization; later chapters go beyond the notes


def cells(path, kind=None):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if kind is None or c.cell_type == kind]


def output_text(output):
    return json.dumps(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))


def test_book_has_the_foundation_chapters():
    names = [p.name for p in NOTEBOOKS]
    assert names[:3] == ["00_preface.ipynb", "01_dense.ipynb", "02_activation.ipynb"]


def test_preface_links_every_chapter_and_the_appendix():
    preface = "\n".join(c.source for c in cells(BOOK / "00_preface.ipynb", "markdown"))
    missing = [p.name for p in CHAPTERS + [APPENDIX] if f"]({p.name})" not in preface]
    assert not missing, f"the preface's chapter list lacks {missing}"


def test_appendix_checks_its_cheat_sheet_against_keras():
    source = "\n".join(c.source for c in cells(APPENDIX, "code"))
    outputs = "".join(output_text(o) for c in cells(APPENDIX, "code") for o in c.outputs)
    assert "tf.keras.layers" in source and "as the table says" in outputs and "DIFFERS" not in outputs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_and_uses_the_default_python_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def slide_types(path):
    return [c.metadata.get("slideshow", {}).get("slide_type") for c in cells(path)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_slide_metadata_is_a_deck(path):
    types = slide_types(path)
    assert all(t in SLIDE_TYPES or t in metadata.CONTINUE for t in types), types  # "-": see below
    assert types[0] == "slide"
    assert types.count("slide") >= 3  # a deck, not one long page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_slide_metadata_is_normalised(path):
    # jupyterlab-slideshow drops cells whose slide type is the literal "-" from the live deck.
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    changed = metadata.normalise(nb)
    assert not changed, f"{changed} cells say slide_type '-': run `python3 slides/metadata.py {path.relative_to(BOOK.parent)}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_section_has_speaker_notes(path):
    # A section is a "slide" cell and what follows it up to the next one; reveal.js shows its
    # "notes" cells in the speaker view (S).
    sections = "".join("S" if t == "slide" else "n" if t == "notes" else "." for t in slide_types(path))
    bare = [i for i, section in enumerate(sections.split("S")[1:]) if "n" not in section]
    assert not bare, f"sections {bare} (0 = the title) have no speaker-notes cell (slide type 'notes')"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom_in_a_fresh_kernel(path):
    counts = [c.execution_count for c in cells(path, "code") if c.source.strip()]
    assert counts == list(range(1, len(counts) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_execution_timestamps_in_cell_metadata(path):
    stamped = [i for i, c in enumerate(cells(path)) if "execution" in c.metadata]
    assert not stamped, f"cells {stamped} store execution timings (run `python3 dev.py execute`)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stored_error_free_and_portable(path):
    code = cells(path, "code")
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2  # stored with outputs
    for i, cell in enumerate(code):
        for output in cell.outputs:
            assert output.output_type != "error", f"code cell {i} stores an error"
            assert output.get("name") != "stderr", f"code cell {i} writes to stderr: {output_text(output)[:200]}"
            match = MACHINE_SPECIFIC.search(output_text(output))
            assert not match, f"code cell {i} output has machine-specific text {match.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_are_widgets_followed_by_a_checked_cell(path):
    code = cells(path, "code")
    for i, cell in enumerate(code):
        if "NBVAL_IGNORE_OUTPUT" not in cell.source:
            continue
        assert cell.source.lstrip().startswith("# NBVAL_IGNORE_OUTPUT")
        following = code[i + 1] if i + 1 < len(code) else None
        assert following is not None and following.outputs, f"cell {i}: nothing checkable follows"
        assert "NBVAL_IGNORE_OUTPUT" not in following.source


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_follows_the_template(path):
    markdown = "\n".join(c.source for c in cells(path, "markdown"))
    source = "\n".join(c.source for c in cells(path, "code"))
    assert "By the end of this chapter" in markdown                   # objectives
    if int(path.name[:2]) <= LAST_CHAPTER_OF_THE_NOTES:
        assert re.search(r"What the notes say", markdown)              # the notes' section
        assert re.search(r"[\uac00-\ud7a3]", markdown)                 # quoted in Korean
    assert re.search(r"check_(layer|activation|model)\(", source)     # checked against tf.keras
    assert "NBVAL_IGNORE_OUTPUT" in source and "summary()" in source   # an explorer, driven from code
    assert "## Exercises" in markdown or re.search(r"## \d+\.\d+ Exercises", markdown)
    assert markdown.count("<details>") >= 3                            # solutions, folded
    assert "kbook.exercises" in source
    assert "## Summary" in markdown
