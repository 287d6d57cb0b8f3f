"""The population adapter: ``TraCuuThongTinCongDan`` over SOAP, carried by aiohttp.

zeep (:mod:`adapters.population.wire`) or the codec compiled from its schema
(:mod:`adapters.population.codec`, ``codec = "compiled"``) builds and reads envelopes; this module
carries them: NDXP headers, the request id, a bounded read, a hardened parse,
and the conversion of every failure into the adapter error tree. The call is
handed to the :class:`~adapters.guard.CallGuard` one attempt at a time, and
reported once to :func:`~adapters.observability.record_exchange`.

Neither exception messages nor log lines carry the reply, the personal id or
the name: only codes, sizes and outcomes.
"""

from __future__ import annotations

import asyncio
import functools
import re
import unicodedata
import uuid
from collections.abc import Callable
from typing import Self

import aiohttp
import structlog

from adapters.errors import AdapterError, UpstreamAuthError, UpstreamBadReply, UpstreamFault
from adapters.guard import CallGuard
from adapters.http import REQUEST_ID, outbound_headers, read_limited
from adapters.observability import (
    ExchangeTally,
    map_aiohttp_errors,
    upstream_exchange,
    wall_clock,
)
from adapters.population.codec import load_wire
from adapters.population.config import PopulationConfig
from adapters.population.models import CitizenQuery, CitizenRecord
from adapters.population.ndxp import ndxp_headers
from adapters.population.wire import LOOKUP, CitizenServiceWire, SoapFault, find_fault
from adapters.population.wsse import WSSE_NS, build_ws_security
from adapters.population.xml_safety import HostileXml, parse_untrusted_xml

_log = structlog.get_logger("adapters.population")

#: WS-Security fault codes (OASIS WSS 1.1 §12): the peer refused our credentials.
_WSS_REFUSALS = frozenset(
    {
        "UnsupportedSecurityToken",
        "UnsupportedAlgorithm",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedAuthentication",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "MessageExpired",
    }
)
_PRINTABLE_CODE = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")


def _safe_code(code: str) -> str:
    """The peer's fault code if it looks like one, never free text (it could hold anything)."""
    return code if _PRINTABLE_CODE.fullmatch(code) else "Unrecognised"


class PopulationClient:
    """Looks citizens up in the national population database."""

    def __init__(
        self,
        config: PopulationConfig,
        session: aiohttp.ClientSession,
        guard: CallGuard,
        wire: CitizenServiceWire,
        *,
        clock: Callable[[], float] = wall_clock,
        fold_name: Callable[[str], str] | None = None,
    ) -> None:
        if config.fold_name_in_request and fold_name is None:
            raise ValueError("fold_name_in_request needs fold_name (the gateway's name folding)")
        self._config = config
        self._fold_name = fold_name
        self._endpoint = config.require_endpoint()
        self._session = session
        self._guard = guard
        self._wire = wire
        self._clock = clock
        self._soap_action = f'"{wire.soap_action(LOOKUP)}"'

    @classmethod
    async def load(
        cls,
        config: PopulationConfig,
        session: aiohttp.ClientSession,
        guard: CallGuard,
        *,
        clock: Callable[[], float] = wall_clock,
        fold_name: Callable[[str], str] | None = None,
    ) -> Self:
        """Parse the shipped WSDL and read WS-Security keys once, off the event loop.

        ``fold_name`` is how ``HoVaTen`` is folded when ``fold_name_in_request`` is set:
        the gateway passes its one name normaliser
        (:func:`gateway.citizens.names.fold_for_request`), so what is sent folds every
        letter exactly as the verdict's comparison does.
        """
        config.require_endpoint()

        def load() -> CitizenServiceWire:
            wsse = build_ws_security(config.ws_security, clock)
            return load_wire(config.codec, config.wsdl_path, wsse)

        wire = await asyncio.get_running_loop().run_in_executor(None, load)
        return cls(config, session, guard, wire, clock=clock, fold_name=fold_name)

    async def lookup(self, query: CitizenQuery) -> CitizenRecord | None:
        """The citizen with ``query.id_number``, or None when the database has none.

        Raises only :class:`~adapters.errors.AdapterError` subclasses for upstream
        trouble; ValueError when the query itself is malformed (a caller bug).
        """
        fields = self._lookup_fields(query)
        upstream = self._config.upstream_name
        try:
            with upstream_exchange(upstream, LOOKUP, clock=self._clock) as tally:
                attempt = functools.partial(self._attempt, fields, tally)
                record = await self._guard.call(LOOKUP, attempt)
                if record is None:
                    tally.outcome = "not_found"
                return record
        finally:
            exchange = tally.exchange
            assert exchange is not None  # recorded when the block above was left
            # DEBUG: the gateway logs this exchange at INFO as its operational record.
            _log.debug(
                "population.lookup",
                upstream=upstream,
                operation=LOOKUP,
                outcome=exchange.outcome,
                attempts=exchange.attempts,
                duration_ms=exchange.duration_ms,
                fault_code=exchange.fault_code,
            )

    def _lookup_fields(self, query: CitizenQuery) -> dict[str, object]:
        """The request children, in the WSDL's (and the peer's) order."""
        id_number = query.id_number.strip()
        if not id_number.isdigit() or len(id_number) not in (9, 12):
            raise ValueError("the personal id must be 9 or 12 digits")
        defaults = self._config.defaults
        fields: dict[str, object] = {
            "MaYeuCau": query.request_id or REQUEST_ID.get() or uuid.uuid4().hex,
            "MaDVC": query.service_code or defaults.service_code,
            "MaTichHop": defaults.integration_code,
            "MaCanBo": query.officer_id or defaults.officer_id,
            "MaDonVi": query.agency_code or defaults.agency_code,
            "TaiKhoan": defaults.account,
            "SoDienThoai": defaults.phone,
            "SoDinhDanh": id_number,
        }
        if query.full_name:
            name = unicodedata.normalize("NFC", " ".join(query.full_name.split()))
            if self._config.fold_name_in_request and self._fold_name is not None:
                name = self._fold_name(name)
            fields["HoVaTen"] = name
        if query.birth_date is not None:
            born = query.birth_date.as_date()
            fields["NgayThangNamSinh"] = (
                {"NgayThangNam": f"{born.year:04d}{born.month:02d}{born.day:02d}"}
                if born
                else {"Nam": f"{query.birth_date.year:04d}"}
            )
        return fields

    def _tag(self, exc: AdapterError) -> AdapterError:
        exc.upstream = self._config.upstream_name
        exc.operation = LOOKUP
        return exc

    async def _attempt(
        self, fields: dict[str, object], tally: ExchangeTally
    ) -> CitizenRecord | None:
        """One POST of a freshly built (and, if configured, freshly signed) envelope."""
        tally.attempts += 1
        try:
            envelope = self._wire.build_request(fields)
        except ValueError as exc:
            raise self._tag(AdapterError(str(exc))) from None
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": self._soap_action,
            **ndxp_headers(self._config.ndxp, self._endpoint, self._clock),
            **outbound_headers(),
        }
        tally.bytes_out += len(envelope)
        with map_aiohttp_errors(
            upstream=self._config.upstream_name,
            operation=LOOKUP,
            url=self._endpoint,
            timeout_detail="the population service did not answer in time",
            failure_detail="connection to the population service failed ({error})",
            timeouts=(aiohttp.ServerTimeoutError,),
            failures=(aiohttp.ClientError, OSError),
        ):
            async with self._session.post(self._endpoint, data=envelope, headers=headers) as resp:
                status = resp.status
                body = await read_limited(resp, self._config.max_reply_bytes)
        tally.bytes_in += len(body)
        return self._interpret(status, body, tally)

    def _interpret(self, status: int, body: bytes, tally: ExchangeTally) -> CitizenRecord | None:
        if status in (401, 403):
            tally.fault_code = f"HTTP{status}"
            raise self._tag(
                UpstreamAuthError(f"the population service refused our credentials (HTTP {status})")
            )
        try:
            root = parse_untrusted_xml(body, max_bytes=self._config.max_reply_bytes)
        except HostileXml as exc:
            if status >= 500:
                tally.fault_code = f"HTTP{status}"
                raise self._tag(
                    UpstreamFault(f"HTTP {status} without a SOAP fault", server_side=True)
                ) from None
            _log.warning("population.unusable_reply", reason=str(exc), status=status)
            raise self._tag(UpstreamBadReply(f"unusable reply: {exc}")) from None
        fault = find_fault(root)
        if fault is not None:
            raise self._fault_error(fault, tally)
        if status != 200:
            tally.fault_code = f"HTTP{status}"
            raise self._tag(
                UpstreamFault(f"HTTP {status} without a SOAP fault", server_side=status >= 500)
            )
        try:
            return self._wire.read_lookup_reply(root)
        except ValueError as exc:
            raise self._tag(UpstreamBadReply(f"unusable reply: {exc}")) from None

    def _fault_error(self, fault: SoapFault, tally: ExchangeTally) -> AdapterError:
        code = _safe_code(fault.code)
        tally.fault_code = code
        if fault.namespace == WSSE_NS or code in _WSS_REFUSALS:
            return self._tag(
                UpstreamAuthError(f"the population service refused our WS-Security ({code})")
            )
        return self._tag(
            UpstreamFault(
                f"the population service answered a SOAP fault ({code})",
                code=code,
                server_side=not fault.client_side,
            )
        )
