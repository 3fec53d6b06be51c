"""Fixes to the HTML pages, found by the browser test (tests/browser) or by reading them.

1. sphinx-thebe's inline script (``const THEBE_JS_URL = ...``) is written into every page
   twice under Sphinx 7.4 (sphinx-doc/sphinx#13402, fixed in Sphinx 8, which Jupyter Book 1
   cannot use); the second copy throws "Identifier 'THEBE_JS_URL' has already been
   declared". Drop repeated scripts from the page context, keeping the first of each.
2. The theme's colour mode: without a default the head script sets ``data-mode=""`` and the
   theme logs "Got invalid theme mode" on a reader's first visit. Default to "auto" (follow
   the system setting) unless the configuration says otherwise.
3. sphinx-proof's ``{prf:proof}`` starts every proof with the English word "Proof."
   (prepended to the source text, not translated: sphinx-proof 0.4.0 has translations for
   the theorem-like titles only). On a page in the book's language the word becomes that
   language's, in bold like the other block titles.
"""

from __future__ import annotations

from docutils import nodes

# The word sphinx-proof writes, and what it is in the languages a book may be written in.
_PROOF_PREFIX = "Proof."
_PROOF_WORD = {"zh_CN": "证明", "zh_TW": "證明", "ja": "証明"}


def _key(script) -> tuple:
    """What the page will contain for this script. An inline script has no file; its two
    copies carry it as None and as "" respectively, so both map to ""."""
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""
    return (str(filename), tuple(sorted(attributes.items())))


def fix_page_context(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
    context.setdefault("default_mode", "auto")


def translate_proof_word(app, doctree):
    word = _PROOF_WORD.get(app.config.language)
    if word is None:
        return
    for block in doctree.findall(nodes.admonition):
        if "proof" not in block["classes"]:
            continue
        first = next(block.findall(nodes.Text), None)
        if first is None or not first.astext().startswith(_PROOF_PREFIX):
            continue
        rest = first.astext()[len(_PROOF_PREFIX):].lstrip()
        parent = first.parent
        index = parent.index(first)
        parent.remove(first)
        parent.insert(index, nodes.Text(rest))
        parent.insert(index, nodes.Text(" "))
        parent.insert(index, nodes.strong(word, word))


def setup(app):
    app.connect("doctree-read", translate_proof_word)
    # After the other extensions (sphinx-thebe among them) have added their scripts.
    app.connect("html-page-context", fix_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
