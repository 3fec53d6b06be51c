"""Generate book/search_dict.txt, the jieba user dictionary of the book's search index.

Sphinx's Chinese search segments every page with jieba. Its general-purpose dictionary
splits technical terms (稀疏编码 -> 稀疏 / 编码), and the search box does not segment a
query, so a reader typing 稀疏编码 would find only pages whose *titles* contain it. Every
Chinese term of the glossary (book/glossary.md) goes into this dictionary, so the index
keeps it whole (jieba's search mode also keeps the parts). `make sync` writes it;
_config.yml passes it to Sphinx (html_search_options.dict).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CJK_WORD = re.compile(r"[\u4e00-\u9fff]+")  # jieba's dictionary lines cannot hold spaces


def glossary_terms(text: str) -> list[str]:
    """The term lines of the {glossary} block: not indented, not blank, not the fence."""
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.startswith((" ", "\t"))
    ]


def search_dict(root: Path = ROOT) -> str:
    terms = glossary_terms((root / "book" / "glossary.md").read_text(encoding="utf-8"))
    words = sorted({t for t in terms if CJK_WORD.fullmatch(t)})
    return "".join(f"{w}\n" for w in words)  # no header: jieba would read it as a word


def pages(root: Path = ROOT) -> dict[Path, str]:
    return {root / "book" / "search_dict.txt": search_dict(root)}
