"""Suite-wide fixtures: nothing in the tests may reach past loopback."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:
        return True  # unix sockets and the like
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection from the test process to a non-loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"tests may only connect to loopback, not {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"tests may only connect to loopback, not {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


# --- Personal data never reaches a log line ---------------------------------
#
# Every line the suite logs, through structlog or the standard library, is
# rendered by the production pipeline (gateway.logging) and kept here; at the
# end of the session they are scanned for the fixture citizens' ids and names.
# A hit fails the run, naming the line.

#: The sandbox's fixture citizens (issue #2): their ids and names, in the forms
#: they may leak in (as registered, without accents, run together).
FIXTURE_IDS = ("092090001234", "092195004321", "094203000777", "092301000555", "093185000999")
FIXTURE_NAMES = (
    "Nguyễn Văn An",
    "Trần Thị Thủy",
    "Lê Đức Anh",
    "Phạm Ngọc Hoà",
    "Huỳnh Thị Ánh Tuyết",
)

_LOG_LINES: list[str] = []

# --- One schema for every log line --------------------------------------------
#
# Every event the suite logs is also checked, as it is about to be rendered, against
# the common schema (gateway.logging.schema_problems: status an HTTP number,
# duration_ms and other *_ms fields floats, timestamp and other times ISO 8601 UTC,
# outcome a word). Any breach fails the run, naming the event.

_SCHEMA_BREACHES: list[tuple[str, str]] = []
_SCHEMA_CHECKED = [0]


def _check_schema(event: Any) -> None:
    from gateway.logging import schema_problems

    _SCHEMA_CHECKED[0] += 1
    for problem in schema_problems(event):
        if len(_SCHEMA_BREACHES) < 1000:
            _SCHEMA_BREACHES.append((problem, str(event.get("event"))))


def _leak_patterns() -> list[str]:
    from gateway.citizens import fold_name

    patterns = list(FIXTURE_IDS)
    for name in FIXTURE_NAMES:
        folded = fold_name(name).lower()
        patterns += [name.lower(), folded, folded.replace(" ", "")]
    return patterns


def pytest_configure(config: pytest.Config) -> None:
    import os
    import tempfile

    configure_suite_logging()
    # The dev PKI (and its audit signing key) of every gateway the suite starts, in
    # or out of process, lives in a temporary folder, never in the repo's certs/dev.
    pki = tempfile.mkdtemp(prefix="lienthong-test-pki-")
    os.environ.setdefault("LIENTHONG_TLS__DEV_PKI_DIR", pki)


def configure_suite_logging() -> None:
    """The suite's logging: every line kept for the scan, every event schema-checked.

    Tests that reconfigure logging for a while restore it with this.
    """
    from gateway.logging import configure_logging

    configure_logging(
        level="DEBUG", json_lines=False, sink=_LOG_LINES.append, event_sink=_check_schema
    )


def find_leaks(lines: list[str]) -> list[tuple[str, str]]:
    patterns = _leak_patterns()
    leaks = []
    for line in lines:
        low = line.lower()
        for p in patterns:
            if p in low:
                leaks.append((p, line))
    return leaks


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = find_leaks(_LOG_LINES)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"personal-data scan: {len(_LOG_LINES)} log lines, {len(leaks)} leaks")
        for pattern, line in leaks[:20]:
            reporter.write_line(f"  LEAK of {pattern!r}: {line[:300]}")
    if reporter is not None:
        reporter.write_line(
            f"log-schema check: {_SCHEMA_CHECKED[0]} log events, {len(_SCHEMA_BREACHES)} breaches"
        )
        for problem, event in _SCHEMA_BREACHES[:20]:
            reporter.write_line(f"  SCHEMA {event!r}: {problem}")
    if leaks or _SCHEMA_BREACHES:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
