"""The NDXP (X-Road) headers of a population call, and their check on the peer side.

``Authorization: Basic base64(user:sha256hex(url + user + timestamp + secret))``
with ``Timestamp`` = epoch milliseconds, as one production client sends them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from adapters.population.config import NdxpHeaders

X_ROAD_CLIENT = "X-Road-Client"
TIMESTAMP = "Timestamp"
API_KEY = "ApiKey"
AUTHORIZATION = "Authorization"


def basic_token(url: str, user: str, timestamp_ms: str, secret: str) -> str:
    """The value after ``Basic `` for one call."""
    digest = hashlib.sha256(f"{url}{user}{timestamp_ms}{secret}".encode()).hexdigest()
    return base64.b64encode(f"{user}:{digest}".encode()).decode("ascii")


def ndxp_headers(settings: NdxpHeaders, url: str, clock: Callable[[], float]) -> dict[str, str]:
    """The NDXP headers for a call to ``url`` at ``clock()`` (seconds since the epoch)."""
    headers: dict[str, str] = {}
    if settings.x_road_client:
        headers[X_ROAD_CLIENT] = settings.x_road_client
    if settings.api_key is not None:
        headers[API_KEY] = settings.api_key.get_secret_value()
    if settings.signs_basic or settings.send_timestamp:
        headers[TIMESTAMP] = str(int(clock() * 1000))
    if settings.basic_user is not None and settings.basic_secret is not None:
        token = basic_token(
            url, settings.basic_user, headers[TIMESTAMP], settings.basic_secret.get_secret_value()
        )
        headers[AUTHORIZATION] = f"Basic {token}"
    return headers


def ndxp_refusal(
    expected: NdxpHeaders,
    received: dict[str, str],
    url: str,
    *,
    now: float,
    max_skew_seconds: float,
) -> str | None:
    """Why the headers ``received`` for ``url`` fail ``expected`` (None = accepted).

    The reason names the header, never its value.
    """
    if expected.x_road_client and received.get(X_ROAD_CLIENT) != expected.x_road_client:
        return f"{X_ROAD_CLIENT} missing or not allowed"
    if expected.api_key is not None and not hmac.compare_digest(
        received.get(API_KEY, "").encode(), expected.api_key.get_secret_value().encode()
    ):
        return f"{API_KEY} missing or wrong"
    if expected.basic_user is None or expected.basic_secret is None:
        return None
    timestamp = received.get(TIMESTAMP, "")
    if not timestamp.isdigit():
        return f"{TIMESTAMP} missing or not epoch milliseconds"
    if abs(int(timestamp) / 1000 - now) > max_skew_seconds:
        return f"{TIMESTAMP} outside the allowed clock skew"
    want = basic_token(
        url, expected.basic_user, timestamp, expected.basic_secret.get_secret_value()
    )
    got = received.get(AUTHORIZATION, "")
    if not hmac.compare_digest(got.encode(), f"Basic {want}".encode()):
        return f"{AUTHORIZATION} missing or wrong"
    return None
