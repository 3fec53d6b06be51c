"""The built book in a real browser: what a reader sees, page by page.

Every page of the book (found in _build/html, ordered as in the sidebar) must load
without JavaScript errors and without asking any third party for anything (the MathJax
CDN the theme uses is the one exception), show typeset math and no raw TeX, fit every
display equation in its column at 1280 px, and show all its images. Chapter pages must
also open their collapsed solutions, launch their Colab edition in Colab and Binder, keep
their figures readable in dark mode and title their blocks in the book's language; the
prev/next links must walk the table of contents, and search must find the chapters.
Screenshots of every chapter, light and dark at 1280 px and light at a phone's 390 px,
and of every other page (light, 1280 px) are saved for a person to look at.

Needs the built book, Playwright for Python, Debian's Chromium and `npm ci` (MathJax);
runs only when named: `.venv/bin/python -m pytest tests/browser` (see conftest.py).
Environment: BOOK_HTML (default _build/html) is the book to test, BROWSER_ARTIFACTS
(default _build/browser) where the screenshots go, CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
BOOK = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html")).resolve()
MATHJAX = ROOT / "node_modules" / "mathjax"
# Where the built pages load MathJax from (Jupyter Book's default); answered from MATHJAX.
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/"

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Sphinx pages that are not part of the book's text, and the root redirect to book/intro.
NOT_PAGES = {"index.html", "genindex.html", "search.html"}


def sidebar_order() -> list[str]:
    """The pages in reading order: the links of the sidebar (nav.bd-docs-nav) of the root page."""
    root = re.search(r"url=([^\"]+)", (BOOK / "index.html").read_text(encoding="utf-8")).group(1)
    html = (BOOK / root).read_text(encoding="utf-8")
    nav = re.search(r'<nav class="bd-links bd-docs-nav".*?</nav>', html, re.S).group(0)
    hrefs = re.findall(r'<a class="reference internal" href="([^"]*)"', nav)
    return [urldefrag(urljoin(root, href)).url for href in hrefs]  # "#" is the root itself


def built_pages() -> list[str]:
    return sorted(
        path.relative_to(BOOK).as_posix()
        for path in BOOK.rglob("*.html")
        if path.relative_to(BOOK).parts[0] not in {"_static", "_sources"}
        and path.relative_to(BOOK).as_posix() not in NOT_PAGES
    )


TOC = sidebar_order() if (BOOK / "index.html").is_file() else []
PAGES = [page for page in TOC if page in built_pages()]
CHAPTERS = [page for page in PAGES if page.startswith("notebooks/")]


def name(page: str) -> str:
    return page.rsplit("/", 1)[-1].removesuffix(".html")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def base_url():
    """The built book over HTTP on 127.0.0.1 (search.html fetches files: file:// would not do)."""
    if not TOC:
        pytest.fail(f"no built book at {BOOK}: run `make book` first", pytrace=False)
    if not (MATHJAX / "es5" / "tex-mml-chtml.js").is_file():
        pytest.fail(f"no MathJax in {MATHJAX}: run `npm ci`", pytrace=False)

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # a line per request would drown pytest's output
            pass

    handler = functools.partial(QuietHandler, directory=str(BOOK))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # 0: a free port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@dataclass
class Tab:
    """A page in a browser context of its own, and the errors it reported."""

    page: object  # playwright.sync_api.Page
    path: str = ""  # the book page, e.g. notebooks/04_vae.html
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions
    blocked: list[str] = field(default_factory=list)  # external URLs we refused to fetch


def open_tab(browser, base_url: str) -> Tab:
    """A fresh context (empty cache and localStorage: a first visit), network pinned.

    Requests to the local server go through. MathJax's CDN is answered from node_modules,
    so math is typeset offline by a pinned MathJax. Every other external request (thebe
    from unpkg once a reader starts it, say) is aborted: no test depends on the internet.
    """
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    tab = Tab(context.new_page())

    def external(route):
        url = route.request.url
        if url.startswith(MATHJAX_CDN):
            local = MATHJAX / urlparse(url).path.removeprefix(urlparse(MATHJAX_CDN).path)
            if local.is_file():
                route.fulfill(path=local)
            else:  # a component npm's package lacks: a 404, which the console reports
                route.fulfill(status=404, body="not in node_modules/mathjax")
        else:
            tab.blocked.append(url)
            route.abort()

    def on_console(message):
        if message.type != "error":
            return
        # Chromium logs each aborted request as "Failed to load resource: net::ERR_FAILED"
        # located at the request's URL. Those come from the abort above, not from the book,
        # so exactly they are dropped. A failing local request (a 404 for a missing image)
        # is logged the same way but at a local URL, and still counts.
        if (
            message.text.startswith("Failed to load resource")
            and message.location.get("url") in tab.blocked
        ):
            return
        tab.errors.append(f"console: {message.text} ({message.location.get('url')})")

    context.route(lambda url: not url.startswith(base_url), external)
    tab.page.on("console", on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    return tab


@pytest.fixture
def new_tab(browser, base_url):
    """open_tab for one test; the context closes when the test ends."""
    tabs: list[Tab] = []

    def make() -> Tab:
        tabs.append(open_tab(browser, base_url))
        return tabs[-1]

    yield make
    for tab in tabs:
        tab.page.context.close()


def one_worker_per_page(pages: list[str]) -> list:
    """The pages as parameters that pytest-xdist keeps together (--dist loadgroup): every
    check of a page runs in the worker that loaded it, so each page is loaded once."""
    return [
        pytest.param(page, id=name(page), marks=pytest.mark.xdist_group(page)) for page in pages
    ]


@pytest.fixture(scope="module", params=one_worker_per_page(PAGES))
def loaded(request, browser, base_url):
    """A page loaded once, math typeset, shared by the checks below (one load per page).

    Checks that change the page (dark mode, opening solutions) put it back or come last.
    """
    tab = open_tab(browser, base_url)
    tab.page.goto(base_url + request.param, wait_until="load")  # images and deferred scripts
    # MathJax (a deferred script, run by now) replaces window.MathJax, the configuration
    # object the page set, with itself; a page without math does not load it at all.
    tab.page.evaluate("async () => { await window.MathJax?.startup?.promise; }")
    tab.path = request.param
    yield tab
    tab.page.context.close()


def chapters_only(test):
    """Run a check that uses `loaded` on the chapter pages only (they share the same loads)."""
    return pytest.mark.parametrize("loaded", one_worker_per_page(CHAPTERS), indirect=True)(test)


def test_the_sidebar_lists_every_built_page():
    # A page built but not in the sidebar is published yet unreachable (a stale page of an
    # earlier build, a file exclude_patterns missed); the reverse is a dead link.
    assert CHAPTERS, f"no chapter (notebooks/*.html) in the sidebar of {BOOK}"
    unlisted = sorted(set(built_pages()) - set(TOC))
    assert not unlisted, f"{len(unlisted)} built pages not in the sidebar:\n" + "\n".join(unlisted)
    assert not set(TOC) - set(built_pages()), "sidebar links to pages that were not built"


def test_loads_without_errors(loaded):
    # A first visit (empty localStorage): console errors and uncaught exceptions.
    assert not loaded.errors, "\n".join(loaded.errors)


# TeX that should have become math: display delimiters, environments, macros, and a
# dollar sign next to typeset math (a $$ block MyST misread shows as "$⟦math⟧$").
RAW_TEX = re.compile(
    r"\$\$|\$\s*⟦math⟧|⟦math⟧\s*\$"  # delimiters left over
    r"|\\begin\{|\\end\{|\\[()\[\]]|\\[A-Za-z]+"
)  # TeX MathJax never saw


def test_math_is_typeset(loaded):
    math = loaded.page.evaluate("""() => {
        const text = (el) => el.textContent.trim().replace(/\\s+/g, " ").slice(0, 80);
        const body = document.body.cloneNode(true);
        // Code shows TeX on purpose; typeset math keeps its source for screen readers,
        // so it becomes a placeholder.
        body.querySelectorAll("pre, code, script, style").forEach((el) => el.remove());
        body.querySelectorAll("mjx-container").forEach((el) => el.replaceWith("⟦math⟧"));
        return {
            untypeset: [...document.querySelectorAll(".math")]
                .filter((el) => !el.querySelector("mjx-container")).map(text),
            // an error box, or an undefined macro (MathJax's noundefined shows it in red)
            errors: [...document.querySelectorAll(
                    "mjx-merror, [data-mjx-error], mjx-container [style*='color: red']")]
                .map((el) => el.getAttribute("data-mjx-error") || text(el)
                     || el.outerHTML.slice(0, 80)),
            text: body.textContent.replace(/\\s+/g, " "),
        };
    }""")
    assert not math["untypeset"], "math MathJax left alone:\n" + "\n".join(math["untypeset"])
    assert not math["errors"], "MathJax errors:\n" + "\n".join(math["errors"])
    text = math["text"]
    raw = [text[max(m.start() - 40, 0) : m.end() + 20] for m in RAW_TEX.finditer(text)]
    assert not raw, "raw TeX outside code, in context:\n" + "\n".join(raw)


def test_requests_nothing_from_a_third_party(loaded):
    # A reader's browser is sent to no host but the book's own and MathJax's CDN (answered
    # from node_modules here): no fonts, icons or scripts from elsewhere. open_tab aborts
    # and records every other external request.
    assert not loaded.blocked, "requests to third parties:\n" + "\n".join(loaded.blocked)


# For every display equation: its column's width, the typeset formula's and the equation
# number's. The number floats right, so the formula must fit beside it.
DISPLAY_MATH_WIDTHS = """() => [...document.querySelectorAll("div.math")].map((div) => {
    const math = div.querySelector("mjx-container > mjx-math");
    const number = div.querySelector("span.eqno");
    return {
        column: div.clientWidth,
        math: math ? math.getBoundingClientRect().width : 0,
        number: number ? number.getBoundingClientRect().width : 0,
        label: div.id || "(unlabelled)",
        text: (div.querySelector("mjx-assistive-mml")?.textContent || "").slice(0, 60),
    };
})"""


def test_display_math_fits_its_column(loaded):
    # At 1280 px (the viewport of open_tab) a formula wider than the text column is cut
    # off, or slides under its equation number: break it over lines (aligned) instead.
    # 1 px of slack for sub-pixel rounding.
    assert loaded.page.viewport_size["width"] == 1280
    rows = loaded.page.evaluate(DISPLAY_MATH_WIDTHS)
    too_wide = [
        f"{r['label']}: {r['math']:.0f} px + number {r['number']:.0f} px > column "
        f"{r['column']} px: {r['text']}"
        for r in rows
        if r["math"] + r["number"] > r["column"] + 1
    ]
    assert not too_wide, "display equations wider than their column:\n" + "\n".join(too_wide)


@chapters_only
def test_proofs_are_titled_in_chinese(loaded):
    # sphinx-proof 0.4.0 writes "Proof." into the first line of every proof, which swallows
    # the proof's title and a list it opens with; book/_ext/page_fixes.py's TitledProof
    # opens each proof with a paragraph of its own: 证明, then the title in parentheses.
    firsts = loaded.page.eval_on_selector_all(
        "div.proof.proof", "blocks => blocks.map((b) => b.querySelector(':scope > p').innerText)"
    )
    wrong = [text[:40] for text in firsts if not re.fullmatch(r"证明(（[^（）]+）)?", text.strip())]
    assert not wrong, "proofs not opened by a title line 证明（…）:\n" + "\n".join(wrong)


def test_every_image_loads(loaded):
    broken = loaded.page.evaluate("""() => [...document.images]
        .filter((img) => !img.complete || img.naturalWidth === 0)
        .map((img) => img.getAttribute("src"))""")
    assert not broken, "images that did not load:\n" + "\n".join(broken)


@chapters_only
def test_launch_buttons_open_this_chapters_colab_edition(loaded):
    # The rocket menu holds one Colab and one Binder link; both must open this chapter's
    # Colab edition, colab/<chapter>.ipynb, in the repository (see book/_ext/colab_edition.py).
    page = loaded.page
    notebook = "colab/" + loaded.path.removeprefix("notebooks/").removesuffix(".html") + ".ipynb"
    assert (ROOT / notebook).is_file(), f"no {notebook} in the repository"
    rocket = page.locator(".dropdown-launch-buttons button.dropdown-toggle")
    colab = page.locator('.dropdown-launch-buttons a[href^="https://colab.research.google.com/"]')
    binder = page.locator('.dropdown-launch-buttons a[href^="https://mybinder.org/"]')
    rocket.click()
    expect(colab).to_be_visible()
    expect(binder).to_be_visible()
    assert colab.get_attribute("href").endswith("/" + notebook)
    assert f"urlpath=tree/{notebook}" in binder.get_attribute("href")
    # Close the menu again (the screenshots come next): the theme shows it while it has
    # the .show class (Escape removes it) and while the mouse hovers over the rocket.
    page.keyboard.press("Escape")
    page.mouse.move(0, 0)
    expect(colab).to_be_hidden()


def relative_luminance(css_colour: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css_colour)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# The four corner pixels of every figure a notebook cell printed, drawn on a canvas.
FIGURE_CORNERS = """() => [...document.querySelectorAll("article .cell_output img")].map((img) => {
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const [w, h] = [canvas.width - 1, canvas.height - 1];
    const alpha = [[0, 0], [w, 0], [0, h], [w, h]]
        .map(([x, y]) => context.getImageData(x, y, 1, 1).data[3]);
    return {src: img.getAttribute("src"), alpha};
})"""


@chapters_only
def test_chapter_light_and_dark(loaded, artifacts):
    page = loaded.page
    # animations="disabled": with a transition still running (a hover, the menu above),
    # Chromium's full-page capture of these tall pages came out with blank stretches.
    shot = functools.partial(page.screenshot, full_page=True, animations="disabled")
    shot(path=artifacts / f"{name(loaded.path)}.png")
    # A phone's width (390 px, an iPhone 12-15 in portrait): the same page, one column.
    page.set_viewport_size(PHONE)
    try:
        shot(path=artifacts / f"{name(loaded.path)}-phone.png")
    finally:
        page.set_viewport_size(DESKTOP)
    # pydata-sphinx-theme's dark mode is this one attribute (its theme switcher sets it too).
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    try:
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert relative_luminance(background) < 0.5, "the dark theme did not apply"
        shot(path=artifacts / f"{name(loaded.path)}-dark.png")
        # matplotlib draws black text and axes. On a transparent figure they would sit on
        # the dark page and vanish; an opaque figure brings its own light background.
        figures = page.evaluate(FIGURE_CORNERS)
        if not figures:
            pytest.skip("no notebook figures on this page")
        transparent = [f["src"][:80] for f in figures if min(f["alpha"]) < 255]
        assert not transparent, "figures with a transparent background:\n" + "\n".join(transparent)
    finally:
        page.evaluate("document.documentElement.dataset.theme = 'light'")


@pytest.mark.parametrize(
    "loaded", one_worker_per_page([page for page in PAGES if page not in CHAPTERS]), indirect=True
)
def test_reference_page_screenshot(loaded, artifacts):
    # The reference pages (errata, formula index, performance with its execution table,
    # ...), light at 1280 px: the emoji and the tables are for a person to look at.
    loaded.page.screenshot(
        path=artifacts / f"{name(loaded.path)}.png", full_page=True, animations="disabled"
    )


@chapters_only
def test_solutions_open_on_click(loaded):
    # sphinx-exercise's {solution} with :class: dropdown: sphinx-togglebutton collapses it
    # and adds a button to its title. Every chapter ends with exercises and their solutions.
    solutions = loaded.page.locator(".solution.dropdown")
    assert solutions.count() > 0, "no collapsed solution on a chapter page"
    for solution in solutions.all():
        content = solution.locator(":scope > :not(.admonition-title)").first
        expect(content).to_be_hidden()
        solution.locator("button.toggle-button").click()  # not the title: it holds a link
        expect(content).to_be_visible()
        assert content.inner_text().strip(), "an empty solution"


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_prev_and_next_follow_the_toc(page, new_tab, base_url):
    # "Next" leads to the following page of the sidebar and "previous" back again. The
    # first page has no "previous", the last no "next".
    index = PAGES.index(page)
    tab = new_tab().page
    # Only links are clicked here: MathJax is kept out so pages settle at once.
    tab.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    tab.goto(base_url + page, wait_until="domcontentloaded")
    if index == 0:
        expect(tab.locator("a.left-prev")).to_have_count(0)
    if index == len(PAGES) - 1:
        expect(tab.locator("a.right-next")).to_have_count(0)
        return
    tab.click("a.right-next")
    tab.wait_for_url(base_url + PAGES[index + 1], wait_until="domcontentloaded")
    tab.click("a.left-prev")
    tab.wait_for_url(base_url + page, wait_until="domcontentloaded")


@pytest.mark.parametrize(
    "query, chapter",
    [
        pytest.param("稀疏编码", "notebooks/01_sparse_coding.html", id="zh"),
        pytest.param("近端算子", "notebooks/01_sparse_coding.html", id="zh-body-text"),
        pytest.param("ELBO", "notebooks/04_vae.html", id="ELBO"),
    ],
)
def test_search_finds_the_chapter(query, chapter, new_tab, base_url):
    # Sphinx splits Chinese text into words with jieba (installed at build time), and the
    # search box does not split a Chinese query: a term is found only if the index holds it
    # whole. 稀疏编码 is also the chapter's title, so it would be found from the title alone;
    # 近端算子 occurs only in the chapter's text (and the glossary), and jieba's own
    # dictionary splits it, so finding it shows that the text is segmented with the book's
    # dictionary (book/search_dict.txt, from the glossary).
    tab = new_tab().page
    tab.goto(f"{base_url}search.html?q={query}")
    # Sphinx fills the summary line ("搜索完成……") once the results are listed.
    tab.wait_for_function(
        "document.querySelector('#search-results .search-summary')?.textContent.trim()"
    )
    hrefs = tab.eval_on_selector_all(
        "#search-results ul.search li > a", "links => links.map((a) => a.href)"
    )
    found = [urlparse(href).path.removeprefix(urlparse(base_url).path) for href in hrefs]
    assert chapter in found, f"search for {query!r} found {found}"
