"""Random request ids for the request-id tests: the shapes callers send, and the traps."""

from __future__ import annotations

import io
import random
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.logging import configure_logging

#: What ``X-Request-ID`` may hold (gateway/http/context.py); longer or other: replaced.
ALPHABET = string.ascii_letters + string.digits + "._:-"


def random_request_ids(rng: random.Random, count: int) -> list[str]:
    """Hex, UUIDs, digits and mixed ids, a 9- or 12-digit run inside many of them."""

    def digits(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    def run() -> str:
        return digits(rng.choice((9, 12)))

    def hex_id() -> str:
        n = rng.randint(1, 64)
        return "".join(rng.choice("0123456789abcdef") for _ in range(n))

    def uuid_id() -> str:
        groups = [8, 4, 4, 4, 12]
        parts = ["".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in groups]
        if rng.random() < 0.5:
            parts[-1] = digits(12)  # 1 UUID in ~280 has an all-digit last group
        text = "-".join(parts)
        return text.upper() if rng.random() < 0.2 else text

    def digit_id() -> str:
        return run() if rng.random() < 0.3 else digits(rng.randint(1, 64))

    def mixed_id() -> str:
        n = rng.randint(1, 40)
        core = "".join(rng.choice(ALPHABET) for _ in range(n))
        if rng.random() < 0.7:
            at = rng.randint(0, len(core))
            sep = rng.choice(("", "", "-", ".", ":", "_"))
            core = core[:at] + sep + run() + sep + core[at:]
        return core[:64]

    makers = (hex_id, uuid_id, digit_id, mixed_id)
    return [makers[i % len(makers)]() for i in range(count)]


def id_shaped(value: str) -> bool:
    """Exactly 9 or 12 digits: the gateway replaces such a caller id with its own."""
    return re.fullmatch(r"\d{9}|\d{12}", value) is not None


@contextmanager
def production_log_lines() -> Iterator[list[str]]:
    """Every line rendered meanwhile by the production pipeline (JSON), into a list.

    The suite-wide personal-data scan sees them too; the suite's own logging
    configuration is restored afterwards.
    """
    from tests import conftest as suite

    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        suite._LOG_LINES.append(line)

    try:
        configure_logging(
            level="INFO",
            json_lines=True,
            stream=io.StringIO(),
            sink=sink,
            event_sink=suite._check_schema,
        )
        yield lines
    finally:
        suite.configure_suite_logging()
