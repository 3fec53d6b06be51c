"""The intro page's sentence on the Colab runtime the book is tested against.

requirements-colab.txt holds the snapshot of Colab's runtime (googlecolab/backend-info:
its commit and date in the header, the versions as pins) in one place; this writes the
sentence of book/intro.md between the two `% colab-snapshot` comment lines from it, so the
page cannot name another snapshot than the one the tests run. Part of `make sync`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "% colab-snapshot (written by `make sync` from requirements-colab.txt)"
END = "% end colab-snapshot"
SHOWN = ["numpy", "scipy", "scikit-learn", "matplotlib", "tqdm"]


def sentence(requirements: str) -> str:
    commit, date = re.search(r"at commit (\w+),\s*\n#\s*(\d{4}-\d{2}-\d{2})", requirements).groups()
    python = re.search(r"Python (3\.\d+\.\d+)", requirements).group(1)
    ours = re.search(r"Python is this machine's \((3\.\d+)\)", requirements).group(1)
    torch = re.search(r"\(Colab: ([\w.+]+)\)", requirements).group(1)
    pins = dict(re.findall(r"^([\w-]+)==([\w.+]+)", requirements, re.M))
    versions = "、".join(f"{name} {pins[name]}" for name in SHOWN)
    return (
        f"每章都在一个与 Colab 运行时同版本的环境里从头到尾运行过：Google 公布的 Colab 运行时快照"
        f"（[googlecolab/backend-info](https://github.com/googlecolab/backend-info) 的提交 "
        f"`{commit}`，{date}）中的 {versions}，以及 ipykernel {pins['ipykernel']}、"
        f"IPython {pins['ipython']}。与快照不同的只有两处：Python 是测试机器上的 {ours}"
        f"（快照为 {python}），torch 用 CPU 版 {pins['torch']}（快照为 {torch}）；"
        "每周一次的定时任务还会在 Colab 官方的运行时镜像里运行各章的 Colab 版。"
    )


def pages(root: Path = ROOT) -> dict[Path, str]:
    intro = root / "book" / "intro.md"
    text = intro.read_text(encoding="utf-8")
    block = (
        f"{BEGIN}\n{sentence((root / 'requirements-colab.txt').read_text(encoding='utf-8'))}\n{END}"
    )
    if BEGIN not in text:
        raise ValueError(f"{intro} lacks the line {BEGIN!r}")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return {intro: text[:start] + block + text[end:]}
