"""The error tree of every adapter, converted at the boundary.

Adapters raise only these; the gateway maps each to one ``problem+json`` type
by its ``status`` and ``problem_type``. Raw upstream payloads never travel in
an exception message (they may hold personal data)::

    AdapterError
    ├── UpstreamUnavailable        503, Retry-After  (we refuse to call now)
    │   ├── CircuitOpen                 breaker open for this upstream
    │   ├── QuotaExhausted              the city's quota for the upstream is spent
    │   └── BulkheadFull                too many calls in flight, waited too long
    ├── UpstreamTimeout            504              (per-try timeout / overall deadline)
    ├── UpstreamConnectionError    502              (refused, reset, dropped, TLS failure)
    │   └── UpstreamCertificateRejected  the peer's certificate failed verification or its pin
    ├── UpstreamBadReply           502              (unparseable, hostile, oversized, unmappable)
    ├── UpstreamFault              502              (the peer answered with a fault / error code)
    └── UpstreamAuthError          502              (the peer refused our credentials)

``retryable`` says whether another attempt may help (only used for operations
whose policy marks them safe); ``counts_as_failure`` says whether the circuit
breaker should count it against the upstream's health.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error an adapter raises."""

    status: int = 502
    problem_type: str = "upstream-error"
    title: str = "Upstream error"
    retryable: bool = False
    counts_as_failure: bool = True

    def __init__(
        self,
        detail: str,
        *,
        upstream: str | None = None,
        operation: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.upstream = upstream
        self.operation = operation
        #: The URL the failed call tried (operators' messages name it; the API's
        #: problem ``detail`` does not, so callers never learn the internal endpoints).
        self.url = url

    def __str__(self) -> str:
        return f"{self.detail} (tried {self.url})" if self.url else self.detail


class UpstreamUnavailable(AdapterError):
    """We will not call the upstream now; the caller should retry after ``retry_after`` s."""

    status = 503
    problem_type = "upstream-unavailable"
    title = "Upstream unavailable"
    counts_as_failure = False

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float,
        upstream: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(detail, upstream=upstream, operation=operation)
        self.retry_after = retry_after


class CircuitOpen(UpstreamUnavailable):
    problem_type = "upstream-circuit-open"
    title = "Upstream circuit open"


class QuotaExhausted(UpstreamUnavailable):
    problem_type = "upstream-quota-exhausted"
    title = "Upstream quota exhausted"


class BulkheadFull(UpstreamUnavailable):
    problem_type = "upstream-busy"
    title = "Upstream busy"


class UpstreamTimeout(AdapterError):
    status = 504
    problem_type = "upstream-timeout"
    title = "Upstream timed out"
    retryable = True


class UpstreamConnectionError(AdapterError):
    problem_type = "upstream-connection-error"
    title = "Upstream connection failed"
    retryable = True


class UpstreamCertificateRejected(UpstreamConnectionError):
    """The peer presented a certificate we do not accept (untrusted, or not the pinned one).

    Not retried: the same peer will present the same certificate. The gateway
    reports it as the security event ``unexpected_peer_certificate``.
    """

    problem_type = "upstream-certificate-rejected"
    title = "Upstream presented an unexpected certificate"
    retryable = False


class UpstreamBadReply(AdapterError):
    problem_type = "upstream-bad-reply"
    title = "Upstream sent a reply that cannot be used"
    retryable = True


class UpstreamFault(AdapterError):
    """The peer answered with a fault. ``code`` is the peer's fault code, if any.

    ``server_side`` faults (SOAP ``Server``, HTTP 5xx) count against the
    upstream's health and may be retried; client-side faults do neither.
    """

    problem_type = "upstream-fault"
    title = "Upstream returned a fault"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        server_side: bool = True,
        upstream: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(detail, upstream=upstream, operation=operation)
        self.code = code
        self.retryable = server_side
        self.counts_as_failure = server_side


class UpstreamAuthError(AdapterError):
    problem_type = "upstream-auth-error"
    title = "Upstream refused the gateway's credentials"
