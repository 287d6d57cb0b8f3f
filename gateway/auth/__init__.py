"""Who is calling, may they, and how often: client authentication, rights and rate limits.

Clients prove who they are with a client certificate from the city CA (the
gateway terminates TLS, :mod:`.tls`) or an RFC 9421 ``hmac-sha256`` request
signature (:mod:`.signatures`, with RFC 9530 digests from :mod:`.digest` and
replay protection from :mod:`.nonces`). :mod:`.middleware` wires them into
aiohttp with the per-operation rights and the per-client token bucket.
"""

from .digest import ContentDigestError, make_content_digest, verify_content_digest
from .keys import AUTH_METHOD, CLIENT, REQUEST_BODY, AuthMethod
from .middleware import (
    authentication_middleware,
    authorization_middleware,
    is_public,
    parse_json_body,
    rate_limit_middleware,
    read_body_limited,
)
from .nonces import InMemoryNonceStore, NonceStore, NonceStoreFull
from .settings import DEFAULT_PUBLIC_PATHS, AuthSettings, TlsListenerSettings
from .signatures import (
    AuthenticationFailed,
    SignedRequest,
    sign_request,
    signature_base,
    verify_signed_request,
)
from .tls import client_from_peer_certificate, peer_certificate_cn, server_ssl_context

__all__ = [
    "AUTH_METHOD",
    "CLIENT",
    "DEFAULT_PUBLIC_PATHS",
    "REQUEST_BODY",
    "AuthMethod",
    "AuthSettings",
    "AuthenticationFailed",
    "ContentDigestError",
    "InMemoryNonceStore",
    "NonceStore",
    "NonceStoreFull",
    "SignedRequest",
    "TlsListenerSettings",
    "authentication_middleware",
    "authorization_middleware",
    "client_from_peer_certificate",
    "is_public",
    "make_content_digest",
    "parse_json_body",
    "peer_certificate_cn",
    "rate_limit_middleware",
    "read_body_limited",
    "server_ssl_context",
    "sign_request",
    "signature_base",
    "verify_content_digest",
    "verify_signed_request",
]
