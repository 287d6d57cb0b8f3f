"""Masking a personal id or name: the one implementation, for the gateway and the sandboxes.

``adapters`` never imports ``gateway``, so the two string functions live here;
:mod:`gateway.logging` builds its masking processor (and the stored security
events and audited operator arguments reuse it) on them.
"""

from __future__ import annotations


def mask_id(value: str) -> str:
    """``092090001234`` → ``092*******34``: province kept, the person gone."""
    digits = value.strip()
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def mask_name(value: str) -> str:
    """``Nguyễn Văn An`` → ``N*** V*** A***``: initials only, length hidden."""
    return " ".join(word[0] + "***" for word in value.split() if word)


__all__ = ["mask_id", "mask_name"]
