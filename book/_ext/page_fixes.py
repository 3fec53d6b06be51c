"""Fixes to the HTML pages, found by the browser test (tests/browser) or by reading them.

1. sphinx-thebe's inline script (``const THEBE_JS_URL = ...``) is written into every page
   twice under Sphinx 7.4 (sphinx-doc/sphinx#13402, fixed in Sphinx 8, which Jupyter Book 1
   cannot use); the second copy throws "Identifier 'THEBE_JS_URL' has already been
   declared". Drop repeated scripts from the page context, keeping the first of each.
2. The theme's colour mode: without a default the head script sets ``data-mode=""`` and the
   theme logs "Got invalid theme mode" on a reader's first visit. Default to "auto" (follow
   the system setting) unless the configuration says otherwise.
3. sphinx-proof 0.4.0's ``{prf:proof}`` takes no title and writes "Proof. " in front of
   the first line of its content before parsing it: the title a proof is given
   (```` ```{prf:proof} 高斯分布的最大似然估计 ````) runs into the first sentence, a proof
   that opens with a numbered list loses the list ("Proof. 1. ..." is a paragraph), and the
   word is English (it has translations for the theorem-like titles only). `TitledProof`
   replaces the directive: the block opens with the word in the book's language, in bold
   like the other block titles, and the title in parentheses, in a paragraph of their own;
   the content is parsed as written. The node and classes are sphinx-proof's, so its
   styling applies.
"""

from __future__ import annotations

from docutils import nodes
from sphinx_proof.directive import ProofDirective
from sphinx_proof.nodes import proof_node

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


class TitledProof(ProofDirective):
    """``{prf:proof} [title]``: "证明（title）" on a line of its own, then the content."""

    optional_arguments = 1

    def run(self):
        word = _PROOF_WORD.get(self.env.config.language, _PROOF_PREFIX.rstrip("."))
        classes = ["proof", "proof", *self.options.get("class", [])]
        block = nodes.admonition(classes=classes, ids=["proof"])
        heading = nodes.paragraph()
        heading += nodes.strong(word, word)
        if self.arguments:
            inline, messages = self.state.inline_text(self.arguments[0], self.lineno)
            heading += [nodes.Text("（"), *inline, nodes.Text("）"), *messages]
        block += heading
        self.state.nested_parse(self.content, self.content_offset, block)
        node = proof_node()
        node += block
        return [node]


def setup(app):
    app.add_directive_to_domain("prf", "proof", TitledProof, override=True)
    # After the other extensions (sphinx-thebe among them) have added their scripts.
    app.connect("html-page-context", fix_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
