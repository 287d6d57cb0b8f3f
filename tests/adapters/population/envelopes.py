"""Hand-built SOAP requests, to talk to the sandbox without the adapter."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
REQ = "http://dancuquocgia.bca"
ACTION = '"http://dancuquocgia.bca/TraCuuThongTinCongDan"'

IN_ORDER: tuple[tuple[str, str], ...] = (
    ("MaYeuCau", "r-1"),
    ("MaDVC", "DVC"),
    ("MaTichHop", "TH"),
    ("MaCanBo", "001080000001"),
    ("MaDonVi", "DV"),
    ("TaiKhoan", "tk"),
    ("SoDienThoai", "0900000000"),
    ("SoDinhDanh", "092090001234"),
)


def lookup_envelope(children: Sequence[tuple[str, str]] = IN_ORDER, extra: str = "") -> bytes:
    """A TraCuuThongTinCongDan envelope with ``children`` in the given order."""
    inner = "".join(f"<d:{name}>{value}</d:{name}>" for name, value in children)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body>'
        f'<d:TraCuuThongTinCongDan xmlns:d="{REQ}">{inner}{extra}</d:TraCuuThongTinCongDan>'
        f"</s:Body></s:Envelope>"
    ).encode()


async def post_envelope(
    session: aiohttp.ClientSession,
    endpoint: str,
    body: bytes,
    *,
    soap_action: str = ACTION,
) -> tuple[int, str]:
    """POST a raw envelope; returns status and the decoded reply."""
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": soap_action}
    async with session.post(endpoint, data=body, headers=headers) as resp:
        return resp.status, await resp.text()
