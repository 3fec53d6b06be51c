"""The book's structure: every formula of a written chapter is stated, labelled and checked.

These tests read the project's own files only (never ../shared): the catalogue
book/formulas.yml, the notebooks, _toc.yml and the generated pages.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import formula_pages  # noqa: E402
import notebook_cells  # noqa: E402
import sync  # noqa: E402

CATALOGUE = formula_pages.load_catalogue()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The source chapter's formula IDs (../shared/formulas.md), restated here.
EXPECTED_IDS = (
    [f"SC{i}" for i in range(1, 8)]
    + [f"AE{i}" for i in range(1, 8)]
    + [f"DE{i}" for i in range(1, 11)]
    + [f"VA{i}" for i in range(1, 20)]
    + [f"GA{i}" for i in range(1, 12)]
)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"])


def markdown(nb: dict) -> str:
    return "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def written_formulas():
    for f in CATALOGUE["formulas"]:
        path = ROOT / "notebooks" / f"{f['chapter']}.ipynb"
        if path.exists():
            yield pytest.param(f["id"], path, id=f["id"])


def test_catalogue_lists_every_formula_once():
    ids = [f["id"] for f in CATALOGUE["formulas"]]
    assert ids == EXPECTED_IDS
    assert {f["chapter"] for f in CATALOGUE["formulas"]} == set(CATALOGUE["chapters"])


def test_at_least_one_chapter_is_written():
    assert NOTEBOOKS, "no chapter notebook found"
    for path in NOTEBOOKS:
        assert path.stem in CATALOGUE["chapters"], f"{path.name} is not a chapter of formulas.yml"


@pytest.mark.parametrize("fid, path", list(written_formulas()))
def test_formula_is_labelled_and_verified(fid, path):
    nb = load(path)
    low = fid.lower()
    text = markdown(nb)
    # `$$ ... $$ (eq-de4)` or a {math} directive with `:label: eq-de4`.
    label = rf"(\$\$\s*\(eq-{low}\)|:label:\s*eq-{low}\s*$)"
    assert re.search(label, text, re.M), f"{path.name}: no equation labelled eq-{low}"
    cells = nb["cells"]
    verify = [i for i, c in enumerate(cells) if f"verify:{fid}" in tags(c)]
    assert verify, f"{path.name}: no cell tagged verify:{fid}"
    assert all(cells[i]["cell_type"] == "code" for i in verify)
    # The target the formula index links to sits right before a verify cell.
    target = f"(verify-{low})="
    assert any(
        i > 0 and cells[i - 1]["cell_type"] == "markdown" and target in source(cells[i - 1])
        for i in verify
    ), f"{path.name}: no `{target}` target in the markdown cell just before a verify:{fid} cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_generated_cells(path):
    nb = load(path)
    config = notebook_cells.load_config()
    first, second = nb["cells"][:2]
    assert first["cell_type"] == "code"
    assert source(first) == notebook_cells.colab_cell_source(config)
    assert source(second) == notebook_cells.macros_cell_source(config)
    for cell in (first, second):
        assert "remove-cell" in tags(cell), "the set-up cells are hidden in the book"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], "commit notebooks without outputs (make sync)"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_toc(path):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert f"notebooks/{path.stem}" in files


def test_generated_files_are_up_to_date():
    assert sync.main(["--check"]) == 0, "run `make sync`"


def test_every_erratum_points_at_a_proof_in_its_chapter():
    ids = {f["id"]: f["chapter"] for f in CATALOGUE["formulas"]}
    for e in CATALOGUE["errata"]:
        assert e["id"] in ids, e
        path = ROOT / "notebooks" / f"{ids[e['id']]}.ipynb"
        assert path.exists(), f"erratum {e['id']} belongs to an unwritten chapter"
        target = f"({e['proof']})="
        assert target in markdown(load(path)), f"{path.name}: no target {target}"
        for field in ("kind", "printed", "correct", "note"):
            assert e.get(field), f"erratum {e['id']} has no {field}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_has_exercises_and_corrections_in_place(path):
    nb = load(path)
    text = markdown(nb)
    assert len(re.findall(r"```\{exercise\}", text)) >= 5
    assert len(re.findall(r"```\{solution\}", text)) >= 5
    assert (
        len(
            re.findall(
                r"unsupervised\.exercises|from unsupervised import exercises",
                "\n".join(source(c) for c in nb["cells"]),
            )
        )
        >= 1
    )
    chapter_ids = {f["id"] for f in CATALOGUE["formulas"] if f["chapter"] == path.stem}
    for e in CATALOGUE["errata"]:
        if e["id"] in chapter_ids:
            assert f"勘误（{e['id']}）" in text, f"no 勘误（{e['id']}） admonition in place"


def test_no_cjk_in_figure_code():
    """Figures carry no CJK characters (Colab has no CJK font): in the chapters' code cells
    and in the library's figure code (plotting.py, experiments/)."""
    cjk = re.compile(r"[\u4e00-\u9fff]")
    plotting = re.compile(r"(set_title|set_xlabel|set_ylabel|suptitle|label=|\.text\(|legend\()")
    sources = [
        (path.name, source(cell))
        for path in NOTEBOOKS
        for cell in load(path)["cells"]
        if cell["cell_type"] == "code"
    ]
    library = ROOT / "src" / "unsupervised"
    for path in [library / "plotting.py", *sorted((library / "experiments").glob("*.py"))]:
        sources.append((path.name, path.read_text(encoding="utf-8")))
    for name, text in sources:
        for line in text.splitlines():
            if plotting.search(line):
                assert not cjk.search(line), f"{name}: CJK text in a figure: {line}"


# How a chapter reads (CONTRIBUTING item 19): prose with short code. Counted over the
# chapter's own cells (the two generated set-up cells excluded).
CODE_SHARE_MAX = 0.40  # code cells' characters / all cells' characters
MEDIAN_CELL_LINES_MAX = 15
CELL_LINES_MAX = 40
SCREEN_LINES = 20  # a verify cell fits on one screen, so its assertions are seen at once
FIGURE = re.compile(r"\bplt\.(show|subplots|figure)\(|\banimation_html\(")
ASSERTION = re.compile(r"\bassert\b|\bassert_\w+\(")


def chapter_code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"][2:] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_reads_as_prose_with_short_code(path):
    nb = load(path)
    cells = nb["cells"][2:]
    code = sum(len(source(c)) for c in cells if c["cell_type"] == "code")
    share = code / sum(len(source(c)) for c in cells)
    assert share <= CODE_SHARE_MAX, f"code is {share:.0%} of the chapter's characters"
    lengths = sorted(len(source(c).splitlines()) for c in chapter_code_cells(nb))
    median = (lengths[(len(lengths) - 1) // 2] + lengths[len(lengths) // 2]) / 2
    assert median <= MEDIAN_CELL_LINES_MAX, f"median code cell {median} lines"
    long = [i for i, c in enumerate(nb["cells"]) if len(source(c).splitlines()) > CELL_LINES_MAX]
    assert not [i for i in long if nb["cells"][i]["cell_type"] == "code"], (
        f"code cells over {CELL_LINES_MAX} lines: {long}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_cell_is_a_check_or_a_figure_not_both(path):
    """A verify cell asserts within one screen and draws nothing; a figure cell hides its
    code in the book (hide-input; Colab shows it)."""
    for i, cell in enumerate(load(path)["cells"][2:], start=2):
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        if any(t.startswith("verify:") for t in tags(cell)):
            assert ASSERTION.search(text), f"cell {i}: a verify cell without an assertion"
            assert len(text.splitlines()) <= SCREEN_LINES, f"cell {i}: verify cell too long"
            assert not FIGURE.search(text), f"cell {i}: a verify cell that draws a figure"
        if FIGURE.search(text):
            assert "hide-input" in tags(cell), f"cell {i}: a figure cell without hide-input"


def _run_colab_cell(monkeypatch, in_colab: bool, override: str | None) -> list:
    import subprocess
    import types

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if override is None:
        monkeypatch.delenv("UNSUPERVISED_BOOK_INSTALL", raising=False)
    else:
        monkeypatch.setenv("UNSUPERVISED_BOOK_INSTALL", override)
    exec(notebook_cells.colab_cell_source(notebook_cells.load_config()), {})
    return calls


def test_colab_cell_does_nothing_outside_colab(monkeypatch):
    assert _run_colab_cell(monkeypatch, in_colab=False, override=None) == []


def test_colab_cell_installs_the_library_from_the_repository_in_colab(monkeypatch):
    config = notebook_cells.load_config()
    (cmd,) = _run_colab_cell(monkeypatch, in_colab=True, override=None)
    assert cmd[1:4] == ["-m", "pip", "install"]
    assert cmd[-1] == f"git+{config['repository']['url']}.git@{config['repository']['branch']}"


def test_colab_cell_takes_an_override_source(monkeypatch):
    (cmd,) = _run_colab_cell(monkeypatch, in_colab=False, override="/some/checkout")
    assert cmd[-1] == "/some/checkout"


def test_no_page_is_orphaned():
    """Every page of the book (book/*.md, notebooks/*.ipynb) is reachable from the toc."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = {toc["root"]} | {c["file"] for part in toc["parts"] for c in part["chapters"]}
    pages = {
        str(p.relative_to(ROOT).with_suffix(""))
        for p in [*(ROOT / "book").glob("*.md"), *(ROOT / "notebooks").glob("*.ipynb")]
    }
    assert pages - listed == set(), f"pages not in _toc.yml: {sorted(pages - listed)}"


def _requirements(text: str, operator: str) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    return dict(line.split(operator) for line in lines if operator in line)


def test_lower_bounds_are_colabs_versions():
    """requirements.txt and pyproject.toml declare as lower bounds the versions the
    colab-like environment pins (make test-notebooks runs every chapter with them); torch's
    is the snapshot's 2.11 (the colab-like pin is the CPU build on disk, the header says so;
    the README says that no test here ran 2.11)."""
    colab = _requirements((ROOT / "requirements-colab.txt").read_text(encoding="utf-8"), "==")
    reader = _requirements((ROOT / "requirements.txt").read_text(encoding="utf-8"), ">=")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _requirements("\n".join(project["dependencies"]), ">=") == reader
    header = (ROOT / "requirements-colab.txt").read_text(encoding="utf-8")
    colab_torch = re.search(r"\(Colab: (\d+\.\d+)\.\d+\+cpu\)", header).group(1)
    for name, bound in reader.items():
        assert bound == (colab_torch if name == "torch" else colab[name]), name
    assert project["requires-python"] == ">=3.11"  # scipy 1.16 needs 3.11


def test_every_mutant_still_applies():
    """tools/mutants_list.py (make mutants) follows the code: each mutant's text occurs once
    in its module, each test file it names exists, and each formula it breaks is catalogued."""
    sys.path.insert(0, str(ROOT / "tools"))
    from mutants_list import MUTANTS, TESTS

    ids = {f["id"] for f in CATALOGUE["formulas"]}
    for mutant in MUTANTS:
        text = (ROOT / "src" / "unsupervised" / mutant.module).read_text(encoding="utf-8")
        assert text.count(mutant.old) == 1, (
            f"{mutant.name}: {mutant.old!r} not once in {mutant.module}"
        )
        assert mutant.formula in ids and mutant.module in TESTS
    assert all((ROOT / t).is_file() for tests in TESTS.values() for t in tests)


@pytest.mark.parametrize("formula", CATALOGUE["formulas"], ids=lambda f: f["id"])
def test_formula_names_its_code_and_tests(formula):
    """formulas.yml names, for each ID, the library code that implements it (whose docstring
    cites the ID) and the tests that check it, or says why no library function computes it;
    the formula index links both (tools/formula_pages.py)."""
    import ast
    import importlib

    fid = formula["id"]
    assert ("code" in formula) != ("no_code" in formula), f"{fid}: give code (and tests) or no_code"
    if "no_code" in formula:
        assert formula["no_code"].strip()
        return
    assert formula["code"] and formula["tests"], f"{fid}: code without tests"
    for name in formula["code"]:
        module, *attributes = name.split(".")
        obj = importlib.import_module(f"unsupervised.{module}")
        for attribute in attributes:
            obj = getattr(obj, attribute)
        doc = obj.__doc__ or ""
        assert re.search(rf"\b{fid}\b", doc), f"{fid}: the docstring of {name} does not cite {fid}"
    for name in formula["tests"]:
        file, test = name.split("::")
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        assert any(isinstance(n, ast.FunctionDef) and n.name == test for n in tree.body), (
            f"{fid}: no test {name}"
        )
