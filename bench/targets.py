"""Targets and their request factories.

A :class:`Target` is somewhere to send load (the gateway, a sandbox directly,
the proxy) with the factory that builds its requests and the server processes
whose CPU time it is charged. Factories are small picklable values: the load
generator process calls :meth:`prepare` before timing starts, so signing is
never part of a measurement.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.business.sandbox_data import generated_businesses
from adapters.population.citizens import citizen_registry
from adapters.population.config import SHIPPED_WSDL, RequestDefaults
from adapters.population.models import CitizenRecord
from adapters.population.sandbox_config import PopulationSandboxConfig
from adapters.population.wire import LOOKUP, CitizenServiceWire
from bench.loadgen import PreparedRequest, RequestFactory
from bench.peer import BENCH_BUSINESS_SEED


@dataclass(frozen=True)
class Target:
    """Where one run sends its load, and which server processes pay for it."""

    name: str
    factory: RequestFactory
    #: Names of the server processes whose CPU time is charged to this target.
    servers: tuple[str, ...]


# --- factories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    """The same few unsigned requests over and over (a sandbox or the proxy needs no signature)."""

    requests: tuple[PreparedRequest, ...]
    expected_status: int = 200
    expected_fields: tuple[tuple[str, str], ...] = ()

    def prepare(self, count: int) -> Sequence[PreparedRequest]:
        return [self.requests[i % len(self.requests)] for i in range(count)]


@dataclass(frozen=True)
class SignedRequests:
    """Requests to the gateway, each signed (RFC 9421, hmac-sha256) with a fresh nonce.

    ``urls`` and ``bodies`` are cycled together; with ``distinct`` each URL is used once and
    :meth:`prepare` returns at most ``len(urls)`` requests (a cold-cache run).
    """

    method: str
    urls: tuple[str, ...]
    bodies: tuple[bytes, ...]
    key_id: str
    secret: str
    content_type: str | None = "application/json"
    distinct: bool = False
    expected_status: int = 200
    expected_fields: tuple[tuple[str, str], ...] = ()

    def prepare(self, count: int) -> Sequence[PreparedRequest]:
        from gateway.auth.signatures import sign_request

        if self.distinct:
            count = min(count, len(self.urls))
        base = {"Content-Type": self.content_type} if self.content_type else {}
        out = []
        for i in range(count):
            url = self.urls[i % len(self.urls)]
            body = self.bodies[i % len(self.bodies)]
            headers = sign_request(self.method, url, base, body, self.key_id, self.secret)
            out.append(PreparedRequest(self.method, url, headers, body))
        return out


# --- what the requests carry ----------------------------------------------------------------


def bench_citizens(limit: int = 64) -> list[CitizenRecord]:
    """Citizens the default population sandbox holds (fixtures first), at most ``limit``."""
    config = PopulationSandboxConfig()
    registry = citizen_registry(config.generated_citizens, config.seed)
    return list(registry.values())[:limit]


def full_name(citizen: CitizenRecord) -> str:
    parts = (citizen.family_name, citizen.middle_name, citizen.given_name)
    return " ".join(p for p in parts if p)


def verify_body(citizen: CitizenRecord) -> bytes:
    """The ``POST /v1/citizens/verify`` body a one-stop system sends for ``citizen``."""
    born = citizen.birth_date
    assert born is not None
    day = born.as_date()
    claim: dict[str, object] = {
        "id_number": citizen.id_number,
        "full_name": full_name(citizen),
        "birth_date": day.isoformat() if day else f"{born.year:04d}",
    }
    if citizen.gender:
        claim["gender"] = citizen.gender
    return json.dumps(claim, ensure_ascii=False).encode()


def lookup_envelopes(citizens: Sequence[CitizenRecord]) -> tuple[tuple[bytes, ...], str]:
    """The ``TraCuuThongTinCongDan`` envelopes the gateway's adapter sends, and the SOAPAction."""
    wire = CitizenServiceWire.load(SHIPPED_WSDL, None)
    defaults = RequestDefaults()
    envelopes = []
    for citizen in citizens:
        born = citizen.birth_date
        assert born is not None
        day = born.as_date()
        fields: dict[str, object] = {
            "MaYeuCau": uuid.uuid4().hex,
            "MaDVC": defaults.service_code,
            "MaTichHop": defaults.integration_code,
            "MaCanBo": defaults.officer_id,
            "MaDonVi": defaults.agency_code,
            "TaiKhoan": defaults.account,
            "SoDienThoai": defaults.phone,
            "SoDinhDanh": citizen.id_number,
            "HoVaTen": unicodedata.normalize("NFC", full_name(citizen)),
            "NgayThangNamSinh": (
                {"NgayThangNam": day.strftime("%Y%m%d")} if day else {"Nam": f"{born.year:04d}"}
            ),
        }
        envelopes.append(wire.build_request(fields))
    return tuple(envelopes), f'"{wire.soap_action(LOOKUP)}"'


def soap_requests(endpoint: str, envelopes: Sequence[bytes], soap_action: str) -> Replayed:
    """The lookup envelopes POSTed to ``endpoint`` (the sandbox itself, or the proxy)."""
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": soap_action,
        "X-Request-ID": uuid.uuid4().hex,
    }
    return Replayed(tuple(PreparedRequest("POST", endpoint, headers, e) for e in envelopes))


def bench_tax_codes(businesses: int) -> list[str]:
    """The tax codes the bench NGSP peer holds (it generates ``businesses`` with the bench seed)."""
    return sorted(generated_businesses(businesses, BENCH_BUSINESS_SEED))
