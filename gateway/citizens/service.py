"""Verifying and looking up citizens: check the id first, then ask the population database.

:class:`CitizenService` is what the ``/v1/citizens/*`` routes call. It refuses
an inconsistent personal id (422) before any upstream call, so a typo costs the
national system nothing; then it asks the population adapter and turns the
answer into a verdict (verify) or the registered fields (look-up). It counts
verdicts and reports them, never ids or names: inside a request as the outcome
of the request's one access line (:func:`gateway.http.outcome.note_outcome`),
outside one (a direct call) in a line of its own, under the same event name.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from prometheus_client import Counter

from adapters.observability import label_child
from adapters.population.models import CitizenQuery, CitizenRecord
from gateway.citizens.cccd import check_id_number
from gateway.citizens.lookup import LookupRequest, citizen_to_lookup_json
from gateway.citizens.verdicts import IdentityClaim, IdentityVerdict, verify_claim
from gateway.errors import InvalidRequest
from gateway.http.outcome import note_outcome

__all__ = ["CITIZEN_VERDICTS", "CitizenService", "PopulationLookup"]

CITIZEN_VERDICTS = Counter(
    "lienthong_citizen_verdicts_total", "Citizen verification verdicts (overall)", ["verdict"]
)

_log = structlog.get_logger("gateway.citizens")


def _report(event: str, request_id: str, **fields: Any) -> None:
    """The outcome on the request's access line, or in a line of its own outside one."""
    if not note_outcome(event, **fields):
        _log.info(event, request_id=request_id, **fields)


class PopulationLookup(Protocol):
    """The population adapter seen from here: one look-up (TraCuuThongTinCongDan)."""

    async def lookup(self, query: CitizenQuery) -> CitizenRecord | None: ...


class CitizenService:
    """Verify claims about citizens and look citizens up, through a :class:`PopulationLookup`."""

    def __init__(self, population: PopulationLookup) -> None:
        self._population = population

    async def verify(
        self,
        claim: IdentityClaim,
        *,
        request_id: str,
        service_code: str | None = None,
        officer_id: str | None = None,
    ) -> IdentityVerdict:
        """The verdict for ``claim``; ``InvalidRequest`` before any call if the id disagrees.

        The claim's ``procedure_code``, ``officer_id`` and ``agency_code`` go upstream as
        MaDVC, MaCanBo and MaDonVi (``service_code`` / ``officer_id`` given here win);
        absent, the adapter's configured defaults are sent.
        """
        birth_date = claim.parsed_birth_date
        errors = check_id_number(claim.id_number, birth_date, claim.gender)
        if errors:
            _report("citizen.verify.rejected", request_id, errors=len(errors))
            raise InvalidRequest(errors)
        query = CitizenQuery(
            id_number=claim.id_number,
            full_name=claim.full_name,
            birth_date=birth_date,
            request_id=request_id,
            service_code=service_code or claim.procedure_code,
            officer_id=officer_id or claim.officer_id,
            agency_code=claim.agency_code,
        )
        record = await self._population.lookup(query)
        result = verify_claim(claim, record)
        label_child(CITIZEN_VERDICTS, result.verdict.value).inc()
        _report(
            "citizen.verified",
            request_id,
            verdict=result.verdict.value,
            fields={name: v.value for name, v in result.fields.items()},
            dossier_code=claim.dossier_code,
        )
        return result

    async def lookup(self, request: LookupRequest, *, request_id: str) -> dict[str, Any] | None:
        """The registered fields of the citizen, or None when the registry has no such citizen.

        The request's procedure, officer and agency go upstream as MaDVC, MaCanBo, MaDonVi.
        """
        errors = check_id_number(request.id_number, None, None)
        if errors:
            _report("citizen.lookup.rejected", request_id, errors=len(errors))
            raise InvalidRequest(errors)
        record = await self._population.lookup(
            CitizenQuery(
                id_number=request.id_number,
                request_id=request_id,
                service_code=request.procedure_code,
                officer_id=request.officer_id,
                agency_code=request.agency_code,
            )
        )
        _report("citizen.looked_up", request_id, found=record is not None)
        return None if record is None else citizen_to_lookup_json(record)
