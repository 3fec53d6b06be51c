"""The publishing workflow (.github/workflows/book.yml): every action pinned to a commit.

actionlint itself runs in `make test-workflows`; this test checks what it does not: that
no step uses a movable tag or branch, and that the pin carries the tag it stands for.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$")


def test_there_is_a_publishing_workflow():
    assert WORKFLOWS, "no workflow in .github/workflows"
    book = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = [s.get("uses", "") for job in book["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in steps)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in steps)


def test_every_action_is_pinned_to_a_commit_with_its_tag():
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s*(-\s+)?uses:", line):
                assert PINNED.match(line), f"{path.name}:{number}: not pinned: {line.strip()}"


def test_colab_runtime_job_runs_weekly_and_reports_failures():
    """The colab-runtime job: weekly and on demand, every edition in Colab's own image
    (tools/colab_runtime.sh), and an issue opened when it fails."""
    book = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = book[True]  # YAML reads the key `on` as True
    assert "workflow_dispatch" in triggers and triggers["schedule"]
    job = book["jobs"]["colab-runtime"]
    assert "schedule" in job["if"] and "workflow_dispatch" in job["if"]
    assert job["env"]["IMAGE"].startswith("us-docker.pkg.dev/colab-images/public/runtime")
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "tools/colab_runtime.sh" in runs and (ROOT / "tools" / "colab_runtime.sh").is_file()
    report = [s for s in job["steps"] if s.get("if") == "failure()"]
    assert report and "gh issue create" in report[0]["run"]
    assert job["permissions"]["issues"] == "write"
    assert book["jobs"]["build"]["if"] == "github.event_name != 'schedule'"
