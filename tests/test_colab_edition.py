"""The committed Colab edition (colab/) against the chapters, without building the book.

The edition is written by the book build (book/_ext/colab_edition.py) and copied by
`make sync`; `make test-book` checks that the copy is what the build writes, and
tests/browser/test_colab_edition_rendered.py reads it rendered. Here, the cheap part that must hold
before any of that: one edition per chapter, the chapter's code cells unchanged, no MyST.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from colab_edition import _plain_edge, escape, expand_macros, unescape_urls  # noqa: E402

CHAPTERS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
MACROS = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"][
    "mathjax3_config"
]["tex"]["macros"]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_one_edition_per_chapter():
    assert sorted(p.name for p in (ROOT / "colab").glob("*.ipynb")) == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_cells_are_the_chapters(chapter):
    edition = load(ROOT / "colab" / chapter)
    original = load(ROOT / "notebooks" / chapter)
    code = lambda nb: [(source(c), c["metadata"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert code(edition) == code(original), "run `make sync`"
    assert edition["metadata"]["kernelspec"] == original["metadata"]["kernelspec"]
    assert all(not c.get("outputs") for c in edition["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_myst_and_no_book_macros_left(chapter):
    text = "\n".join(
        source(c) for c in load(ROOT / "colab" / chapter)["cells"] if c["cell_type"] == "markdown"
    )
    assert not re.search(r"\{[a-z][a-z:-]*\}`|```\{|^:::|^\([\w-]+\)=\s*$", text, re.M)
    math = " ".join(re.findall(r"\$\$.*?\$\$|\$[^$]+\$", text, re.S))
    left = sorted({m for m in re.findall(r"\\([A-Za-z]+)(?![A-Za-z])", math) if m in MACROS})
    assert not left, f"book macros not expanded: {left}"
    assert "\\newcommand" not in text
    assert "<script" not in text  # sphinx-thebe's configuration, say
    assert "](#" not in text and "<a id=" not in text  # Colab follows no in-page anchor


def test_macros_expand_as_tex_reads_them():
    macros = {
        "bmu": r"\boldsymbol{\mu}",
        "argmax": r"\operatorname*{arg\,max}",
        "bx": r"\mathbf{x}",
    }
    # an argument is braced (a macro is one token to TeX) ...
    assert expand_macros(r"\hat\bmu", macros) == r"\hat{\boldsymbol{\mu}}"
    assert expand_macros(r"x^\bx", macros) == r"x^{\mathbf{x}}"
    # ... elsewhere it is not, so that limits stay limits and spacing is unchanged
    assert expand_macros(r"\argmax_\theta", macros) == r"\operatorname*{arg\,max}_\theta"
    assert expand_macros(r"\bx_i\in", macros) == r"\mathbf{x}_i\in"
    # a longer command that starts like a macro is not a macro
    assert expand_macros(r"\bxi+\bmuon", macros) == r"\bxi+\bmuon"


def test_text_is_escaped_for_markdown():
    assert escape("a*b_c [d] <e> $5 #1 |x| ~y `z`") == (
        r"a\*b\_c [d] \<e\> \$5 \#1 \|x\| \~y \`z\`"
    )  # [ ] stay: "\[" is math in Colab
    assert escape("two\nlines") == "two lines"
    # CommonMark makes **...** bold only when neither end is space or punctuation
    assert _plain_edge("证明") and not _plain_edge("写出对数似然。") and not _plain_edge(" x")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_note_admonition_becomes_a_titled_quote(chapter):
    """A MyST {note} (or {tip}, ...) box of the chapter is a blockquote headed by Sphinx's label
    in the edition, as the 勘误 boxes are headed by their titles (none is dropped)."""
    chapter_text = "\n".join(
        source(c)
        for c in load(ROOT / "notebooks" / chapter)["cells"]
        if c["cell_type"] == "markdown"
    )
    n_notes = len(re.findall(r"^`{3,}\{note\}", chapter_text, re.M))
    edition = "\n".join(source(c) for c in load(ROOT / "colab" / chapter)["cells"])
    assert edition.count("<blockquote>\n\n**备注**") == n_notes


def test_urls_in_the_reference_list_are_bare():
    # pybtex's Markdown escapes them; an autolinked URL would show the backslashes
    assert unescape_urls(r"MIT Press. URL: https://www\.deep\-learning\.org/a\_b\.html\. x\.y") == (
        r"MIT Press. URL: https://www.deep-learning.org/a_b.html. x\.y"
    )
