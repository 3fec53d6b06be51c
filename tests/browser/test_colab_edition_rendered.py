"""The Colab edition as Jupyter and Colab show it: rendered by nbconvert, read in Chromium.

Colab and Jupyter render a notebook's Markdown with a plain Markdown renderer and MathJax.
The closest renderer we can run offline is nbconvert's standard HTML exporter (the "lab"
template, MathJax 2.7.7 as Jupyter's classic notebook uses; served from node_modules in
place of its CDN). Every chapter's edition (colab/<chapter>.ipynb) is rendered that way and
compared with the book's own page for the chapter (_build/html), the independent reference:

- MathJax typesets every formula of the edition with no error, and no TeX or MyST source
  ({role}`...`, ```{directive}, (label)=, :::) is left in the text;
- the numbers the page quotes (myst-nb's glued values) appear, in the page's order;
- the equation numbers are the page's, in order, and so are the references to equations and
  exercises; exercises carry the page's numbers;
- every solution is a collapsed <details> titled as the page titles it; proofs and errata
  are titled blocks, as many as the page has; citations read "(Author, Year)" as on the page,
  and the reference list holds, for each work the page cites, the book's entry for it.

A light screenshot of each rendered chapter goes to _build/browser/colab-<chapter>.png.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from nbconvert import HTMLExporter
from test_book_pages import BOOK, DESKTOP, ROOT

EDITION = ROOT / "colab"
RENDERED = ROOT / "_build" / "colab-html"
MATHJAX2 = ROOT / "node_modules" / "mathjax2"
MATHJAX2_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/"
CHAPTERS = sorted(p.stem for p in EDITION.glob("*.ipynb"))

# MyST that a plain renderer would show as text.
MYST = {
    "role": re.compile(r"\{[a-z][a-z:-]*\}`"),
    "directive": re.compile(r"```\{|:::"),
    "label": re.compile(r"^\([\w-]+\)=\s*$", re.M),
}


def render(chapter: str) -> Path:
    """The edition through nbconvert's standard HTML exporter, written to _build/colab-html."""
    RENDERED.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(EDITION / f"{chapter}.ipynb", 4))
    path = RENDERED / f"{chapter}.html"
    path.write_text(body, encoding="utf-8")
    return path


def book_page(chapter: str) -> str:
    return (BOOK / "notebooks" / f"{chapter}.html").read_text(encoding="utf-8")


def texts(html: str, pattern: str) -> list[str]:
    """The text of every match of pattern (a regex whose group 1 is an element's inner HTML)."""
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(pattern, html, re.S)]


@pytest.fixture(scope="module")
def reader(browser):
    """A context like a reader's: desktop size; only MathJax 2 from node_modules goes through."""
    if not (MATHJAX2 / "MathJax.js").is_file():
        pytest.fail(f"no MathJax 2 in {MATHJAX2}: run `npm ci`", pytrace=False)
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")

    def external(route):
        url = route.request.url
        if url.startswith(MATHJAX2_CDN):
            local = MATHJAX2 / urlparse(url).path.removeprefix(urlparse(MATHJAX2_CDN).path)
            route.fulfill(path=local) if local.is_file() else route.fulfill(status=404)
        else:  # require.js (widgets only) and anything else: not needed to read
            route.abort()

    context.route(re.compile(r"^https?://"), external)
    yield context
    context.close()


@pytest.fixture(
    scope="module",
    params=[pytest.param(c, id=c, marks=pytest.mark.xdist_group(f"colab-{c}")) for c in CHAPTERS],
)
def chapter(request, reader, artifacts):
    """(name, edition notebook, the typeset page, the book's page) for one chapter."""
    name = request.param
    page = reader.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(render(name).as_uri())
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.isReady", timeout=60_000)
    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")
    page.screenshot(path=artifacts / f"colab-{name}.png", full_page=True)
    yield name, nbformat.read(EDITION / f"{name}.ipynb", 4), page, book_page(name), errors
    page.close()


def markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def prose(page) -> str:
    """What a reader reads: the rendered Markdown cells' text, code spans left out."""
    return page.evaluate("""() =>
        [...document.querySelectorAll('.jp-MarkdownCell .jp-RenderedHTMLCommon')]
        .map(cell => { const c = cell.cloneNode(true);
                       c.querySelectorAll('code, script, .MathJax_Preview')
                        .forEach(e => e.remove());
                       c.querySelectorAll('details').forEach(d => d.open = true);
                       return c.textContent; }).join('\\n')""")


def test_no_myst_syntax_is_left(chapter):
    name, nb, page, _, _ = chapter
    source, text = markdown(nb), prose(page)
    for kind, pattern in MYST.items():
        assert not pattern.search(source), f"{name}: MyST {kind} in the edition's Markdown"
        assert not pattern.search(text), f"{name}: MyST {kind} in the rendered text"
    assert "\\newcommand" not in source, f"{name}: the book's macros must be expanded"


def test_every_formula_is_typeset(chapter):
    name, nb, page, _, errors = chapter
    source = re.sub(r"`[^`]*`", "", markdown(nb))
    display = len(re.findall(r"^\s*\$\$", source, re.M)) // 2
    inline = (
        len(re.findall(r"(?<![\\$])\$(?!\$)", re.sub(r"\$\$.*?\$\$", "", source, flags=re.S))) // 2
    )
    typeset = page.locator(".jp-MarkdownCell .MathJax_CHTML").count()
    # an error box, an unparsed formula, or an undefined macro (MathJax shows it in red)
    failed = page.locator(
        ".jp-MarkdownCell .MathJax_CHTML .mjx-merror, "
        ".jp-MarkdownCell .MathJax_CHTML .mjx-noError, "
        ".jp-MarkdownCell .MathJax_CHTML [style*='color: red'], "
        ".jp-MarkdownCell .MathJax_Error"
    ).count()
    assert failed == 0, f"{name}: {failed} formulas failed to typeset"
    assert typeset == display + inline, (name, typeset, display, inline)
    raw = re.findall(r"\$|\\[A-Za-z]{2,}", prose(page))  # a $ or a control word
    assert not raw, f"{name}: raw TeX in the rendered text: {raw[:5]}"
    assert not errors, f"{name}: {errors}"


def in_order(text: str, wanted: list[str]) -> str | None:
    """The first of `wanted` that is not in `text` after the ones before it, or None."""
    at = 0
    for item in wanted:
        found = text.find(item, at)
        if found < 0:
            return item
        at = found + len(item)
    return None


def test_quoted_numbers_are_the_books(chapter):
    """Every glued number of the book's page, in the page's order, in the rendered text."""
    name, nb, page, book, _ = chapter
    glued = texts(book, r'<span class="pasted-text">(.*?)</span>')
    roles = len(
        re.findall(
            r"\{glue:text\}`",
            "".join(
                "".join(c["source"])
                for c in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", 4).cells
                if c["cell_type"] == "markdown"
            ),
        )
    )
    assert len(glued) == roles > 0, (name, len(glued), roles)
    missing = in_order(prose(page), glued)
    assert missing is None, f"{name}: the number {missing!r} (glued in the book) is missing"


def test_references_within_the_page_are_the_books(chapter):
    """The page's links to its equations and exercises ("(15)", "练习 3"), in order, as text."""
    name, nb, page, book, _ = chapter
    refs = texts(book, r'<a class="reference internal" href="#(?:equation-|ex-)[^"]*">(.*?)</a>')
    assert refs, name
    # a reference's math (an exercise title's, say) is typeset in the edition: match the rest
    pieces = [p.strip() for r in refs for p in re.split(r"\\\(.*?\\\)", " ".join(r.split()))]
    missing = in_order(prose(page), [p for p in pieces if p])
    assert missing is None, f"{name}: the reference {missing!r} is missing or out of order"


def test_equation_and_exercise_numbers_are_the_books(chapter):
    name, nb, page, book, _ = chapter
    eqnos = [n.strip("()") for n in texts(book, r'<span class="eqno">(\(.*?\))')]
    tags = re.findall(r"\\tag\{([^}]*)\}", markdown(nb))
    assert tags == eqnos and eqnos, (name, tags, eqnos)
    labelled = page.locator(".jp-MarkdownCell .mjx-mlabeledtr").count()
    assert labelled == len(tags), f"{name}: {labelled} numbered equations shown, {len(tags)} tagged"
    exercises = re.findall(
        r"^练习 \d+", "\n".join(texts(book, r'<p class="admonition-title">(.*?)</p>')), re.M
    )
    shown = re.findall(
        r"练习 \d+",
        " ".join(page.locator(".jp-MarkdownCell blockquote > p > strong").all_inner_texts()),
    )
    assert shown == exercises and exercises, (name, shown, exercises)


def test_solutions_are_collapsed(chapter):
    name, nb, page, book, _ = chapter
    solutions = book.count('class="solution dropdown admonition"')
    details = page.locator(".jp-MarkdownCell details")
    assert details.count() == solutions > 0, (name, details.count(), solutions)
    no_math = lambda t: " ".join(re.sub(r"\\\(.*?\\\)|\$[^$]*\$", "", t).split())
    titles = [no_math(t) for t in texts(book, r'<p class="admonition-title">(解答.*?)</p>')]
    summaries = re.findall(r"<summary><strong>(.*?)</strong></summary>", markdown(nb))
    assert [no_math(html.unescape(t)) for t in summaries] == titles, name
    for i in range(details.count()):
        one = details.nth(i)
        assert one.get_attribute("open") is None, f"{name}: solution {i + 1} is open"
        body = one.locator(":scope > :not(summary)")
        assert body.count() > 0 and not body.first.is_visible(), f"{name}: solution {i + 1} shows"


def test_proofs_and_errata_are_titled_blocks(chapter):
    name, nb, page, book, _ = chapter
    titles = page.locator(".jp-MarkdownCell blockquote > p:first-child > strong").all_inner_texts()
    proofs = book.count('class="proof admonition"')
    errata = len(re.findall(r'<p class="admonition-title">勘误', book))
    assert sum(t == "证明" for t in titles) == proofs, (name, titles)
    assert sum(t.startswith("勘误") for t in titles) == errata, (name, titles)


def test_citations_read_author_year_and_are_listed(chapter):
    """Each citation of the page, in order, as "(Author, Year)"; the reference list at the
    end holds the references page's entry of every work the page cites, and nothing else."""
    name, nb, page, book, _ = chapter
    text = prose(page)
    cites = re.findall(r'<span class="bibtex-citation"[^>]*>\[(.*?)\]</span>', book, re.S)
    labels = [re.sub(r"<[^>]+>", "", c) for c in cites]
    assert labels, name
    missing = in_order(text, [f"({label})" for label in labels])
    assert missing is None, f"{name}: the citation {missing!r} is missing or out of order"
    entries = {}
    references = (BOOK / "book" / "references.html").read_text(encoding="utf-8")
    for ident, body in re.findall(
        r'<div class="citation" id="([^"]+)"[^>]*>.*?<p>(.*?)</p>', references, re.S
    ):
        entries[ident] = " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())
    cited = {entries[i] for c in cites for i in re.findall(r'references\.html#([^"]+)"', c)}
    listed = page.locator(".jp-MarkdownCell:has(h2:text-is('参考文献')) li").all_inner_texts()
    assert sorted(" ".join(t.split()) for t in listed) == sorted(cited), name
