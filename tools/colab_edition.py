"""Keep the Colab edition (colab/*.ipynb) in step with the chapters.

The edition is written by the book build (book/_ext/colab_edition.py writes
_build/colab/<chapter>.ipynb from each chapter's resolved page, with the numbers of the
executed chapter). This script copies it into the repository, where Colab and Binder open
it, or checks that the committed copy is the one the build just wrote.

    python tools/colab_edition.py          # copy _build/colab/*.ipynb to colab/ (make sync)
    python tools/colab_edition.py --check  # exit 1 if colab/ differs (make test-book)
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "_build" / "colab"
EDITION = ROOT / "colab"


def chapters() -> list[str]:
    return sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    missing = [name for name in chapters() if not (BUILT / name).is_file()]
    if missing:
        sys.exit(f"no built edition of {', '.join(missing)} in {BUILT}: build the book first")
    stale = []
    for name in chapters():
        built = (BUILT / name).read_text(encoding="utf-8")
        path = EDITION / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if committed != built:
            stale.append(name)
            if check:
                diff = difflib.unified_diff(
                    committed.splitlines(),
                    built.splitlines(),
                    f"colab/{name}",
                    f"_build/colab/{name}",
                    lineterm="",
                    n=1,
                )
                print("\n".join(list(diff)[:40]))
            else:
                EDITION.mkdir(exist_ok=True)
                path.write_text(built, encoding="utf-8")
                print("updated", path.relative_to(ROOT))
    extra = sorted({p.name for p in EDITION.glob("*.ipynb")} - set(chapters()))
    for name in extra:
        if check:
            stale.append(name)
        else:
            (EDITION / name).unlink()
            print("removed", f"colab/{name}", "(no such chapter)")
    if check and stale:
        print(
            "the Colab edition is out of date (run `make sync` and commit colab/):",
            *stale,
            sep="\n  ",
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
