"""Structured logging: one JSON object a line, personal data masked by one processor.

Everything logs through structlog (the standard library's loggers too, via
``ProcessorFormatter``), so :class:`MaskPersonalData` sees every line before it
is rendered. It masks by meaning, however deep the value is nested:

* under a personal key (:data:`NAME_KEYS`, :data:`ID_KEYS`): the value, always,
  except a verdict word (:data:`VERDICT_WORDS`): ``{"id_number": "match"}`` is
  what the gateway concluded about a field, not the field;
* under a secret key (:data:`SECRET_KEYS`): the value, never shown;
* under an identifier key (:data:`IDENTIFIER_KEYS`, and every key ending in
  ``digest`` or ``digests``): nothing; request ids, event and alert ids and
  digests are kept verbatim, so the id a caller reports is the id in the log;
* in any other string (free text: messages, paths, errors): a number of 9 or
  12 digits (the shapes of CMND and CCCD) that stands alone, i.e. is not part
  of a longer token: not next to a letter, digit or ``_``, and not joined to
  one by ``-`` or ``.`` (``req123456789abc``, a UUID's last group, a digest
  are tokens; ``id 092090001234``, ``/v1/x/092090001234``, ``id=…``, ``id:…``
  and ``…092090001234.`` at the end of a sentence are masked);
* numbers (amounts, counts, sizes): nothing, unless under an id key.

Every line follows one schema (the "Log fields" table of docs/operations.md, checked
over every line the test suite logs by :func:`schema_problems`): ``timestamp`` ISO 8601
UTC; ``status`` an HTTP status number wherever it appears (a payment's state is
``payment_status``); ``outcome`` a word; spans of time in milliseconds, floats, named
``…_ms`` (``duration_ms``); wall-clock times other than the timestamp as ISO 8601 UTC.

A personal id glued into a longer token (``cccd_092090001234``) is not seen as
one; a caller's request id of exactly 9 or 12 digits is refused for the same
reason in :mod:`gateway.http.context` and replaced by a fresh one (it would
be logged verbatim on every line).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from adapters.masking import mask_id, mask_name
from gateway.jsoncodec import dumps_log_line

#: Keys whose values are personal names: replaced by masked initials.
NAME_KEYS = frozenset(
    {
        "full_name",
        "family_name",
        "middle_name",
        "given_name",
        "payer_name",
        "hovaten",
        "ho",
        "chudem",
        "ten",
        "hotennguoinop",
        "representative",
        "representatives",
    }
)
#: Keys whose values are personal ids: masked whatever their shape (verdict words excepted).
ID_KEYS = frozenset(
    {
        "id_number",
        "old_id_number",
        "payer_id_number",
        "sodinhdanh",
        "socmnd",
        "socmndnguoinop",
        "officer_id",
        "macanbo",
    }
)
#: The words of the verdict scale (:class:`gateway.citizens.Verdict`): what the gateway
#: concluded about a field, logged under that field's name, never personal.
VERDICT_WORDS = frozenset({"match", "match_without_diacritics", "mismatch", "not_found"})
#: Keys whose values identify the gateway's own things or its peers', never people:
#: kept verbatim, whatever digits they hold (keys ending in ``digest``/``digests`` too).
IDENTIFIER_KEYS = frozenset(
    {
        "request_id",
        "x-request-id",
        "alert_id",
        "event_id",
        "trace_id",
        "span_id",
        "payment_id",
        "reference",
        "provider_txn_id",
        "txn_id",
        "key_id",
        "client_id",
        "instance",
        "instance_id",
    }
)
#: Keys whose values are secrets: never shown at all.
SECRET_KEYS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "token",
        "access_token",
        "authorization",
        "signature",
        "hash_key",
        "hash_secret",
        "client_secret",
        "consumer_secret",
        "api_key",
    }
)
#: Third-party loggers that write request/response payloads or SQL parameters at DEBUG.
PAYLOAD_LOGGERS = ("zeep", "aiosqlite", "asyncpg", "aiohttp.client")
#: The shapes of a personal id (CMND: 9 digits, CCCD: 12), for a whole value.
PERSONAL_ID_SHAPE = re.compile(r"\d{12}|\d{9}")
# A 9- or 12-digit number standing alone in free text: not next to a letter, digit or
# "_" (\w), and not joined to one by "-" or "." (a token such as req-123456789 or a
# UUID's last group); "." or "-" before a space or at the end is punctuation.
_STANDALONE_ID = re.compile(r"(?<!\w)(?<!\w[-.])(\d{12}|\d{9})(?!\w)(?![-.]\w)")
_REDACTED = "[redacted]"
#: ``timestamp`` and every other wall-clock field: ISO 8601, UTC, ``Z``.
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
#: Fields that hold a wall-clock time (besides ``timestamp``).
TIME_FIELDS = frozenset({"request_in", "request_out", "response_in", "response_out"})
_OUTCOME_WORD = re.compile(r"[a-z][a-z0-9_]*")


def mask_text(value: str) -> str:
    """Mask every 9- or 12-digit number that stands alone in free text (see the module)."""
    return _STANDALONE_ID.sub(lambda m: mask_id(m.group(1)), value)


def is_identifier_key(key: str) -> bool:
    """Whether values under ``key`` (lowercase) are identifiers, kept verbatim."""
    return key in IDENTIFIER_KEYS or key.endswith(("digest", "digests"))


def mask_field(key: str | None, value: Any) -> Any:
    """``value`` as it may be shown under ``key``: the one masking rule, for logs and records."""
    k = key.lower() if isinstance(key, str) else None
    if k is not None and k in SECRET_KEYS and value is not None:
        return _REDACTED
    if isinstance(value, str):
        if k is None:
            return mask_text(value)
        if k in ID_KEYS:
            return value if value in VERDICT_WORDS else mask_id(value)
        if k in NAME_KEYS:
            return value if value in VERDICT_WORDS else mask_name(value)
        if is_identifier_key(k):
            return value
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return mask_id(str(value)) if k in ID_KEYS else value  # amounts, counts, sizes
    if isinstance(value, Mapping):
        return {kk: mask_field(str(kk), vv) for kk, vv in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_field(k, v) for v in value]
    if isinstance(value, BaseException):
        return mask_text(f"{type(value).__name__}: {value}")
    return value


class MaskPersonalData:
    """structlog processor: the one place where personal data is masked."""

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        for key in list(event_dict):
            event_dict[key] = mask_field(key, event_dict[key])
        return event_dict


def schema_problems(event: Mapping[str, Any]) -> list[str]:
    """How one log event (before rendering) breaks the common schema; empty when it keeps it.

    The objects nested under ``upstream`` (the access line's upstream exchanges) are held
    to the same rules as the line."""
    problems: list[str] = []
    stamp = event.get("timestamp")
    if not (isinstance(stamp, str) and ISO_UTC.fullmatch(stamp)):
        problems.append(f"timestamp {stamp!r} is not ISO 8601 UTC")
    _field_problems(event, problems)
    return problems


def _field_problems(event: Mapping[str, Any], problems: list[str]) -> None:
    for key, value in event.items():
        if value is None:
            continue
        if key == "status":
            if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
                problems.append(f"status {value!r} is not an HTTP status number")
        elif key == "outcome":
            if not (isinstance(value, str) and _OUTCOME_WORD.fullmatch(value)):
                problems.append(f"outcome {value!r} is not a word")
        elif key.endswith("_ms"):
            if not isinstance(value, float):
                problems.append(f"{key} {value!r} is not a float (milliseconds)")
        elif key in TIME_FIELDS and not (isinstance(value, str) and ISO_UTC.fullmatch(value)):
            problems.append(f"{key} {value!r} is not ISO 8601 UTC")
        elif key == "upstream" and not isinstance(value, str):
            nested = value if isinstance(value, list) else [value]
            for item in nested:
                if isinstance(item, Mapping):
                    _field_problems(item, problems)
                else:
                    problems.append(f"upstream {item!r} is neither a name nor a record")


class _Tap:
    """structlog processor: hands each finished event to a callback (the suite's checks)."""

    def __init__(self, callback: Callable[[Mapping[str, Any]], None]) -> None:
        self._callback = callback

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        self._callback(event_dict)
        return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        MaskPersonalData(),
    ]


def configure_logging(
    *,
    level: str = "INFO",
    json_lines: bool = True,
    stream: TextIO | None = None,
    sink: Callable[[str], None] | None = None,
    event_sink: Callable[[Mapping[str, Any]], None] | None = None,
) -> None:
    """Configure structlog and the standard library once, at start-up.

    ``sink`` receives every rendered line too (the test suite uses it to scan
    all log output for personal data); ``event_sink`` every event as it is about to
    be rendered, masked (the suite checks each against :func:`schema_problems`).
    Lines go to standard error: never mixed into a command's own output.
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=dumps_log_line)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    out: TextIO = stream or _CurrentStderr()  # type: ignore[assignment]
    tap: list[Processor] = [] if event_sink is None else [_Tap(event_sink)]

    class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
        def emit(self, record: logging.LogRecord) -> None:
            try:
                line = self.format(record)
            except Exception:
                return
            if sink is not None:
                sink(line)
            self.stream.write(line + "\n")

    handler = _Handler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tap, renderer],
        )
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # These libraries log whole payloads at DEBUG (zeep: SOAP envelopes; aiosqlite:
    # every statement with its parameters), which carry personal data that no
    # key-based mask can recognise. They never log below INFO, whatever the level.
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Our own lines skip the standard library entirely: rendered by structlog and
    # written straight out, about three times cheaper per line than a round trip
    # through logging.Handler (measured: 32 vs 90 µs), on the hot path of every
    # request. Filtering by level happens before any processor runs.
    structlog.configure(
        processors=[*shared_processors(), *tap, renderer],
        logger_factory=_LineLoggerFactory(out, sink),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=False,
    )


class _LineLogger:
    """A structlog logger that writes each rendered line (and hands it to the sink)."""

    def __init__(self, name: str, out: TextIO, sink: Callable[[str], None] | None) -> None:
        self.name = name  # read by structlog.stdlib.add_logger_name
        self._out = out
        self._sink = sink

    def msg(self, line: str) -> None:
        if self._sink is not None:
            self._sink(line)
        self._out.write(line + "\n")

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _LineLoggerFactory:
    def __init__(self, out: TextIO, sink: Callable[[str], None] | None) -> None:
        self._out = out
        self._sink = sink

    def __call__(self, *args: Any) -> _LineLogger:
        name = str(args[0]) if args else ""
        return _LineLogger(name, self._out, self._sink)


def bind_request(**fields: Any) -> None:
    structlog.contextvars.bind_contextvars(**fields)


def clear_request() -> None:
    structlog.contextvars.clear_contextvars()


__all__ = [
    "IDENTIFIER_KEYS",
    "ID_KEYS",
    "ISO_UTC",
    "NAME_KEYS",
    "PERSONAL_ID_SHAPE",
    "SECRET_KEYS",
    "VERDICT_WORDS",
    "MaskPersonalData",
    "bind_request",
    "clear_request",
    "configure_logging",
    "is_identifier_key",
    "mask_field",
    "mask_id",
    "mask_name",
    "mask_text",
    "schema_problems",
]
