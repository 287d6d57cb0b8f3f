"""The suite's own shape: one fake clock and one gateway harness, both in tests/support/.

Read with ``ast``, like tests/test_architecture.py reads the project:

- no test module outside tests/support/ defines a clock class (a name ending in
  ``Clock``, ``Monotonic`` or ``Ticks``, or any class whose ``__call__`` answers
  ``self.now``): tests inject readings of ``tests.support.clock.FakeClock``;
- no test module outside tests/support/ starts a gateway (``start_gateway``,
  ``start_running_gateway``) or serves an app itself (``web.AppRunner``): they use
  ``tests.support.gateway``. The allow-list below holds the few peers that need what
  the harness does not give, each with its reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CLOCK_NAME = re.compile(r"(Clock|Monotonic|Ticks)$")
GATEWAY_STARTERS = frozenset({"start_gateway", "start_running_gateway"})

#: Test files that run an aiohttp app without tests/support/gateway.py, and why.
APP_RUNNER_ALLOWED = {
    # a webhook receiver on a port chosen before the gateway processes are spawned
    "deploy/test_cluster.py",
    "payments/test_crash.py",
    # a receiver that stops listening and comes back on the same port
    "store/test_webhooks.py",
    # the demo one-stop served on a socket bound before its config was written
    "payments/test_browser.py",
    "payments/test_demo_page.py",
}


def _modules(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        if root / "support" in path.parents:
            continue
        yield path.relative_to(root).as_posix(), ast.parse(path.read_text(), str(path))


def _answers_self_now(cls: ast.ClassDef) -> bool:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__call__":
            for ret in ast.walk(node):
                if (
                    isinstance(ret, ast.Return)
                    and isinstance(ret.value, ast.Attribute)
                    and isinstance(ret.value.value, ast.Name)
                    and ret.value.value.id == "self"
                    and ret.value.attr == "now"
                ):
                    return True
    return False


def clock_classes(root: Path) -> list[str]:
    """``file:line Name`` of every clock class defined under ``root`` outside support/."""
    found = []
    for name, tree in _modules(root):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and (
                CLOCK_NAME.search(node.name) or _answers_self_now(node)
            ):
                found.append(f"{name}:{node.lineno} {node.name}")
    return found


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def harness_calls(root: Path, allowed: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``file:line name`` of every gateway start or app runner outside support/."""
    found: list[tuple[str, int, str]] = []
    for name, tree in _modules(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = _called_name(node)
            if called in GATEWAY_STARTERS or (called == "AppRunner" and name not in allowed):
                found.append((name, node.lineno, called))
    return [f"{name}:{line} {called}" for name, line, called in sorted(found)]


def test_one_fake_clock() -> None:
    assert clock_classes(TESTS) == []


def test_one_gateway_harness() -> None:
    assert harness_calls(TESTS, APP_RUNNER_ALLOWED) == []


def test_every_allowed_runner_is_still_needed() -> None:
    """An allow-list entry whose file no longer runs an app is removed, not kept."""
    runners = {line.split(":")[0] for line in harness_calls(TESTS)}
    assert runners >= APP_RUNNER_ALLOWED


def test_the_rules_find_what_they_forbid(tmp_path: Path) -> None:
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "clock.py").write_text("class FakeClock:\n    pass\n")
    (tmp_path / "test_x.py").write_text(
        "class Ticks:\n    pass\n\n"
        "class Hand:\n    def __call__(self):\n        return self.now\n\n"
        "async def f(app, stack, settings):\n"
        "    await start_gateway(settings, stack)\n"
        "    runner = web.AppRunner(app)\n"
    )
    assert clock_classes(tmp_path) == ["test_x.py:1 Ticks", "test_x.py:4 Hand"]
    assert harness_calls(tmp_path) == ["test_x.py:9 start_gateway", "test_x.py:10 AppRunner"]
