"""Mutation testing of the library's formulas (`make mutants`; not part of `make test`).

Each mutant is one semantic break of one formula the library implements — a factor 1/2, a
sign, an exponent, a dropped term, swapped arguments, N for N - 1, sigma for sigma^2 —
written as an exact text replacement in one module of src/unsupervised (mutants_list.py).
For every mutant this applies the replacement to a copy of src/, then runs, with that copy
first on the import path,

- the module's library tests (they guard maintainers), and
- the chapter notebook of the formula (it guards readers: its `verify:` cells),

and reports which of the two killed it (failed). A mutant must be killed by BOTH. First the
unmutated library must pass both, or a kill would prove nothing. A replacement whose text is
no longer in the module (the code changed) is an error: the list must follow the code.

    python tools/mutants.py                  # every mutant; exit 1 if one survives either
    python tools/mutants.py --list           # the mutants, one line each
    python tools/mutants.py SC3 AE5          # the mutants of some formulas
    python tools/mutants.py --tests-only     # the library tests only (minutes, not an hour)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutants_list import CHAPTERS, MUTANTS, TESTS, Mutant

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
WORKERS = 2  # the machines have 2 cores
NOTEBOOK_TIMEOUT = 900  # seconds per cell, as generous as the book's 180 x 5


def mutated_copy(mutant: Mutant | None, workdir: Path) -> Path:
    """src/ copied into workdir, with the mutant applied; returns the copy's src folder."""
    src = workdir / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if mutant is not None:
        path = src / "unsupervised" / mutant.module
        text = path.read_text(encoding="utf-8")
        if text.count(mutant.old) != 1:
            raise SystemExit(
                f"{mutant.name}: its text occurs {text.count(mutant.old)} times in "
                f"{mutant.module} (must be once): update tools/mutants_list.py"
            )
        path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    return src


def run(command: list[str], src: Path, cwd: Path, timeout: float) -> bool:
    """True when the command passes with the copy `src` first on the import path."""
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def tests_pass(mutant: Mutant | None, module: str, src: Path) -> bool:
    return run(
        [str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS[module]],
        src,
        ROOT,
        timeout=1800,
    )


def notebook_passes(formula: str, src: Path, workdir: Path) -> bool:
    notebook = ROOT / "notebooks" / f"{CHAPTERS[formula.rstrip('0123456789')]}.ipynb"
    return run(
        [
            str(PYTHON),
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            f"--ExecutePreprocessor.timeout={NOTEBOOK_TIMEOUT}",
            "--output-dir",
            str(workdir),
            "--output",
            "executed",
            str(notebook),
        ],
        src,
        notebook.parent,
        timeout=3600,
    )


def judge(mutant: Mutant, notebooks: bool) -> tuple[Mutant, bool, bool | None, float]:
    """(mutant, killed by the tests, killed by the notebook or None if not run, seconds)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        src = mutated_copy(mutant, Path(tmp))
        by_tests = not tests_pass(mutant, mutant.module, src)
        by_notebook = (not notebook_passes(mutant.formula, src, Path(tmp))) if notebooks else None
    return mutant, by_tests, by_notebook, time.perf_counter() - start


def baseline(mutants: list[Mutant], notebooks: bool) -> None:
    """The unmutated library must pass every test module and notebook the mutants use."""
    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
        src = mutated_copy(None, Path(tmp))
        for module in sorted({m.module for m in mutants}):
            if not tests_pass(None, module, src):
                raise SystemExit(f"the unmutated library fails {TESTS[module]}: fix that first")
        if notebooks:
            for formula in sorted({m.formula.rstrip("0123456789") for m in mutants}):
                if not notebook_passes(formula, src, Path(tmp)):
                    raise SystemExit(
                        f"the unmutated library fails {CHAPTERS[formula]}: fix it first"
                    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("formulas", nargs="*", help="formula IDs (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--tests-only", action="store_true", help="skip the notebooks")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if not args.formulas or m.formula in args.formulas]
    if args.list:
        for m in mutants:
            print(f"{m.name:14} {m.module:18} {m.what}")
        return 0
    notebooks = not args.tests_only
    print(
        f"{len(mutants)} mutants of {len({m.formula for m in mutants})} formulas; baseline first",
        flush=True,
    )
    baseline(mutants, notebooks)
    survivors = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for mutant, by_tests, by_notebook, seconds in pool.map(
            lambda m: judge(m, notebooks), mutants
        ):
            killed = by_tests and by_notebook is not False
            survivors += not killed
            mark = lambda k: "-" if k is None else ("killed" if k else "SURVIVED")
            print(
                f"{mutant.name:14} tests {mark(by_tests):8} notebook {mark(by_notebook):8} "
                f"({seconds:4.0f} s)  {mutant.what}",
                flush=True,
            )
    print(
        f"{len(mutants) - survivors} of {len(mutants)} mutants killed by "
        f"{'both the tests and the notebooks' if notebooks else 'the tests'}"
    )
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
