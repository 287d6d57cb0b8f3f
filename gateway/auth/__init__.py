"""Who is calling, may they, and how often: client authentication, rights and rate limits.

Clients prove who they are with a client certificate from the city CA (the
gateway terminates TLS, :mod:`.tls`) or an RFC 9421 ``hmac-sha256`` request
signature (:mod:`.signatures`, with RFC 9530 digests from :mod:`.digest` and
replay protection from :mod:`.nonces`). :mod:`.middleware` wires them into
aiohttp with the per-operation rights and the per-client token bucket.
"""
