"""The Colab edition: every chapter as a notebook that plain Markdown + MathJax renders.

Colab and Jupyter render a notebook's Markdown with CommonMark and MathJax; they know none
of MyST's roles and directives, so the chapter notebooks (written for the book) show raw
``{glue:text}``, ``{prf:proof}`` blocks and ``(label)=`` lines there. This extension writes,
during the HTML build, one more notebook per chapter, ``_build/colab/<chapter>.ipynb``:

- its Markdown comes from the chapter's *resolved* doctree, the one the HTML page is written
  from, so it says what the page says: the glued numbers (from the executed chapter), the
  equation numbers as ``\\tag{n}`` (the page's numbers), the references' text, the exercise
  numbers; MyST is gone because the doctree has none;
- its code cells are the chapter's own cells, copied from the chapter notebook unchanged
  (source and metadata), in the same order: the edition runs exactly the chapter's code.

How the doctree becomes Markdown (`Writer`): equations keep their TeX with the book's
macros expanded (renderers differ on ``\\newcommand`` across cells); proofs, errata and
exercises become titled ``<blockquote>`` blocks and solutions ``<details>`` blocks, whose
content stays Markdown (CommonMark parses Markdown inside an HTML block after a blank line);
citations read "(作者, 年份)", with the chapter's reference list at the end; glossary terms
are bold links to the book's glossary; references to other pages link to the published
book. References within the page (equations, exercises, citations) are plain text, "(15)",
"练习 3": Colab does not follow in-page anchors (googlecolab/colabtools#3983). Left out on
purpose: targets and comments (no content), raw HTML with a ``<script>`` (sphinx-thebe's
configuration; no script runs in a Markdown cell). Any other node type the writer does not
know stops the build (`UnknownNode`).

sphinx-tojupyter (QuantEcon's Sphinx-to-notebook builder, 0.6.0) was tried first: it writes
myst-nb's code cells as Markdown code blocks rather than code cells, numbers the equation
references differently from the equations, drops the admonitions' boxes and keeps
``\\newcommand`` cells, so it does not fit here; this writer is what the edition needs and
no more. `make sync` copies the edition to ``colab/`` (what Colab and Binder open; see
tools/colab_edition.py) and `make test` checks that the copy is current.

The chapter pages' Colab and Binder buttons are pointed at ``colab/<chapter>.ipynb``.
"""

from __future__ import annotations

import copy
import html
import json
import re
import unicodedata
from pathlib import Path
from urllib.parse import urljoin

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import admonitionlabels
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
CHAPTERS = "notebooks/"  # the docnames that get an edition
EDITION = "colab"  # the folder, in the repository and under _build


class UnknownNode(Exception):
    """A doctree node the writer has no rule for."""


def published_url(app: Sphinx) -> str:
    """The published book's address: html_baseurl, else the GitHub Pages address of
    repository.url (https://github.com/<owner>/<repo> -> https://<owner>.github.io/<repo>/)."""
    if app.config.html_baseurl:
        return app.config.html_baseurl.rstrip("/") + "/"
    repo = app.config.html_theme_options.get("repository_url", "").rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repo)
    if not match:
        raise ValueError(
            f"cannot derive the published URL from repository.url {repo!r}; "
            "set html.baseurl in _config.yml"
        )
    owner, name = match.groups()
    return f"https://{owner.lower()}.github.io/{name}/"


def tex_macros(app: Sphinx) -> dict[str, str]:
    return app.config.mathjax3_config.get("tex", {}).get("macros", {})


# What takes the next token as its argument: sub/superscripts, accents, fonts, roots.
_TAKES_AN_ARGUMENT = re.compile(
    r"([\^_]|\\(hat|widehat|tilde|widetilde|bar|overline|underline|vec|dot|ddot|check|breve|"
    r"acute|grave|mathring|boldsymbol|bm|mathbf|mathrm|mathcal|mathbb|mathsf|sqrt|frac|dfrac|"
    r"tfrac|operatorname|text))\s*$"
)


def expand_macros(tex: str, macros: dict[str, str]) -> str:
    """Replace every ``\\name`` of a (argument-free) book macro by its body.

    A macro is one token to TeX, so ``\\hat\\bmu`` puts a hat on the whole of
    ``\\boldsymbol{\\mu}``; in text the body is braced where it is an argument (after a
    command or ``^``/``_``) and left bare elsewhere, where braces would change the spacing
    (``\\argmax_\\theta`` keeps its limits below).
    """

    def body(match: re.Match) -> str:
        name = match.group(1)
        if name not in macros:
            return match.group(0)
        is_argument = _TAKES_AN_ARGUMENT.search(tex[: match.start()])
        return "{" + macros[name] + "}" if is_argument else macros[name]

    for _ in range(5):  # macros may use macros
        expanded = re.sub(r"\\([A-Za-z]+)(?![A-Za-z])", body, tex)
        if expanded == tex:
            return tex
        tex = expanded
    raise ValueError(f"macro expansion does not terminate in {tex!r}")


# Markdown's special characters in text. Not [ ]: with no link definitions they make no
# link, and Colab reads "\[...\]" as display math.
_ESCAPED = re.compile(r"([\\`*_<>$#|~])")


def escape(text: str) -> str:
    return _ESCAPED.sub(r"\\\1", text).replace("\n", " ")


def _plain_edge(text: str) -> bool:
    """True when `**text**` is bold for CommonMark: neither end is space or punctuation."""
    if not text:
        return False
    ends = (text[0], text[-1])
    return not any(c.isspace() or unicodedata.category(c)[0] in "PS" for c in ends)


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def html_block(tag: str, title: str, body: str, attributes: str = "") -> str:
    """An HTML block whose title and body CommonMark renders as Markdown."""
    return f"<{tag}{attributes}>\n\n{title}\n\n{body}\n\n</{tag}>"


class Writer:
    """One chapter's resolved doctree -> the edition's cells (see the module docstring)."""

    def __init__(self, app: Sphinx, docname: str, doctree: nodes.document):
        self.app, self.docname, self.doctree = app, docname, doctree
        self.macros = tex_macros(app)
        self.page_url = urljoin(published_url(app), docname + ".html")
        self.numbers = app.env.toc_fignumbers.get(docname, {})
        self.citations = {c.citation_id: c for c in app.env.get_domain("cite").citations}
        self.cited: list = []  # citations, in order of first use
        self.cells: list[dict] = []
        self.blocks: list[str] = []
        self.in_table = False

    # -- cells ---------------------------------------------------------------------------
    def flush(self) -> None:
        text = "\n\n".join(b for b in self.blocks if b.strip())
        if text:
            self.cells.append({"cell_type": "markdown", "metadata": {}, "source": text})
        self.blocks = []

    def walk(self, node: nodes.Node, depth: int = 0) -> None:
        """Sections and code cells at the top; every other node becomes a Markdown block."""
        for child in node.children:
            if isinstance(child, nodes.section):
                self.flush()  # a heading starts a cell (Colab's TOC)
                self.blocks.append("#" * (depth + 1) + " " + self.inline(child[0]))
                self.walk(child, depth + 1)
            elif isinstance(child, nodes.title):
                continue  # written with its section
            elif isinstance(child, nodes.Element) and child.get("nb_element") == "cell_code":
                self.flush()
                self.cells.append({"cell_type": "code", "cell_index": child["cell_index"]})
            else:
                self.blocks.append(self.block(child))
        if depth == 0:
            self.flush()

    # -- blocks --------------------------------------------------------------------------
    def blocks_of(self, node: nodes.Element) -> str:
        return "\n\n".join(b for b in (self.block(c) for c in node.children) if b.strip())

    def block(self, node: nodes.Node) -> str:
        name = type(node).__name__
        if isinstance(node, (nodes.target, nodes.comment)):
            return ""
        if isinstance(node, nodes.paragraph):
            return self.inline(node)
        if isinstance(node, nodes.math_block):
            return self.display_math(node)
        if isinstance(node, nodes.bullet_list):
            return "\n".join(self.list_item(item, "- ") for item in node.children)
        if isinstance(node, nodes.enumerated_list):
            start = node.get("start", 1)
            return "\n".join(
                self.list_item(item, f"{start + i}. ") for i, item in enumerate(node.children)
            )
        if isinstance(node, nodes.literal_block):
            fence = "````" if "```" in node.astext() else "```"
            return f"{fence}{node.get('language', '')}\n{node.astext().rstrip()}\n{fence}"
        if isinstance(node, nodes.table):
            return self.table(node)
        if isinstance(node, nodes.block_quote):
            return html_block("blockquote", "", self.blocks_of(node))
        if name == "proof_node":
            return self.blocks_of(node)
        if isinstance(node, nodes.admonition) and "proof" in node["classes"]:
            return html_block("blockquote", "", self.blocks_of(node))
        if name == "exercise_enumerable_node":
            return html_block("blockquote", f"**{self.exercise_title(node)}**", self.content(node))
        if name == "solution_node":
            return html_block(
                "details",
                f"<summary><strong>{self.solution_title(node)}</strong></summary>",
                self.content(node),
            )
        if isinstance(node, nodes.Admonition):
            # The 勘误 boxes ({admonition} with a title) and {note}, {tip}, ... (titled by
            # Sphinx's label); after the exercise nodes, which are Admonitions too.
            if node.children and isinstance(node[0], nodes.title):
                title = self.inline(node[0])
            else:
                title = str(admonitionlabels.get(node.tagname, node.tagname))
            body = "\n\n".join(
                self.block(c) for c in node.children if not isinstance(c, nodes.title)
            )
            return html_block("blockquote", f"**{title}**", body)
        if isinstance(node, nodes.Element) and node.get("nb_element"):
            raise UnknownNode(
                f"{self.docname}: a code cell inside a block: the edition puts "
                "code cells between Markdown cells only"
            )
        if isinstance(node, (nodes.container, nodes.compound)):
            return self.blocks_of(node)
        if isinstance(node, nodes.raw) and node.get("format") == "html":
            return "" if "<script" in node.astext() else node.astext().strip()
        raise UnknownNode(f"{self.docname}: no Markdown for <{name}>: {node.astext()[:80]!r}")

    def list_item(self, item: nodes.Element, marker: str) -> str:
        return marker + indent(self.blocks_of(item), " " * len(marker)).lstrip()

    def content(self, node: nodes.Element) -> str:
        """The body of an exercise or solution (its section "…-content")."""
        body = [c for c in node.children if isinstance(c, nodes.section)]
        return "\n\n".join(self.blocks_of(s) for s in body)

    def exercise_title(self, node: nodes.Element) -> str:
        number = ".".join(map(str, self.numbers.get("exercise", {}).get(node["ids"][0], ())))
        title = next(c for c in node.children if isinstance(c, nodes.title))
        return f"{node['title']} {number}" + self.inline(title).rstrip()

    def solution_title(self, node: nodes.Element) -> str:
        """The title as HTML (it goes into <summary>, where Markdown is not parsed); its math
        as $...$, which MathJax typesets there too."""
        title = next(c for c in node.children if isinstance(c, nodes.title))
        parts = []
        for piece in title.findall(lambda n: isinstance(n, (nodes.Text, nodes.math))):
            if isinstance(piece, nodes.math):
                parts.append(html.escape(f"${expand_macros(piece.astext(), self.macros)}$"))
            elif not isinstance(piece.parent, nodes.math):
                parts.append(html.escape(piece.astext()))
        return " ".join("".join(parts).split())

    def display_math(self, node: nodes.math_block) -> str:
        tex = expand_macros(node.astext().strip("\n"), self.macros)
        tex = "\n".join(line.rstrip() for line in tex.split("\n")).strip()
        number = ""
        if node.get("ids"):
            value = self.numbers.get("displaymath", {}).get(node["ids"][0])
            if value:
                number = f"\n\\tag{{{'.'.join(map(str, value))}}}"
        return f"$$\n{tex}{number}\n$$"

    def table(self, node: nodes.table) -> str:
        self.in_table = True
        try:
            rows = []
            for part in node.findall(lambda n: isinstance(n, (nodes.thead, nodes.tbody))):
                for row in part.children:
                    rows.append(
                        [" ".join(self.inline(p) for p in entry.children) for entry in row.children]
                    )
                    if isinstance(part, nodes.thead) and len(rows) == 1:
                        rows.append(["---"] * len(rows[0]))
        finally:
            self.in_table = False
        return "\n".join("| " + " | ".join(r) + " |" for r in rows)

    # -- inline --------------------------------------------------------------------------
    def inline(self, node: nodes.Node) -> str:
        """The children's Markdown. A closing ``$`` followed by a digit (``$d=$7``, a glued
        number after a formula) is not math for Pandoc-style renderers (VS Code, GitHub):
        such a number goes inside the formula (``$d=7$``)."""
        parts = [self.span(c) for c in node.children]
        for i in range(len(parts) - 1):
            if parts[i].endswith("$") and not parts[i].endswith("\\$"):
                number = re.match(r"-?\d[\d.,]*(e[+-]?\d+)?", parts[i + 1])
                if number and isinstance(node.children[i], nodes.math):
                    parts[i] = parts[i][:-1] + number.group(0) + "$"
                    parts[i + 1] = parts[i + 1][number.end() :]
        return "".join(parts)

    def span(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Text):
            return escape(node.astext())
        if isinstance(node, nodes.math):
            tex = expand_macros(node.astext().strip(), self.macros)
            if self.in_table:  # a | would split the table cell
                tex = tex.replace(r"\|", r"\Vert ").replace("|", r"\vert ")
            return f"${tex}$"
        if isinstance(node, nodes.literal):
            text = node.astext()
            tick = "``" if "`" in text else "`"
            return f"{tick}{text}{tick}"
        if isinstance(node, nodes.strong):
            return self.wrap(self.inline(node), "**", "strong")
        if isinstance(node, nodes.emphasis):
            return self.wrap(self.inline(node), "*", "em")
        if isinstance(node, nodes.inline) and "bibtex-citation" in node["classes"]:
            return self.citation(node)
        if isinstance(node, nodes.reference):
            return self.reference(node)
        if isinstance(node, (nodes.inline, nodes.title)):
            return self.inline(node)
        if isinstance(node, nodes.superscript):
            return f"<sup>{self.inline(node)}</sup>"
        if isinstance(node, nodes.subscript):
            return f"<sub>{self.inline(node)}</sub>"
        if type(node).__name__ == "exercise_subtitle":
            return self.inline(node)
        if isinstance(node, nodes.target):
            return ""
        raise UnknownNode(
            f"{self.docname}: no Markdown for inline <{type(node).__name__}>: "
            f"{node.astext()[:80]!r}"
        )

    @staticmethod
    def wrap(text: str, mark: str, tag: str) -> str:
        return f"{mark}{text}{mark}" if _plain_edge(text) else f"<{tag}>{text}</{tag}>"

    def reference(self, node: nodes.reference) -> str:
        text = self.inline(node)
        uri = node.get("refuri", "")
        if node.get("refid") or uri.startswith("#"):
            return text  # within the page: text (see above)
        if any(isinstance(c, nodes.inline) and "std-term" in c["classes"] for c in node.children):
            text = self.wrap(text, "**", "strong")  # a glossary term
        return f"[{text}]({urljoin(self.page_url, uri)})"

    def citation(self, node: nodes.inline) -> str:
        """sphinxcontrib-bibtex's "[Author, Year]" as "(Author, Year)"; the work goes to the
        list."""
        parts = []
        for child in node.children:
            if isinstance(child, nodes.reference):
                citation = self.citations[child["refuri"].rsplit("#", 1)[1]]
                if citation not in self.cited:
                    self.cited.append(citation)
                parts.append(escape(child.astext()))
            else:
                text = child.astext().replace("[", "(").replace("]", ")")
                parts.append(escape(text))
        return "".join(parts)

    def references(self) -> str:
        """The reference list: every work this chapter cites, formatted as the book's page."""
        if not self.cited:
            return ""
        order = list(self.citations.values())  # the bibliography's order (by author)
        entries = sorted(self.cited, key=order.index)
        items = [
            f"- {unescape_urls(c.formatted_entry.text.render_as('markdown'))}" for c in entries
        ]
        link = urljoin(published_url(self.app), "book/references.html")
        return "## 参考文献\n\n" + "\n".join(items) + f"\n\n全书的参考文献见[参考文献]({link})。"


def unescape_urls(markdown: str) -> str:
    """pybtex's Markdown escapes a URL's dots and dashes ("www\\.x\\.org"); renderers that
    autolink the URL show the backslashes (a link's text is not unescaped). URLs go bare."""
    return re.sub(r"https?://\S+", lambda m: re.sub(r"\\(?=[^\w\s]|_)", "", m.group(0)), markdown)


def edition(app: Sphinx, docname: str, doctree: nodes.document) -> dict:
    """The chapter's Colab edition as a notebook (nbformat 4 JSON)."""
    source_path = Path(app.srcdir, docname + ".ipynb")
    source = json.loads(source_path.read_text(encoding="utf-8"))
    code_cells = [i for i, c in enumerate(source["cells"]) if c["cell_type"] == "code"]
    writer = Writer(app, docname, doctree)
    writer.walk(doctree)
    cells, done = [], set()
    book_page = writer.page_url
    for cell in writer.cells:
        if cell["cell_type"] == "code":
            # the code cells the book hides (the setup cell) go before the next shown one
            for index in code_cells:
                if index <= cell["cell_index"] and index not in done:
                    cells.append(copy.deepcopy(source["cells"][index]))
                    done.add(index)
        else:
            cells.append(cell)
    cells += [copy.deepcopy(source["cells"][i]) for i in code_cells if i not in done]
    references = writer.references()
    if references:
        cells.append({"cell_type": "markdown", "metadata": {}, "source": references})
    note = (
        f"> **Colab 版**：本笔记本由 `{docname}.ipynb` 自动生成（`make sync`），请勿手改；"
        f"网页版见[本章]({book_page})。代码单元格与书中完全相同；正文引用的数字取自本书"
        "在与 Colab 同版本的软件环境中的执行结果（随机种子固定；换一种 CPU 或 torch 版本，"
        "末几位可能略有不同）。"
    )
    cells.insert(1, {"cell_type": "markdown", "metadata": {}, "source": note})
    for number, cell in enumerate(cells):
        cell.setdefault("id", f"edition-{number}")
        if cell["cell_type"] == "markdown":
            cell["id"] = f"edition-md-{number}"
    metadata = copy.deepcopy(source["metadata"])
    metadata["colab"] = {"provenance": [], "toc_visible": True}
    return {
        "cells": cells,
        "metadata": metadata,
        "nbformat": source["nbformat"],
        "nbformat_minor": source["nbformat_minor"],
    }


def write_edition(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html" or not docname.startswith(CHAPTERS):
        return
    out = Path(app.outdir).parent / EDITION / (Path(docname).name + ".ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(edition(app, docname, doctree), indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def point_launch_buttons(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    """The rocket's Colab and Binder links open the edition (colab/<chapter>.ipynb)."""
    if not pagename.startswith(CHAPTERS):
        return
    chapter = f"{pagename}.ipynb"
    target = f"{EDITION}/{Path(pagename).name}.ipynb"

    def repoint(buttons):
        for button in buttons:
            if button.get("text") in ("Colab", "Binder") and chapter in button.get("url", ""):
                button["url"] = button["url"].replace(chapter, target)
            repoint(button.get("buttons", []))

    repoint(context.get("header_buttons", []))


def chapters_always(app, env, added, changed, removed) -> list[str]:
    """Re-read (and so re-write) every chapter in every build: Sphinx writes only the pages
    whose sources changed, and the edition must follow this writer's changes too."""
    return [name for name in env.found_docs if name.startswith(CHAPTERS)]


def setup(app: Sphinx) -> dict:
    app.connect("env-get-outdated", chapters_always)
    app.connect("doctree-resolved", write_edition)
    app.connect("html-page-context", point_launch_buttons, priority=502)  # after the theme's
    return {"parallel_read_safe": True, "parallel_write_safe": False}
