"""Secrets given as files (mounted from a secret store), read one way everywhere.

:func:`read_secret_file` is what every ``*_file`` secret goes through. Inside
:func:`secret_files_unread` it reads nothing and answers an empty string: the
preflight (:mod:`gateway.preflight`) validates a configuration that way, so that one
missing file does not hide the others, and then checks every file itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UNREAD: contextvars.ContextVar[bool] = contextvars.ContextVar("secret_files_unread", default=False)


@contextmanager
def secret_files_unread() -> Iterator[None]:
    """Within this block, :func:`read_secret_file` answers ``""`` without opening the file."""
    token = _UNREAD.set(True)
    try:
        yield
    finally:
        _UNREAD.reset(token)


def read_secret_file(path: Path) -> str:
    """The file's text without surrounding whitespace; ``ValueError`` naming the path if unreadable.

    A ``ValueError`` (not an ``OSError``) so that pydantic reports it against
    the config key that named the file.
    """
    if _UNREAD.get():
        return ""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
