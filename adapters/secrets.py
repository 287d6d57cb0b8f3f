"""Secrets given as files (mounted from a secret store), read one way everywhere."""

from __future__ import annotations

from pathlib import Path


def read_secret_file(path: Path) -> str:
    """The file's text without surrounding whitespace; ``ValueError`` naming the path if unreadable.

    A ``ValueError`` (not an ``OSError``) so that pydantic reports it against
    the config key that named the file.
    """
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
