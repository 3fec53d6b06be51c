"""Run the Colab edition of every chapter the way Colab runs it (`make test-notebooks`).

What runs is colab/<chapter>.ipynb, the notebook the rocket button opens (generated from the
chapter by the book build, see book/_ext/colab_edition.py); its code cells are the chapter's
own, checked cell for cell before anything runs. Each runs in an empty temporary folder, as
in Colab's /content.

The kernel is "colab-like": a separate virtual environment (.venv-colab) holding only
what Colab provides by default (requirements-colab.txt) -- not the library, not the book's
tooling. The library is missing from it when a notebook starts, so the notebook must
install it itself, with its first (setup) cell; UNSUPERVISED_BOOK_INSTALL points that cell
at a wheel built from this checkout instead of GitHub (CI is offline; the wheel is built
once per run, so the build from source that Colab does is part of the test too).
nbclient (Jupyter's notebook executor, the one jupyter-cache and myst-nb use), running in
the main environment, executes every cell in that kernel and fails on the first error,
as `pytest --nbval-lax` would.

Each notebook is executed once in `make test`: the executed notebook goes into the book's
execution cache (_build/.jupyter_cache, keyed by the code cells, as myst-nb keys it), so
the book build that follows takes its outputs from there instead of running it again.
The book then shows what the colab-like kernel computed: the numbers a Colab reader gets.

Two notebooks run at a time, one core each (a chapter's code uses one core: measured,
the VAE chapter takes 73 s with one thread and with two, and quotes the same numbers).
Each of the two runs in a lane of its own: a virtual environment whose only content is a
path file to .venv-colab's packages, so the library a notebook installs lands in its lane
and is gone with it, while both lanes see exactly the colab-like packages.

    python tools/colab_path.py                 # every notebook, then the control
    python tools/colab_path.py colab/01_sparse_coding.ipynb   # some chapters
    python tools/colab_path.py --chapters      # the chapter notebooks (make sync)

The control: the sparse-coding edition without its setup cell, cut after its imports,
must FAIL in the same environment (ModuleNotFoundError). If it passed, the environment
would already hold the library and the run above could not catch a notebook that forgot
to install it.
"""

from __future__ import annotations

import copy
import json
import queue
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
COLAB_PYTHON = ROOT / ".venv-colab" / "bin" / "python"
LANES = ROOT / "_build" / "colab-lanes"
WORKERS = 2  # notebooks at a time (the machines have 2 cores)
DISTRIBUTION = "unsupervised"  # the name in pyproject.toml
EDITION = ROOT / "colab"
CHAPTERS = ROOT / "notebooks"
CONTROL = EDITION / "01_sparse_coding.ipynb"


def check_environment() -> None:
    """.venv-colab holds exactly the versions requirements-colab.txt pins (Colab's)."""
    pins = dict(
        re.findall(
            r"^([\w.-]+)==([\w.+-]+)",
            (ROOT / "requirements-colab.txt").read_text(encoding="utf-8"),
            re.M,
        )
    )
    installed = json.loads(
        run(
            COLAB_PYTHON,
            "-c",
            "import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): "
            "d.version for d in m.distributions()}))",
        )
    )
    wrong = [
        f"{name}=={want} (installed: {installed.get(name.lower().replace('_', '-'))})"
        for name, want in pins.items()
        if installed.get(name.lower().replace("_", "-"), "").split("+")[0] != want.split("+")[0]
    ]
    if wrong:
        sys.exit(
            "the colab-like environment is not the pinned one (run `make clean colab-env`):\n  "
            + "\n  ".join(wrong)
        )


def run(*command: str | Path) -> str:
    return subprocess.run(
        [str(c) for c in command], check=True, capture_output=True, text=True
    ).stdout


def build_wheel() -> Path:
    """The library as Colab's pip builds it from the repository: one wheel for every lane."""
    wheels = LANES / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    run(COLAB_PYTHON, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, ROOT)
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # pip builds the checkout in place
    (wheel,) = wheels.glob(f"{DISTRIBUTION}-*.whl")
    return wheel


@dataclass(frozen=True)
class Lane:
    kernel: str  # the Jupyter kernel that runs in it
    python: Path  # its interpreter


def make_lane(number: int, wheel: Path) -> Lane:
    """A fresh environment that sees .venv-colab's packages and nothing else, and its kernel.

    The kernel's environment names the wheel for the setup cell, makes glue leave the
    records the book reads (see unsupervised.book: the colab-like kernel has no myst-nb)
    and gives the kernel one core.
    """
    lane = LANES / f"lane-{number}"
    shutil.rmtree(lane, ignore_errors=True)
    run(COLAB_PYTHON, "-m", "venv", "--without-pip", lane)
    python = lane / "bin" / "python"
    base = run(COLAB_PYTHON, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    own = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    Path(own.strip(), "colab-like.pth").write_text(base.strip() + "\n", encoding="utf-8")
    if (
        run(python, "-c", "import importlib.util as u; print(u.find_spec('unsupervised'))").strip()
        != "None"
    ):
        sys.exit(
            f"{lane} imports `unsupervised` before any notebook installed it: "
            "the test would prove nothing (uninstall it from .venv-colab)"
        )
    name = f"colab-like-{number}"
    spec = Path(sysconfig.get_path("data"), "share", "jupyter", "kernels", name)
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"Python 3 (colab-like, lane {number})",
                "language": "python",
                "env": {
                    "UNSUPERVISED_BOOK_INSTALL": str(wheel),
                    "UNSUPERVISED_BOOK_GLUE": "1",
                    "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1",
                    "NUMBA_NUM_THREADS": "1",
                    # numba's cache outside the installed library: pip's uninstall would
                    # leave the cache files behind, and the directory would still import
                    "NUMBA_CACHE_DIR": str(lane / "numba-cache"),
                    # debugpy (Colab's 1.8.15) warns at every start on Python 3.11 otherwise
                    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                },
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return Lane(name, python)


def uninstall_library(lane: Lane) -> None:
    """Take the library out of a lane (a notebook before installed it there)."""
    subprocess.run(
        [str(lane.python), "-m", "pip", "uninstall", "--quiet", "--yes", DISTRIBUTION],
        capture_output=True,
    )  # fails when not installed: fine
    probe = subprocess.run([str(lane.python), "-c", "import unsupervised"], capture_output=True)
    if probe.returncode == 0:
        sys.exit(
            f"the colab-like environment still imports `unsupervised` after "
            f"uninstalling {DISTRIBUTION}: the test would prove nothing"
        )


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["execute"]


def execute(
    nb: nbformat.NotebookNode, lane: Lane, cwd: Path
) -> tuple[nbformat.NotebookNode, str | None]:
    """Run every cell of a copy of nb in a lane's kernel, in cwd (as the book does).

    Returns the executed copy and None, or the copy up to the failing cell and the error.
    """
    executed = copy.deepcopy(nb)
    client = NotebookClient(
        executed,
        kernel_name=lane.kernel,
        timeout=book_config()["timeout"],
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        return executed, str(error)
    return executed, None


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def same_code(edition: nbformat.NotebookNode, chapter: nbformat.NotebookNode) -> bool:
    """The edition's code cells are the chapter's: same sources, metadata and order."""
    key = lambda cell: (cell.source, cell.metadata)
    return [key(c) for c in code_cells(edition)] == [key(c) for c in code_cells(chapter)]


def cache_for_the_book(edition: Path, executed: nbformat.NotebookNode, seconds: float) -> None:
    """Put the outputs into the book's execution cache, as myst-nb would after running it.

    The cached notebook is the chapter with the edition's outputs merged into its code cells
    (which are the same cells), so that it hashes as the chapter does and the book finds it.
    """
    chapter_path = CHAPTERS / edition.name
    merged = nbformat.read(chapter_path, as_version=4)
    for cell, done in zip(code_cells(merged), code_cells(executed), strict=True):
        cell.outputs, cell.execution_count = done.outputs, done.execution_count
    cache = get_cache(str(ROOT / book_config()["cache"]))
    cache.cache_notebook_bundle(
        CacheBundleIn(merged, str(chapter_path), data={"execution_seconds": seconds}),
        check_validity=False,
        overwrite=True,
    )


def run_notebook(path: Path, lane: Lane) -> tuple[Path, float, nbformat.NotebookNode, str | None]:
    source = nbformat.read(path, as_version=4)
    uninstall_library(lane)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as content:  # Colab's /content: empty
        executed, error = execute(source, lane, Path(content))
    return path, time.perf_counter() - start, executed, error


def run_notebooks(paths: list[Path], lanes: list[Lane]) -> bool:
    """Every notebook, one per lane at a time, longest (most code) first."""
    free: queue.Queue[Lane] = queue.Queue()
    for lane in lanes:
        free.put(lane)

    def in_a_free_lane(path: Path):
        lane = free.get()
        try:
            return run_notebook(path, lane)
        finally:
            free.put(lane)

    def code_size(path: Path) -> int:
        nb = nbformat.read(path, as_version=4)
        return sum(len(c.source) for c in nb.cells if c.cell_type == "code")

    ok = True
    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        runs = [pool.submit(in_a_free_lane, p) for p in sorted(paths, key=code_size, reverse=True)]
        for done in runs:
            path, seconds, executed, error = done.result()
            status = "passed" if error is None else "FAILED"
            print(
                f"{path.relative_to(ROOT)}: {status} in the colab-like kernel "
                f"({seconds:.0f} s, setup cell included)",
                flush=True,
            )
            if error is None:
                cache_for_the_book(path, executed, seconds)
            else:
                print(error[-6000:])
                ok = False
    return ok


def control_without_setup_cell(lane: Lane) -> bool:
    """The chapter without its setup cell, up to and including its imports, must fail."""
    nb = nbformat.read(CONTROL, as_version=4)
    cells = [c for c in nb.cells if c.get("id") != "colab-setup"]  # drop the setup cell
    if len(cells) == len(nb.cells):
        sys.exit(f"{CONTROL.name} has no setup cell (id colab-setup): the control is void")
    first_code = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    nb.cells = cells[: first_code + 1]  # ... through the imports
    uninstall_library(lane)
    with tempfile.TemporaryDirectory() as tmp:
        _, error = execute(nb, lane, Path(tmp))
    caught = error is not None and "ModuleNotFoundError" in error
    print(
        f"control: {CONTROL.name} without its setup cell "
        f"{'fails as it must (ModuleNotFoundError)' if caught else 'DID NOT FAIL'}"
    )
    if not caught:
        print((error or "it ran without an error")[-4000:])
    return caught


def main(argv: list[str]) -> int:
    """Run the editions named in argv, or every one; `--chapters`: the chapters instead."""
    if not COLAB_PYTHON.exists():
        sys.exit("no .venv-colab: run `make colab-env`")
    if "--chapters" in argv:
        # `make sync`: the chapters themselves (their edition may be out of date: it is
        # written from these outputs by the book build that follows).
        paths = sorted(CHAPTERS.glob("*.ipynb"))
    else:
        paths = [Path(a).resolve() for a in argv] or sorted(EDITION.glob("*.ipynb"))
        chapters = sorted(p.name for p in CHAPTERS.glob("*.ipynb"))
        if sorted(p.name for p in EDITION.glob("*.ipynb")) != chapters:
            sys.exit("colab/ does not hold one edition per chapter: run `make sync`")
        for path in paths:
            if not same_code(
                nbformat.read(path, as_version=4), nbformat.read(CHAPTERS / path.name, as_version=4)
            ):
                sys.exit(
                    f"{path.relative_to(ROOT)}: its code cells are not the chapter's: "
                    "run `make sync`"
                )
    check_environment()
    wheel = build_wheel()
    lanes = [make_lane(number, wheel) for number in range(1, WORKERS + 1)]
    ok = run_notebooks(paths, lanes)
    ok = control_without_setup_cell(lanes[0]) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
