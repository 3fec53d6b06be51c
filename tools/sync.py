"""Regenerate the files derived from _config.yml and book/formulas.yml (`make sync`).

- the first two cells of every notebook (Colab set-up, MathJax macros), outputs stripped;
- book/formula_index.md and book/errata.md;
- book/performance.md, from the benchmark results (benchmarks/results/*.json);
- book/search_dict.txt, the search index's dictionary, from the glossary;
- book/intro.md's sentence on the Colab snapshot, from requirements-colab.txt.

    python tools/sync.py          # write what is out of date
    python tools/sync.py --check  # exit 1 if anything is out of date (run by the tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

import colab_snapshot
import formula_pages
import notebook_cells
import performance_page
import search_dict

ROOT = Path(__file__).resolve().parents[1]


def derived_files(root: Path = ROOT) -> dict[Path, str]:
    return {
        **notebook_cells.notebooks(root),
        **formula_pages.pages(root),
        **performance_page.pages(root),
        **search_dict.pages(root),
        **colab_snapshot.pages(root),
    }


def main(argv: list[str], root: Path = ROOT) -> int:
    check = "--check" in argv
    stale = []
    for path, text in derived_files(root).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(root))
            if not check:
                path.write_text(text, encoding="utf-8")
    if check and stale:
        print("out of date (run `make sync`):", *stale, sep="\n  ")
        return 1
    for path in stale:
        print("updated", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
