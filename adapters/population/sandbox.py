"""A population database peer on loopback: the same SOAP service, strict, and unreliable on demand.

Serves ``POST {path}`` (SOAP 1.1, the operations of the shipped WSDL) and
``GET {path}?wsdl``. It checks what a strict NDXP peer checks — the envelope,
the SOAPAction, the request children and their order, and, when configured,
the NDXP headers, a UsernameToken and an X.509 signature — and answers with
the fictional citizens of :mod:`adapters.population.citizens`.

Misbehaviour comes from :class:`~adapters.population.sandbox_config.Misbehaviour`
in the config or ``POST /_admin/misbehaviour`` (loopback callers only);
``POST /_admin/reset`` restores the configured behaviour and zeroes the
counters; ``GET /_admin/stats`` shows them (and the last 100 ``X-Request-ID`` and
``traceparent`` headers received), so tests can prove whether a call reached the
peer and what it carried, and what it asked on whose behalf: ``received`` lists the
last 100 requests' ``MaYeuCau``, ``MaDVC``, ``MaDonVi`` and ``MaCanBo`` (the officer's
id masked, ``001*******01``: the sandbox keeps no personal id in clear either).

Like a strict peer it checks the values of who asks: ``MaDonVi`` and ``MaDVC`` must
be codes (1-64 letters, digits or ``. _ : / -``, starting with a letter or
digit, as the gateway's agency and procedure codes are), ``MaCanBo`` 12 digits;
anything else is answered with a ``Client`` SOAP fault naming the element.
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from lxml import etree
from pydantic import ValidationError

from adapters.http import REQUEST_ID_HEADER
from adapters.masking import mask_id
from adapters.population.citizens import citizen_registry
from adapters.population.config import SHIPPED_WSDL
from adapters.population.models import Address, CitizenRecord
from adapters.population.ndxp import ndxp_refusal
from adapters.population.sandbox_config import Misbehaviour, PopulationSandboxConfig
from adapters.population.wire import REPLY_NS, REQUEST_NS, SOAP_ENV_NS
from adapters.population.wsse import WSSE_NS
from adapters.population.wsse_verify import (
    WsSecurityRefused,
    check_signature,
    check_timestamp,
    check_username_token,
)
from adapters.population.xml_safety import HostileXml, hardened_parser, parse_untrusted_xml
from adapters.serving import from_loopback, serve

OPERATIONS = (
    "TraCuuThongTinCongDan",
    "XacThucThongTinCongDan",
    "CungCapThongTinCongDan",
    "XacMinhThongTinNhanThan",
    "XacMinhTinhTrangHonNhan",
    "XacMinhThongTinChuHo",
    "CungCapThongTinHoGiaDinh",
)
REQUIRED_CHILDREN = (
    "MaYeuCau",
    "MaDVC",
    "MaTichHop",
    "MaCanBo",
    "MaDonVi",
    "TaiKhoan",
    "SoDienThoai",
    "SoDinhDanh",
)
REQUEST_CHILDREN = (*REQUIRED_CHILDREN, "HoVaTen", "NgayThangNamSinh")
_WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
#: MaDonVi, MaDVC: codes as the gateway sends them (the electronic agency codes of
#: Decision 20/2020/QĐ-TTg, ``000.00.31.H29``, and procedure codes, ``1.001234``, fit).
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_OFFICER_ID = re.compile(r"[0-9]{12}")
RECEIVED_KEPT = 100
_XML_BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n"
    + f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}">'.encode()
    + b"<soap:Body>&lol9;</soap:Body></soap:Envelope>"
)
_MALFORMED = (
    f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
    f'<CongdanCollection xmlns="{REPLY_NS}"><CongDan><SoDinhDanh>'
).encode()


class RequestRefused(Exception):
    """The request breaks the protocol: answer a SOAP fault (code, reason, HTTP status)."""

    def __init__(self, reason: str, code: str = "Client", status: int = 500) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status


class SandboxPeer:
    """The sandbox's state: whom it holds, how it behaves, what it has seen."""

    def __init__(
        self,
        config: PopulationSandboxConfig,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.citizens = citizen_registry(config.generated_citizens, config.seed)
        self.trusted_cert = (
            config.trusted_signing_cert.read_bytes() if config.trusted_signing_cert else None
        )
        self.wsdl = etree.parse(str(SHIPPED_WSDL), hardened_parser())
        self.reset()

    def reset(self) -> None:
        """Back to the configured behaviour, counters zeroed."""
        self.set_misbehaviour(self.config.misbehaviour)
        self.answers: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        self.soap_requests = 0
        self.wsdl_requests = 0
        self.request_ids: deque[str] = deque(maxlen=100)
        self.received: deque[dict[str, str]] = deque(maxlen=RECEIVED_KEPT)
        self.traceparents: deque[str] = deque(maxlen=100)

    def set_misbehaviour(self, misbehaviour: Misbehaviour) -> None:
        self.misbehaviour = misbehaviour
        self.rng = random.Random(misbehaviour.seed)  # noqa: S311  # failure injection, not security

    def stats(self) -> dict[str, Any]:
        return {
            "soap_requests": self.soap_requests,
            "wsdl_requests": self.wsdl_requests,
            "operations": dict(self.operations),
            "answers": dict(self.answers),
            "request_ids": list(self.request_ids),
            "received": list(self.received),
            "traceparents": list(self.traceparents),
            "misbehaviour": self.misbehaviour.model_dump(),
        }


PEER = web.AppKey("population_sandbox_peer", SandboxPeer)


# --- replies -------------------------------------------------------------------------------


def _envelope(body_child: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    etree.SubElement(env, f"{{{SOAP_ENV_NS}}}Body").append(body_child)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def fault_response(reason: str, code: str = "Client", status: int = 500) -> web.Response:
    """A SOAP 1.1 fault; ``wsse:`` codes are qualified with the WS-Security namespace."""
    prefix, _, local = code.rpartition(":")
    nsmap = {"soap": SOAP_ENV_NS}
    if prefix == "wsse":
        nsmap["wsse"] = WSSE_NS
    else:
        prefix, local = "soap", code
    fault = etree.Element(f"{{{SOAP_ENV_NS}}}Fault", nsmap=nsmap)
    etree.SubElement(fault, "faultcode").text = f"{prefix}:{local}"
    etree.SubElement(fault, "faultstring").text = reason
    return web.Response(
        body=_envelope(fault), status=status, content_type="text/xml", charset="utf-8"
    )


def _sub(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, f"{{{REPLY_NS}}}{name}").text = text


def _address(parent: etree._Element, name: str, address: Address | None) -> None:
    if address is None:
        return
    node = etree.SubElement(parent, f"{{{REPLY_NS}}}{name}")
    _sub(node, "MaTinhThanh", address.province_code)
    _sub(node, "MaPhuongXa", address.ward_code)
    _sub(node, "ChiTiet", address.detail)


def collection_reply(citizen: CitizenRecord | None) -> bytes:
    """``CongdanCollection`` with the citizen's full record, or one empty ``CongDan``."""
    collection = etree.Element(f"{{{REPLY_NS}}}CongdanCollection", nsmap={"dc": REPLY_NS})
    person = etree.SubElement(collection, f"{{{REPLY_NS}}}CongDan")
    if citizen is None:
        return _envelope(collection)
    _sub(person, "SoDinhDanh", citizen.id_number)
    _sub(person, "SoCMND", citizen.old_id_number)
    _sub(person, "GioiTinh", {"male": "1", "female": "2"}.get(citizen.gender or ""))
    _sub(person, "DanToc", citizen.ethnicity)
    if citizen.birth_date is not None:
        born = etree.SubElement(person, f"{{{REPLY_NS}}}NgayThangNamSinh")
        _sub(born, "Nam", f"{citizen.birth_date.year:04d}")
        full = citizen.birth_date.as_date()
        _sub(born, "NgayThangNam", full.strftime("%Y%m%d") if full else None)
    name = etree.SubElement(person, f"{{{REPLY_NS}}}HoVaTen")
    _sub(name, "Ho", citizen.family_name)
    _sub(name, "ChuDem", citizen.middle_name)
    _sub(name, "Ten", citizen.given_name)
    _address(person, "NoiOHienTai", citizen.current_address)
    _address(person, "QueQuan", citizen.hometown)
    _address(person, "ThuongTru", citizen.permanent_address)
    return _envelope(collection)


# --- checks --------------------------------------------------------------------------------


def order_problem(request_element: etree._Element) -> str | None:
    """What is wrong with the request children (names, order, presence), or None."""
    position = 0
    for child in request_element:
        qname = etree.QName(child)
        if qname.namespace != REQUEST_NS or qname.localname not in REQUEST_CHILDREN:
            return f"unexpected element {qname.localname}"
        index = REQUEST_CHILDREN.index(qname.localname)
        if index < position:
            previous = REQUEST_CHILDREN[position - 1]
            return f"{qname.localname} is out of order or repeated (after {previous})"
        for skipped in REQUEST_CHILDREN[position:index]:
            if skipped in REQUIRED_CHILDREN:
                return f"{skipped} is missing before {qname.localname}"
        position = index + 1
    for left in REQUEST_CHILDREN[position:]:
        if left in REQUIRED_CHILDREN:
            return f"{left} is missing"
    return None


def who_asked(request_element: etree._Element) -> dict[str, str]:
    """MaYeuCau, MaDVC, MaDonVi and MaCanBo (masked) of one request, as ``received`` shows."""

    def text(name: str) -> str:
        return request_element.findtext(f"{{{REQUEST_NS}}}{name}") or ""

    return {
        "MaYeuCau": text("MaYeuCau"),
        "MaDVC": text("MaDVC"),
        "MaDonVi": text("MaDonVi"),
        "MaCanBo": mask_id(text("MaCanBo")),
    }


def _requester_problem(request_element: etree._Element) -> str | None:
    for name in ("MaDVC", "MaDonVi"):
        if not _CODE.fullmatch(request_element.findtext(f"{{{REQUEST_NS}}}{name}") or ""):
            return f"{name} must be a code of 1-64 letters, digits or . _ : / -"
    if not _OFFICER_ID.fullmatch(request_element.findtext(f"{{{REQUEST_NS}}}MaCanBo") or ""):
        return "MaCanBo must be the officer's 12-digit personal id"
    return None


def _value_problem(request_element: etree._Element) -> str | None:
    problem = _requester_problem(request_element)
    if problem is not None:
        return problem
    id_number = request_element.findtext(f"{{{REQUEST_NS}}}SoDinhDanh") or ""
    if not id_number.isdigit() or len(id_number) not in (9, 12):
        return "SoDinhDanh must be 9 or 12 digits"
    born = request_element.find(f"{{{REQUEST_NS}}}NgayThangNamSinh")
    if born is not None:
        parts = [(etree.QName(c).localname, c.text or "") for c in born]
        if len(parts) != 1 or parts[0][0] not in ("NgayThangNam", "Nam"):
            return "NgayThangNamSinh must hold exactly one of NgayThangNam or Nam"
        name, value = parts[0]
        if not value.isdigit() or len(value) != (8 if name == "NgayThangNam" else 4):
            return f"{name} must be {'yyyyMMdd' if name == 'NgayThangNam' else 'yyyy'}"
    return None


def _operation_of(envelope: etree._Element, soap_action: str | None) -> etree._Element:
    if envelope.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise RequestRefused("not a SOAP 1.1 Envelope")
    body = envelope.find(f"{{{SOAP_ENV_NS}}}Body")
    if body is None or len(body) != 1:
        raise RequestRefused("the Body must hold exactly one operation element")
    request = body[0]
    qname = etree.QName(request)
    if qname.namespace != REQUEST_NS or qname.localname not in OPERATIONS:
        raise RequestRefused(f"unknown operation {qname.localname}")
    expected_action = f"{REQUEST_NS}/{qname.localname}"
    if (soap_action or "").strip('"') != expected_action:
        raise RequestRefused("SOAPAction does not match the operation")
    return request


def _check_ws_security(peer: SandboxPeer, envelope: etree._Element) -> None:
    config = peer.config
    try:
        if config.username_token is not None:
            check_username_token(
                envelope,
                config.username_token.username,
                config.username_token.password.get_secret_value(),
            )
        if peer.trusted_cert is not None:
            check_timestamp(envelope, now=peer.clock(), max_skew_seconds=config.ws_max_skew_seconds)
            check_signature(envelope, peer.trusted_cert)
    except WsSecurityRefused as exc:
        raise RequestRefused(str(exc), exc.fault_code) from None


# --- handlers ------------------------------------------------------------------------------


async def _misbehave(peer: SandboxPeer, request: web.Request) -> web.StreamResponse | None:
    """The configured failure for this request, or None to answer properly."""
    bad = peer.misbehaviour
    if bad.latency_ms:
        await peer.sleep(bad.latency_ms / 1000)
    if bad.drop_connection:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing more to write on a dropped connection
    if bad.error_rate and peer.rng.random() < bad.error_rate:
        return fault_response("Hệ thống đang bận", "Server")
    if bad.fault is not None:
        return fault_response(bad.fault.string, bad.fault.code)
    if bad.xml_bomb:
        return web.Response(body=_XML_BOMB, content_type="text/xml", charset="utf-8")
    if bad.malformed_xml:
        return web.Response(body=_MALFORMED, content_type="text/xml", charset="utf-8")
    if bad.huge_response:
        return await _huge(request, bad.huge_response)
    return None


async def _huge(request: web.Request, size: int) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/xml; charset=utf-8"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b" " * 65536
    sent = 0
    try:
        await response.write(_MALFORMED)
        while sent < size:
            await response.write(chunk[: size - sent])
            sent += len(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client gave up on the size, as it should
    return response


async def soap_endpoint(request: web.Request) -> web.StreamResponse:
    """``POST {path}``: one SOAP call."""
    peer = request.app[PEER]
    peer.soap_requests += 1
    if rid := request.headers.get(REQUEST_ID_HEADER):
        peer.request_ids.append(rid)
    if traceparent := request.headers.get("traceparent"):
        peer.traceparents.append(traceparent)
    failure = await _misbehave(peer, request)
    if failure is not None:
        peer.answers["misbehaved"] += 1
        return failure
    try:
        citizen, found = await _answer(peer, request)
    except RequestRefused as exc:
        peer.answers["refused"] += 1
        return fault_response(exc.reason, exc.code, exc.status)
    peer.answers["ok" if found else "not_found"] += 1
    return web.Response(body=collection_reply(citizen), content_type="text/xml", charset="utf-8")


async def _answer(peer: SandboxPeer, request: web.Request) -> tuple[CitizenRecord | None, bool]:
    config = peer.config
    if request.content_type != "text/xml":
        raise RequestRefused("Content-Type must be text/xml", status=415)
    if config.ndxp is not None:
        reason = ndxp_refusal(
            config.ndxp,
            dict(request.headers),
            str(request.url),
            now=peer.clock(),
            max_skew_seconds=config.ndxp_max_skew_seconds,
        )
        if reason is not None:
            raise RequestRefused(f"NDXP: {reason}", "Client.Authentication", status=401)
    body = await request.read()
    try:
        envelope = parse_untrusted_xml(body, max_bytes=config.max_request_bytes)
    except HostileXml as exc:
        raise RequestRefused(str(exc)) from None
    operation = _operation_of(envelope, request.headers.get("SOAPAction"))
    _check_ws_security(peer, envelope)
    problem = order_problem(operation)
    if problem is None:
        peer.received.append(who_asked(operation))
        problem = _value_problem(operation)
    if problem is not None:
        raise RequestRefused(f"{etree.QName(operation).localname}: {problem}")
    peer.operations[etree.QName(operation).localname] += 1
    citizen = peer.citizens.get(operation.findtext(f"{{{REQUEST_NS}}}SoDinhDanh") or "")
    return citizen, citizen is not None


async def wsdl_document(request: web.Request) -> web.Response:
    """``GET {path}?wsdl``: the shipped WSDL, its soap:address pointing here."""
    if "wsdl" not in request.query:
        raise web.HTTPNotFound()
    peer = request.app[PEER]
    peer.wsdl_requests += 1
    document = copy.deepcopy(peer.wsdl)
    for address in document.iter(f"{{{_WSDL_SOAP_NS}}}address"):
        address.set("location", str(request.url.with_query(None)))
    body = etree.tostring(document, xml_declaration=True, encoding="utf-8")
    return web.Response(body=body, content_type="text/xml", charset="utf-8")


def _loopback_only(request: web.Request) -> None:
    if not from_loopback(request):
        raise web.HTTPForbidden(text="the sandbox admin answers loopback callers only")


async def set_misbehaviour(request: web.Request) -> web.Response:
    """``POST /_admin/misbehaviour``: replace the misbehaviour with the JSON body."""
    _loopback_only(request)
    try:
        misbehaviour = Misbehaviour.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    request.app[PEER].set_misbehaviour(misbehaviour)
    return web.json_response(misbehaviour.model_dump())


async def reset(request: web.Request) -> web.Response:
    """``POST /_admin/reset``: configured behaviour, counters zeroed."""
    _loopback_only(request)
    request.app[PEER].reset()
    return web.json_response({"reset": True})


async def stats(request: web.Request) -> web.Response:
    """``GET /_admin/stats``: what the sandbox has seen since start or reset."""
    _loopback_only(request)
    return web.json_response(request.app[PEER].stats())


def create_sandbox_app(
    config: PopulationSandboxConfig,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> web.Application:
    """The population sandbox as an aiohttp application."""
    app = web.Application(client_max_size=config.max_request_bytes)
    app[PEER] = SandboxPeer(config, clock, sleep)
    app.router.add_post(config.path, soap_endpoint)
    app.router.add_get(config.path, wsdl_document)
    app.router.add_post("/_admin/misbehaviour", set_misbehaviour)
    app.router.add_post("/_admin/reset", reset)
    app.router.add_get("/_admin/stats", stats)
    return app


async def start_sandbox(
    config: PopulationSandboxConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    **app_options: Any,
) -> tuple[web.AppRunner, str]:
    """Run the sandbox; returns the runner (``await runner.cleanup()`` to stop) and its base URL.

    The SOAP endpoint is ``base_url + config.path``. ``app_options`` go to
    :func:`create_sandbox_app` (``clock``, ``sleep``).
    """
    return await serve(create_sandbox_app(config, **app_options), host, port)
