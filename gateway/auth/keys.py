"""Typed keys: what the authentication middleware stores per request; the serving state.

The app state it reads (``SERVING``, ``CLIENT_REGISTRY``, ``BODY_READ_TIMEOUT``) is keyed in
:mod:`gateway.appkeys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from gateway.auth.config import ClientConfig

AuthMethod = Literal["mtls", "signature"]

#: The authenticated client (``request[CLIENT]``).
CLIENT = web.RequestKey("client", ClientConfig)
#: How it proved who it is.
AUTH_METHOD: web.RequestKey[AuthMethod] = web.RequestKey("auth_method")
#: The request body, read once and bounded by ``max_body_bytes``.
REQUEST_BODY = web.RequestKey("body", bytes)


@dataclass
class ServingState:
    """What the running server tells the app's layers about its life (mutable, one per app).

    ``accepting_since`` is when the listeners began accepting (epoch seconds; None
    until then, e.g. for an app under test without a server): signatures created
    before it, less the clock-skew allowance, were made for an earlier process and
    are refused (the in-memory nonce store forgot their nonces with that process).
    ``draining`` turns ``/readyz`` to 503 and closes each connection after its answer.
    """

    accepting_since: float | None = None
    draining: bool = False
