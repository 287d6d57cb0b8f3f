"""The public surface of gateway.citizens."""

from __future__ import annotations

import gateway.citizens as identity


def test_all_is_complete() -> None:
    """__all__ lists exactly the public names the package exports."""
    public = {
        name
        for name in vars(identity)
        if not name.startswith("_")
        and name
        not in {
            "annotations",
            "cccd",
            "context",
            "lookup",
            "names",
            "routes",
            "runtime",
            "service",
            "verdicts",
        }
    }
    assert set(identity.__all__) == public
