"""When the browser tests run: only when asked for by path.

tests/browser needs more than the library tests do: the built book (`make book`),
Playwright for Python, Debian's Chromium (/usr/bin/chromium; Playwright's own browser
download is never used) and MathJax from npm (`npm ci`). So `pytest tests` (make
test-lib) leaves this folder alone, and it runs only when named on the command line:

    .venv/bin/python -m pytest tests/browser
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "_build" / "browser")).resolve()
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Ignore this folder's files unless a command-line argument points into the folder."""
    if HERE not in collection_path.parents:
        return None
    for arg in config.args:
        target = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if target == HERE or HERE in target.parents:
            return None
    return True


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run (every test module); each test opens its
    own context."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium will not start its sandbox as root (CI containers).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the screenshots go (BROWSER_ARTIFACTS, default _build/browser)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
