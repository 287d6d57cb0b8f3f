"""The public surface of adapters.resilience."""

from __future__ import annotations

import types

import adapters.resilience as resilience


def test_all_lists_every_public_name() -> None:
    """__all__ names exactly the public, non-module attributes of the package."""
    public = {
        name
        for name, value in vars(resilience).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(resilience.__all__) == public
