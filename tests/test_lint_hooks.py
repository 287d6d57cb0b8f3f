"""``.pre-commit-config.yaml`` runs what ``make lint`` runs, command for command, and
``make test-fast`` is the suite without the tests marked slow."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def make_recipe(target: str) -> list[str]:
    """The commands of ``target`` in the Makefile, ``$(BIN)`` spelled ``.venv/bin``."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{target}:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)", ".venv/bin"))
    return recipe


def test_pre_commit_runs_make_lint() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert [hook["entry"] for hook in hooks] == make_recipe("lint")
    assert all(hook["pass_filenames"] is False for hook in hooks)  # the whole tree, as make


def test_make_test_fast_deselects_the_slow_tests() -> None:
    assert make_recipe("test-fast") == ['.venv/bin/python -m pytest -m "not slow"']
