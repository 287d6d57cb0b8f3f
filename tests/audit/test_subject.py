"""``lienthong audit subject``: a citizen's record of access, across chains and archive files.

A fixture citizen's records are spread over two instances' chains and an archive file;
another citizen's are beside them. Every one of the first is found, none of the second,
and the id is nowhere in the output but masked; the run is an operator record without
the id or its digest; the id cannot be given on the command line.
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.audit.archive import archive
from gateway.audit.config import AuditConfig
from gateway.audit.log import AuditLog
from gateway.audit.signing import AuditKeys
from gateway.audit.subject import SubjectInputError, audit_subject_command, read_id_number
from gateway.store import Store, StoreConfig
from tests.audit.conftest import CITIZEN_ID
from tests.conftest import find_leaks
from tests.support.clock import FakeClock

OTHER_ID = "094203000777"
OFFICER_ID = "001080000001"
DIGEST_KEY = "subject-test-digest-key"


@pytest.fixture
def config(audit_config: AuditConfig) -> AuditConfig:
    """The suite's audit config with an explicit digest key (so the test can digest)."""
    return audit_config.model_copy(update={"digest_key": SecretStr(DIGEST_KEY)})


async def _verify(log: AuditLog, clock: FakeClock, id_number: str, n: int) -> None:
    clock.advance(60)
    await log.append(
        kind="inbound",
        operation="citizens.verify",
        outcome="ok",
        client_id=f"one-stop-{log.instance_id}",
        status=200,
        request_id=f"req-{log.instance_id}-{n}",
        id_numbers=[id_number],
        detail={
            "method": "POST",
            "context": {
                "agency_code": "000.00.31.H29",
                "procedure_code": f"1.00{n}",
                "purpose": f"Cấp giấy phép {n}",
                "dossier_code": f"HS-{n}",
                "officer_masked": "001*******01",
                "officer_digest": log.subject_digest(OFFICER_ID),
            },
            "verdict": "match",
        },
    )


async def _history(store: Store, config: AuditConfig, clock: FakeClock) -> dict[str, Any]:
    """Three of the citizen's records on gw-1 that get archived, two on gw-1 after, two on
    gw-2; the other citizen's on both. Returns what the test expects to find."""
    gw1 = AuditLog(store, config, "gw-1", clock=clock)
    gw2 = AuditLog(store, config, "gw-2", clock=clock)
    await gw1.start()
    await gw2.start()
    for n in range(3):
        await _verify(gw1, clock, CITIZEN_ID, n)
    await _verify(gw1, clock, OTHER_ID, 90)
    clock.advance(timedelta(days=40))
    archived = await archive(gw1.writer, clock() - timedelta(days=config.retention_days))
    assert archived is not None
    assert archived.count >= 4
    for n in range(3, 5):
        await _verify(gw1, clock, CITIZEN_ID, n)
    for n in range(5, 7):
        await _verify(gw2, clock, CITIZEN_ID, n)
    await _verify(gw2, clock, OTHER_ID, 91)
    await gw1.stop()
    await gw2.stop()
    return {"archive": archived.file.name, "dossiers": {f"HS-{n}" for n in range(7)}}


async def _run(
    store_config: StoreConfig, config: AuditConfig, clock: FakeClock, tmp_path: Path, **kw: Any
) -> tuple[int, str, str, Path]:
    out, err = io.StringIO(), io.StringIO()
    out_dir = tmp_path / "letters"
    status = await audit_subject_command(
        store_config,
        config,
        "gw-1",
        kw.pop("source", "-"),
        out_dir,
        stdin=kw.pop("stdin", io.StringIO(CITIZEN_ID + "\n")),
        out=out,
        err=err,
        clock=clock,
        operator="clerk-an",
        **kw,
    )
    return status, out.getvalue(), err.getvalue(), out_dir


async def test_finds_every_record_across_chains_and_archives_and_no_one_elses(
    store: Store,
    store_config: StoreConfig,
    config: AuditConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """All seven of the citizen's records (archive file, gw-1, gw-2), none of the other's."""
    expected = await _history(store, config, clock)
    status, stdout, _, out_dir = await _run(store_config, config, clock, tmp_path)
    assert status == 0
    document = json.loads(next(out_dir.glob("*.json")).read_text(encoding="utf-8"))
    records = document["records"]
    assert {r["dossier_code"] for r in records} == expected["dossiers"]
    assert len(records) == 7
    assert {r["instance"] for r in records} == {"gw-1", "gw-2"}
    assert sum(r["source"] == expected["archive"] for r in records) == 3
    first = records[0]
    assert first["agency_code"] == "000.00.31.H29"
    assert first["officer"] == "001*******01"
    assert (first["outcome"], first["verdict"]) == ("ok", "match")
    assert first["client_id"] == "one-stop-gw-1"
    assert first["time"].endswith("+07:00")
    assert document["subject"] == {"masked_id": "092*******34"}
    archives = document["period"]["archives"]
    assert [(a["file"], a["status"], a["matched"]) for a in archives] == [
        (expected["archive"], "verified", 3)
    ]
    assert document["period"]["retention_days"] == config.retention_days
    assert document["period"]["from"] == first["time"]  # the oldest record read is archived
    assert "HS-90" not in stdout
    assert "HS-91" not in stdout
    letter = next(out_dir.glob("*.html")).read_text(encoding="utf-8")
    assert "Thông tin về việc xử lý dữ liệu cá nhân của công dân" in letter
    assert "@page { size: A4" in letter
    assert not re.search(r"<script|<link|https?://", letter)
    assert letter.count("<tr>") == 8  # the header and seven rows


async def test_the_id_is_never_in_the_output_and_the_run_is_an_operator_record(
    store: Store,
    store_config: StoreConfig,
    config: AuditConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """stdout, the letter, the JSON and the log hold the id masked only; the operator chain
    records who asked and how many were found, not whose id (neither clear nor digest)."""
    await _history(store, config, clock)
    status, stdout, stderr, out_dir = await _run(store_config, config, clock, tmp_path, lang="en")
    assert status == 0
    outputs = [stdout, stderr] + [p.read_text(encoding="utf-8") for p in out_dir.iterdir()]
    assert all(p.name.startswith("subject-access-") for p in out_dir.iterdir())
    digest = AuditKeys(config).subject_digest(CITIZEN_ID)
    for text in outputs:
        assert CITIZEN_ID not in text
        assert find_leaks([text]) == []
        assert digest not in text
    assert "092*******34" in stdout
    assert "Information on the processing" in outputs[2] + outputs[3]
    rows = await store.fetch_all(
        "SELECT * FROM audit_records WHERE instance = $1 AND kind = 'operator'", "gw-1/operator"
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["operation"] == "audit subject"
    assert row["client_id"] == "clerk-an"
    assert json.loads(row["detail"])["args"]["records_found"] == 7
    flat = json.dumps(row, default=str)
    for secret in (CITIZEN_ID, digest, "092*******34"):
        assert secret not in flat
    assert json.loads(row["subject_digests"]) == []


async def test_reads_the_id_from_a_file(
    store: Store, store_config: StoreConfig, config: AuditConfig, clock: FakeClock, tmp_path: Path
) -> None:
    """``--id-number FILE``: the same records as from standard input."""
    await _history(store, config, clock)
    id_file = tmp_path / "id.txt"
    id_file.write_text(f"  {CITIZEN_ID}\n", encoding="utf-8")
    status, stdout, _, _ = await _run(store_config, config, clock, tmp_path, source=str(id_file))
    assert status == 0
    assert "Số lần xử lý tìm thấy: 7" in stdout


@pytest.mark.parametrize("given", [CITIZEN_ID, "092 090 001 234", "missing.txt"])
def test_an_id_on_the_command_line_is_refused_without_echo(given: str) -> None:
    """Anything that is not a file (the id itself above all) is refused; never repeated."""
    with pytest.raises(SubjectInputError) as caught:
        read_id_number(given)
    assert CITIZEN_ID not in str(caught.value)
    assert given not in str(caught.value)


@pytest.mark.parametrize("content", ["12345", "09209000123x", "", "092090001234 094203000777"])
def test_a_file_without_one_id_is_refused_without_echo(content: str) -> None:
    """Content that is not one 12- (or 9-) digit id is refused, without quoting it."""
    with pytest.raises(SubjectInputError) as caught:
        read_id_number("-", io.StringIO(content))
    assert content.strip() == "" or content not in str(caught.value)
    assert CITIZEN_ID not in str(caught.value)


def test_the_cli_refuses_a_12_digit_argument_in_one_line_without_echo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lienthong audit subject --id-number 092090001234`` (no such file) and the id as a
    stray argument: exit 2, one line on stderr, the id not in it, nothing on stdout."""
    from gateway.cli import main

    monkeypatch.chdir(tmp_path)
    for argv in (
        ["audit", "subject", "--id-number", CITIZEN_ID],
        ["audit", "subject", "--id-number", "-", CITIZEN_ID],
    ):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert CITIZEN_ID not in captured.err + captured.out
        assert len(captured.err.strip().splitlines()) == 1
