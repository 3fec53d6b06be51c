"""Run the chapter notebooks the way Colab runs them (`make test-notebooks`).

The kernel is "colab-like": a separate virtual environment (.venv-colab) holding only
what Colab provides by default (requirements-colab.txt) -- not the library, not the book's
tooling. Before each notebook the library is uninstalled from it, so the notebook must
install it itself, with its first (setup) cell; UNSUPERVISED_BOOK_INSTALL points that cell
at this checkout instead of GitHub (CI is offline). nbval, running in the main
environment, executes every cell in that kernel and fails on the first error.

    python tools/colab_path.py                 # every notebook, then the control
    python tools/colab_path.py notebooks/01_sparse_coding.ipynb   # some notebooks

The control: the sparse-coding notebook without its setup cell, cut after its imports,
must FAIL in the same environment (ModuleNotFoundError). If it passed, the environment
would already hold the library and the run above could not catch a notebook that forgot
to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_PYTHON = ROOT / ".venv-colab" / "bin" / "python"
KERNEL = "colab-like"
DISTRIBUTION = "unsupervised"                 # the name in pyproject.toml
CONTROL = ROOT / "notebooks" / "01_sparse_coding.ipynb"


def uninstall_library() -> None:
    # pip builds the checkout in place: drop its build/ so every install starts clean
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run([str(COLAB_PYTHON), "-m", "pip", "uninstall", "--quiet", "--yes",
                    DISTRIBUTION], check=True, capture_output=True)
    probe = subprocess.run([str(COLAB_PYTHON), "-c", "import unsupervised"],
                           capture_output=True)
    if probe.returncode == 0:
        sys.exit(f"the colab-like environment still imports `unsupervised` after "
                 f"uninstalling {DISTRIBUTION}: the test would prove nothing")


def nbval(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, UNSUPERVISED_BOOK_INSTALL=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", f"--nbval-kernel-name={KERNEL}",
         "-p", "no:cacheprovider", "-q", str(path)],
        env=env, cwd=ROOT, capture_output=True, text=True)


def run_notebooks(paths: list[Path]) -> bool:
    ok = True
    for path in paths:
        uninstall_library()
        start = time.perf_counter()
        result = nbval(path)
        seconds = time.perf_counter() - start
        status = "passed" if result.returncode == 0 else "FAILED"
        print(f"{path.relative_to(ROOT)}: {status} in the colab-like kernel ({seconds:.0f} s, "
              f"setup cell included)", flush=True)
        if result.returncode != 0:
            print(result.stdout[-6000:], result.stderr[-2000:], sep="\n")
            ok = False
    return ok


def control_without_setup_cell() -> bool:
    """The chapter without its setup cell, up to and including its imports, must fail."""
    nb = json.loads(CONTROL.read_text(encoding="utf-8"))
    cells = nb["cells"][1:]                                  # drop the setup cell
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    nb["cells"] = cells[: first_code + 1]                    # ... through the imports
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "without_setup_cell.ipynb"
        path.write_text(json.dumps(nb), encoding="utf-8")
        uninstall_library()
        result = nbval(path)
    caught = result.returncode != 0 and "ModuleNotFoundError" in result.stdout
    print(f"control: {CONTROL.name} without its setup cell "
          f"{'fails as it must (ModuleNotFoundError)' if caught else 'DID NOT FAIL'}")
    if not caught:
        print(result.stdout[-4000:])
    return caught


def main(argv: list[str]) -> int:
    if not COLAB_PYTHON.exists():
        sys.exit("no .venv-colab: run `make colab-env`")
    paths = [Path(a).resolve() for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    ok = run_notebooks(paths)
    ok = control_without_setup_cell() and ok
    uninstall_library()                                      # leave the environment bare
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
