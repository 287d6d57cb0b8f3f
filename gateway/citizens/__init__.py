"""Citizen identity: personal-id rules, Vietnamese name comparison and verdicts.

Pure functions (:mod:`.names`, :mod:`.cccd`, :mod:`.verdicts`, :mod:`.lookup`)
plus :class:`CitizenService`, which the ``/v1/citizens/verify`` and
``/v1/citizens/lookup`` routes call with a population adapter.
"""

from gateway.citizens._verdict import Verdict
from gateway.citizens.cccd import (
    PROVINCE_CODES,
    IdNumberInfo,
    InvalidIdNumber,
    check_id_number,
    parse_id_number,
)
from gateway.citizens.lookup import LookupRequest, citizen_to_lookup_json, parse_lookup_request
from gateway.citizens.names import compare_names, fold_for_request, fold_name, normalize_name
from gateway.citizens.service import CITIZEN_VERDICTS, CitizenService, PopulationLookup
from gateway.citizens.verdicts import (
    IdentityClaim,
    IdentityVerdict,
    compare_birth_dates,
    parse_claim,
    verify_claim,
)

__all__ = [
    "CITIZEN_VERDICTS",
    "PROVINCE_CODES",
    "CitizenService",
    "IdNumberInfo",
    "IdentityClaim",
    "IdentityVerdict",
    "InvalidIdNumber",
    "LookupRequest",
    "PopulationLookup",
    "Verdict",
    "check_id_number",
    "citizen_to_lookup_json",
    "compare_birth_dates",
    "compare_names",
    "fold_for_request",
    "fold_name",
    "normalize_name",
    "parse_claim",
    "parse_id_number",
    "parse_lookup_request",
    "verify_claim",
]
