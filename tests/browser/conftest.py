"""When the browser tests run: only when asked for by path.

tests/browser needs more than the library tests do: the built book (`make book`),
Playwright for Python, Debian's Chromium (/usr/bin/chromium; Playwright's own browser
download is never used) and MathJax from npm (`npm ci`). So `pytest tests` (make
test-lib) leaves this folder alone, and it runs only when named on the command line:

    .venv/bin/python -m pytest tests/browser
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Ignore this folder's files unless a command-line argument points into the folder."""
    if HERE not in collection_path.parents:
        return None
    for arg in config.args:
        target = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if target == HERE or HERE in target.parents:
            return None
    return True
