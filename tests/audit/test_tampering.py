"""Tampering with the stored chain is detected and the first bad record is named."""

from __future__ import annotations

import gzip

from gateway.audit.archive import archive
from gateway.audit.config import AuditConfig
from gateway.audit.log import AuditLog
from gateway.store import Store
from tests.support.clock import FakeClock

from .conftest import append_some, verify
from .test_log import crash


async def _renumber(store: Store, sql_where: str, delta: int) -> None:
    """Shift the seq of matching gw-1 records by ``delta`` without unique-key clashes."""
    async with store.transaction() as tx:
        await tx.execute(
            f"UPDATE audit_records SET seq = -(seq + $1) WHERE instance = 'gw-1' AND {sql_where}",  # noqa: S608
            delta,
        )
        await tx.execute("UPDATE audit_records SET seq = -seq WHERE instance = 'gw-1' AND seq < 0")


async def _run(store: Store, sql: str, *params: object) -> None:
    async with store.transaction() as tx:
        await tx.execute(sql, *params)


async def test_untouched_log_verifies(audit_log: AuditLog, clock: FakeClock) -> None:
    """An untouched chain with checkpoints verifies with no problems."""
    await append_some(audit_log, clock, 5)
    assert await audit_log.checkpoint() is not None
    await append_some(audit_log, clock, 3)
    report = await verify(audit_log)
    assert report.ok, report.problems
    assert report.records_checked == 8
    assert report.checkpoints_checked == 1


async def test_one_changed_byte_is_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """Changing one character of one record names that record as changed."""
    await append_some(audit_log, clock, 8)
    await _run(
        audit_log.store,
        "UPDATE audit_records SET operation = 'citizens.verifz' WHERE instance = 'gw-1'"
        " AND seq = 5",
    )
    report = await verify(audit_log)
    assert not report.ok
    assert [(p.seq, p.what) for p in report.problems] == [(5, "changed")]


async def test_rehashed_change_is_caught_by_the_next_link(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    """A record changed and re-hashed is named through its successor's link."""
    await append_some(audit_log, clock, 6)
    await _run(
        audit_log.store,
        "UPDATE audit_records SET digest = $1 WHERE instance = 'gw-1' AND seq = 3",
        "f" * 64,
    )
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(3, "changed")]


async def test_deleted_record_is_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """Deleting one record names its seq as removed."""
    await append_some(audit_log, clock, 8)
    await _run(audit_log.store, "DELETE FROM audit_records WHERE instance = 'gw-1' AND seq = 4")
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(4, "removed")]


async def test_deleted_first_record_is_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """Deleting the first record (without an archive) names seq 1 as removed."""
    await append_some(audit_log, clock, 4)
    await _run(audit_log.store, "DELETE FROM audit_records WHERE instance = 'gw-1' AND seq = 1")
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(1, "removed")]


async def test_inserted_record_is_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """A forged record spliced in (later records renumbered) is named as inserted."""
    await append_some(audit_log, clock, 8)
    store = audit_log.store
    forged = await store.fetch_one(
        "SELECT * FROM audit_records WHERE instance = 'gw-1' AND seq = 5"
    )
    assert forged is not None
    await _renumber(store, "seq >= 5", 1)
    forged["request_id"] = "forged"
    columns = ", ".join(forged)
    marks = ", ".join(f"${i + 1}" for i in range(len(forged)))
    insert = f"INSERT INTO audit_records ({columns}) VALUES ({marks})"  # noqa: S608
    await _run(store, insert, *forged.values())
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(5, "changed")]
    # a careful forger re-hashes the inserted record and links it properly:
    await _run(store, "DELETE FROM audit_records WHERE instance = 'gw-1' AND seq = 5")
    await _renumber(store, "seq >= 6", -1)
    await append_forged_after(audit_log, 4)
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(5, "inserted")]


async def append_forged_after(log: AuditLog, seq: int) -> None:
    """Splice a properly hashed, properly linked forged record in after ``seq``."""
    from gateway.audit.record import AuditRecord
    from gateway.audit.writer import insert_records

    store = log.store
    row = await store.fetch_one(
        "SELECT * FROM audit_records WHERE instance = 'gw-1' AND seq = $1", seq
    )
    assert row is not None
    before = AuditRecord.from_row(row)
    await _renumber(store, f"seq > {seq}", 1)
    draft = AuditRecord(
        seq=seq + 1,
        instance="gw-1",
        time_us=before.time_us + 1,
        kind="inbound",
        operation="citizens.lookup",
        outcome="ok",
        prev_digest=before.digest,
        digest="",
        client_id="one-stop",
    )
    forged = AuditRecord(**{**draft.__dict__, "digest": draft.computed_digest()})
    async with store.transaction() as tx:
        await insert_records(tx, [forged])


async def test_swapped_records_are_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """Swapping two records' places names the first as reordered."""
    await append_some(audit_log, clock, 8)
    store = audit_log.store
    await _run(store, "UPDATE audit_records SET seq = -1 WHERE instance = 'gw-1' AND seq = 3")
    await _run(store, "UPDATE audit_records SET seq = 3 WHERE instance = 'gw-1' AND seq = 6")
    await _run(store, "UPDATE audit_records SET seq = 6 WHERE instance = 'gw-1' AND seq = -1")
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(3, "reordered")]


async def test_truncated_tail_after_checkpoint_is_named(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    """Cutting off the newest records, back past a checkpoint, is named as truncated."""
    await append_some(audit_log, clock, 10)
    cp = await audit_log.checkpoint()
    assert cp is not None
    assert cp.seq == 10
    await append_some(audit_log, clock, 2)
    await _run(audit_log.store, "DELETE FROM audit_records WHERE instance = 'gw-1' AND seq >= 8")
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(8, "truncated")]


async def test_forged_checkpoint_is_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """A checkpoint whose signature does not verify is reported."""
    await append_some(audit_log, clock, 3)
    await audit_log.checkpoint()
    await _run(audit_log.store, "UPDATE audit_checkpoints SET seq = 2 WHERE instance = 'gw-1'")
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(2, "checkpoint")]


async def test_archive_keeps_the_chain_verifiable(audit_log: AuditLog, clock: FakeClock) -> None:
    """Archiving old records removes them, carries the file digest in, and still verifies."""
    await append_some(audit_log, clock, 6)
    cutoff = clock()
    await audit_log.checkpoint()
    await append_some(audit_log, clock, 3)
    result = await archive(audit_log.writer, cutoff + (clock() - cutoff) / 1000)
    assert result is not None
    assert (result.first_seq, result.last_seq, result.count) == (1, 6, 6)
    remaining = await audit_log.store.fetch_all(
        "SELECT seq, kind FROM audit_records WHERE instance = 'gw-1' ORDER BY seq"
    )
    assert [r["seq"] for r in remaining] == [7, 8, 9, 10]
    assert remaining[-1]["kind"] == "archive"
    with gzip.open(result.file, "rt", encoding="utf-8") as archived:
        assert len(archived.readlines()) == 6
    report = await verify(audit_log)
    assert report.ok, report.problems
    await append_some(audit_log, clock, 2)
    assert (await verify(audit_log)).ok


async def test_tampered_archive_file_is_named(audit_log: AuditLog, clock: FakeClock) -> None:
    """An archive file that no longer matches the digest in the chain is named."""
    await append_some(audit_log, clock, 4)
    clock.advance(1)
    result = await archive(audit_log.writer, clock())
    assert result is not None
    data = bytearray(result.file.read_bytes())
    data[-5] ^= 0x01
    result.file.write_bytes(bytes(data))
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(result.archive_seq, "archive")]


async def test_removed_records_after_an_archive_are_still_named(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    """Deleting records left after an archive is not mistaken for archiving."""
    await append_some(audit_log, clock, 4)
    clock.advance(1)
    await archive(audit_log.writer, clock())  # records 1-4 out, the archive record is seq 5
    await append_some(audit_log, clock, 3)
    await _run(audit_log.store, "DELETE FROM audit_records WHERE instance = 'gw-1' AND seq = 6")
    report = await verify(audit_log)
    assert [(p.seq, p.what) for p in report.problems] == [(6, "removed")]
    await _run(audit_log.store, "DELETE FROM audit_records WHERE instance = 'gw-1' AND seq = 5")
    report = await verify(audit_log)
    assert [p.what for p in report.problems][:1] == ["removed"]


async def _crashed_log(store: Store, config: AuditConfig, clock: FakeClock, count: int) -> None:
    """Instance gw-k appends ``count`` records and dies without stopping."""
    log = AuditLog(store, config, "gw-k", clock=clock)
    await log.start()
    await append_some(log, clock, count)
    await crash(log)


async def test_tail_cut_after_a_crash_back_past_a_checkpoint_is_named(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """A crash, then the tail deleted back past the newest checkpoint: truncated, before
    and after the next start-up."""
    config = audit_config.model_copy(update={"checkpoint_records": 4})
    await _crashed_log(store, config, clock, 10)  # checkpoints at 4 and 8
    await _run(store, "DELETE FROM audit_records WHERE instance = 'gw-k' AND seq >= 7")
    log = AuditLog(store, config, "gw-k", clock=clock)
    report = await verify(log)
    assert [(p.seq, p.what) for p in report.problems] == [(7, "truncated")]
    async with log:  # the restart names the checkpoint it found beyond the head
        report = await verify(log)
    assert sorted((p.seq, p.what) for p in report.problems)[0] == (7, "truncated")
    assert {p.what for p in report.problems} <= {"truncated", "changed"}


async def test_tail_cut_after_a_crash_within_the_uncovered_records_is_bounded(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """The documented limit: records after the newest checkpoint, cut before the restart,
    leave no problem, but the resume record states what the restart found (here 1 record
    after checkpoint 8), so such a cut is bounded by checkpoint_records."""
    config = audit_config.model_copy(update={"checkpoint_records": 4})
    await _crashed_log(store, config, clock, 10)
    await _run(store, "DELETE FROM audit_records WHERE instance = 'gw-k' AND seq = 10")
    async with AuditLog(store, config, "gw-k", clock=clock) as log:
        report = await verify(log)
    assert report.ok, report.problems
    resumed = [i for i in report.interruptions if i.resumed_seq is not None]
    assert [(i.head_seq, i.checkpointed_seq, i.unprotected) for i in resumed] == [(9, 8, 1)]


async def test_tail_cut_after_the_restart_is_named(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """Once the restart has checkpointed its resume record, cutting the crashed run's
    uncovered tail is detected."""
    config = audit_config.model_copy(update={"checkpoint_records": 4})
    await _crashed_log(store, config, clock, 10)
    async with AuditLog(store, config, "gw-k", clock=clock) as log:
        await _run(store, "DELETE FROM audit_records WHERE instance = 'gw-k' AND seq >= 9")
        report = await verify(log)
    assert [(p.seq, p.what) for p in report.problems][:1] == [(9, "truncated")]


async def test_deleted_checkpoints_of_lifecycle_records_are_named(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """The checkpoint a resume record names, and the one committed with a stop record,
    cannot be deleted unnoticed."""
    config = audit_config.model_copy(update={"checkpoint_records": 4})
    await _crashed_log(store, config, clock, 6)  # checkpoint at 4
    async with AuditLog(store, config, "gw-k", clock=clock) as log:
        pass  # resume at 7, stop at 8
    await _run(store, "DELETE FROM audit_checkpoints WHERE instance = 'gw-k' AND seq IN (4, 8)")
    report = await verify(log)
    assert sorted((p.seq, p.what) for p in report.problems) == [
        (4, "checkpoint"),
        (8, "checkpoint"),
    ]
