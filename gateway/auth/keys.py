"""Typed request-storage keys the authentication middleware fills in for later layers."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from gateway.clients import ClientConfig

AuthMethod = Literal["mtls", "signature"]

#: The authenticated client (``request[CLIENT]``).
CLIENT = web.RequestKey("client", ClientConfig)
#: How it proved who it is.
AUTH_METHOD: web.RequestKey[AuthMethod] = web.RequestKey("auth_method")
#: The request body, read once and bounded by ``max_body_bytes``.
REQUEST_BODY = web.RequestKey("body", bytes)
