"""Two fixes to the HTML pages, both found by the browser test (tests/browser).

1. sphinx-thebe's inline script (``const THEBE_JS_URL = ...``) is written into every page
   twice under Sphinx 7.4 (sphinx-doc/sphinx#13402, fixed in Sphinx 8, which Jupyter Book 1
   cannot use); the second copy throws "Identifier 'THEBE_JS_URL' has already been
   declared". Drop repeated scripts from the page context, keeping the first of each.
2. The theme's colour mode: without a default the head script sets ``data-mode=""`` and the
   theme logs "Got invalid theme mode" on a reader's first visit. Default to "auto" (follow
   the system setting) unless the configuration says otherwise.
"""

from __future__ import annotations


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


def setup(app):
    # After the other extensions (sphinx-thebe among them) have added their scripts.
    app.connect("html-page-context", fix_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
