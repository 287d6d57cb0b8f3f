"""A signed verification through the gateway and the population sandbox: one log line
and one audit record for the request (issue 13).

The line is the access line, named by the operation's outcome (``citizen.verified``),
carrying the verdict and the upstream exchange's operational record with its four
timestamps; the audit record is the ``inbound`` one, the exchange folded into it.
"""

from __future__ import annotations

import asyncio
import json

from gateway.logging import ISO_UTC
from tests.e2e.conftest import audit_records_of
from tests.request_ids import production_log_lines
from tests.support.gateway import Gateway

AN = {
    "id_number": "092090001234",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-05-12",
    "gender": "male",
}
RID = "one-line-1"
TIMES = ("request_in", "request_out", "response_in", "response_out")


async def test_a_verification_writes_one_line_and_one_audit_record(gateway: Gateway) -> None:
    """Exactly one line names the request: event, verdict, request id, upstream with its
    four timestamps; exactly one audit record, the exchange in its detail."""
    with production_log_lines() as lines:
        status, answer, headers = await gateway.call(
            "POST", "/v1/citizens/verify", AN, headers={"X-Request-ID": RID}
        )
    assert status == 200, answer
    assert headers["X-Request-ID"] == RID

    mine = [e for e in map(json.loads, lines) if e.get("request_id") == RID]
    (line,) = mine
    assert line["event"] == "citizen.verified"
    assert line["logger"] == "gateway.access"
    assert line["status"] == 200
    assert line["verdict"] == answer["verdict"] == "match"
    assert line["fields"]["id_number"] == "match"
    upstream = line["upstream"]
    assert upstream["system"] == "population"
    assert upstream["outcome"] == "ok"
    assert all(ISO_UTC.fullmatch(upstream[t]) for t in TIMES), upstream
    assert [upstream[t] for t in TIMES] == sorted(upstream[t] for t in TIMES)
    assert upstream["span_ids"]

    await audit_records_of(gateway, RID)
    await asyncio.sleep(0.1)  # anything else the request wrote is committed by now too
    records = await audit_records_of(gateway, RID)
    assert [(r["kind"], r["operation"]) for r in records] == [("inbound", "citizens.verify")]
    (folded,) = json.loads(records[0]["detail"])["upstream"]
    assert folded["operation"] == "population.TraCuuThongTinCongDan"
    assert folded["outcome"] == "ok"
    assert folded["span_ids"] == upstream["span_ids"]


async def test_a_request_failed_upstream_is_one_warning_line(gateway: Gateway) -> None:
    """A fault from the population database: the access line is ``upstream_failed``, a
    warning with the problem type, the exchange's outcome and fault in its ``upstream``;
    no second line names the failure."""
    await gateway.population.admin("misbehaviour", {"fault": {"code": "Client", "string": "no"}})
    with production_log_lines() as lines:
        status, answer, _ = await gateway.call(
            "POST", "/v1/citizens/verify", AN, headers={"X-Request-ID": "one-line-2"}
        )
    assert status == 502, answer
    mine = [e for e in map(json.loads, lines) if e.get("request_id") == "one-line-2"]
    failed = [e for e in mine if e["event"] == "upstream_failed"]
    assert [(e["logger"], e["level"]) for e in failed] == [("gateway.access", "warning")]
    (line,) = failed
    assert line["status"] == 502
    assert line["problem_type"] == "upstream-fault"
    assert line["upstream"]["outcome"] == "fault"
    assert all(ISO_UTC.fullmatch(line["upstream"][t]) for t in TIMES)
    records = await audit_records_of(gateway, "one-line-2")
    assert [r["kind"] for r in records] == ["inbound"]
