"""One implementation per mechanism (issue 10): a mechanism written twice is found here.

Each rule reads the source of ``gateway/`` and ``adapters/`` with ``ast`` and
names the one module allowed to implement the mechanism; a second copy
anywhere else fails with its file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "adapters")


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def _offenders(found: Callable[[ast.AST], bool], allowed: set[str]) -> list[str]:
    return [
        f"{rel}:{getattr(node, 'lineno', 0)}"
        for rel, tree in _sources()
        if rel not in allowed
        for node in ast.walk(tree)
        if found(node)
    ]


def _is_utc_plus_seven(node: ast.AST) -> bool:
    """``timedelta(hours=7)`` or ``ZoneInfo("Asia/Ho_Chi_Minh")``: a Vietnam time zone."""
    if not isinstance(node, ast.Call):
        return False
    if any(
        kw.arg == "hours" and isinstance(kw.value, ast.Constant) and kw.value.value == 7
        for kw in node.keywords
    ):
        return True
    return any(
        isinstance(arg, ast.Constant) and arg.value == "Asia/Ho_Chi_Minh" for arg in node.args
    )


def test_the_vietnam_time_zone_is_built_once() -> None:
    """Only adapters/aliases.py builds UTC+7; everything else imports ``VIETNAM_TZ``."""
    assert _offenders(_is_utc_plus_seven, {"adapters/aliases.py"}) == []


def _emits_a_literal(node: ast.AST) -> bool:
    """``security_events.emit("kind", ...)``: a kind spelt as a string, not a member."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "emit"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
    )


def test_security_events_are_emitted_by_kind_never_by_string() -> None:
    """Every ``emit`` names a ``SecurityEventKind`` member (a typo cannot make a new kind)."""
    assert _offenders(_emits_a_literal, set()) == []


def _doubles(node: ast.AST) -> bool:
    """``2 ** n`` with a variable ``n``: an exponential backoff written again."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Pow)
        and isinstance(node.left, ast.Constant)
        and node.left.value == 2
        and not isinstance(node.right, ast.Constant)
    )


def test_exponential_backoff_is_computed_in_one_module() -> None:
    """Only adapters/backoff.py raises 2 to a variable power (retries, outbox, poller, alerts)."""
    assert _offenders(_doubles, {"adapters/backoff.py"}) == []


def _stars(node: ast.AST) -> bool:
    """``"*" * n``: a personal id being masked by hand."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and any(
            isinstance(side, ast.Constant) and side.value == "*" for side in (node.left, node.right)
        )
    )


def test_personal_ids_are_masked_in_one_module() -> None:
    """Only adapters/masking.py writes the stars; logs, records and sandboxes call it."""
    assert _offenders(_stars, {"adapters/masking.py"}) == []


def _records_an_exchange(node: ast.AST) -> bool:
    """A call of ``record_exchange`` or ``UpstreamExchange(...)``: exchange bookkeeping by hand."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    return name in ("record_exchange", "UpstreamExchange")


def test_upstream_exchanges_are_recorded_by_the_one_helper() -> None:
    """Only adapters/observability.py builds and records exchanges; clients use its helper."""
    assert _offenders(_records_an_exchange, {"adapters/observability.py"}) == []
