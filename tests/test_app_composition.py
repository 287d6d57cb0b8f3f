"""The composition root states the middleware order once, and the docs say the same order."""

from __future__ import annotations

import re
from pathlib import Path

from gateway import app as app_module
from gateway.app import MIDDLEWARES, SLICES, create_app
from gateway.config import load_settings
from gateway.http.boundary import problem_middleware
from gateway.http.context import request_context_middleware

REPO = Path(__file__).resolve().parent.parent
ORDER = [
    "request_context",
    "audit",
    "problems",
    "authentication",
    "authorization",
    "rate_limit",
    "request_volume",
]


def _documented_order() -> list[str]:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    return re.findall(r"^\s*\| \d+ \| `(\w+)` \|", text, flags=re.M)


def test_the_middleware_order_is_pinned() -> None:
    """MIDDLEWARES is the order, outermost first."""
    assert [name for name, _ in MIDDLEWARES] == ORDER


def test_the_docs_table_lists_the_same_order() -> None:
    """docs/architecture.md's middleware table names the same middlewares in the same order."""
    assert _documented_order() == ORDER


def test_create_app_installs_exactly_those_middlewares_in_order() -> None:
    """The app's middlewares are MIDDLEWARES built once, in order (no other middleware)."""
    app = create_app(load_settings(None))
    assert len(app.middlewares) == len(MIDDLEWARES)
    assert app.middlewares[0] is request_context_middleware
    assert app.middlewares[1] is app_module.audit
    assert app.middlewares[2] is problem_middleware


def test_every_slice_is_iterated_in_order() -> None:
    """The slices, in start order; the cleanup_ctx entries follow them."""
    settings = load_settings(None)
    assert [make(settings).name for make in SLICES] == [
        "core",
        "audit",
        "security",
        "citizens",
        "businesses",
        "payments",
        "reports",
    ]
    app = create_app(settings)
    expected = [entry for make in SLICES for entry in make(settings).cleanup_ctx]
    assert [getattr(e, "__name__", None) for e in app.cleanup_ctx] == [
        getattr(e, "__name__", None) for e in expected
    ]
