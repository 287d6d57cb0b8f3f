"""Secrets handed over by systemd: relative ``*_file`` paths name credentials.

A unit with ``LoadCredential=vnpay-hash-secret:/etc/lienthong/credentials/vnpay``
gives the service a private, read-only copy of that file in the directory named
by ``$CREDENTIALS_DIRECTORY`` (only the service can read it, and only while it
runs). When that variable is set, every *relative* path given for a key ending in
``_file`` (in the TOML file or an environment override) is read from that
directory instead of the working directory::

    [payments.vnpay]
    hash_secret_file = "vnpay-hash-secret"      # $CREDENTIALS_DIRECTORY/vnpay-hash-secret

Absolute paths are left alone, and without ``$CREDENTIALS_DIRECTORY`` nothing
changes. Defaults are never rewritten: only keys the configuration sets.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Any

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def credentials_directory() -> Path | None:
    """systemd's credentials directory for this service, if it was started with one."""
    given = os.environ.get(CREDENTIALS_ENV, "")
    return Path(given) if given and Path(given).is_absolute() else None


def _resolved(value: Any, directory: Path) -> Any:
    if isinstance(value, str | PurePath) and str(value) and not Path(value).is_absolute():
        return str(directory / value)
    return value


def resolve_credential_files(data: Any, directory: Path) -> Any:
    """Raw settings (dicts and lists) with each relative ``*_file`` value under ``directory``."""
    if isinstance(data, dict):
        return {
            key: _resolved(value, directory)
            if isinstance(key, str) and key.endswith("_file")
            else resolve_credential_files(value, directory)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [resolve_credential_files(item, directory) for item in data]
    return data
