"""The audit log's life cycle: batching, restarts, instances, export, commands."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from structlog.testing import capture_logs

from gateway.audit.commands import audit_verify_command, parse_since
from gateway.audit.config import AuditConfig
from gateway.audit.export import export_audit_log, verify_export
from gateway.audit.log import AuditLog
from gateway.audit.middleware import audit_operator
from gateway.audit.writer import AuditLogClosed
from gateway.store import Store, StoreConfig
from tests.support.clock import FakeClock

from .conftest import CITIZEN_ID, CITIZEN_NAME, append_some, verify


async def test_concurrent_appends_form_one_sequential_chain(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    """Many concurrent appends are committed as one gap-free chain that verifies."""
    await asyncio.gather(
        *(
            audit_log.append(kind="inbound", operation="ops.x", outcome="ok", request_id=str(n))
            for n in range(200)
        )
    )
    rows = await audit_log.store.fetch_all(
        "SELECT seq, request_id FROM audit_records WHERE instance = 'gw-1' ORDER BY seq"
    )
    assert [r["seq"] for r in rows] == list(range(1, 201))
    assert sorted(r["request_id"] for r in rows) == sorted(str(n) for n in range(200))
    assert (await verify(audit_log)).ok


async def test_commit_durability_means_stored_on_return(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """With durability=commit, a returned append is already readable from the store."""
    config = audit_config.model_copy(update={"durability": "commit"})
    async with AuditLog(store, config, "gw-1", clock=clock) as audit_log:
        await append_some(audit_log, clock, 1)
        row = await store.fetch_one("SELECT COUNT(*) AS n FROM audit_records")
    assert row is not None
    assert row["n"] == 1


async def test_buffered_records_are_flushed_at_stop(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """Buffered appends return at once and are all written by stop(), which ends the chain
    with an ``audit.stop`` record and a checkpoint over it."""
    config = audit_config.model_copy(update={"durability": "buffered"})
    log = AuditLog(store, config, "gw-b", clock=clock)
    await log.start()
    await append_some(log, clock, 30)
    await log.stop()
    rows = await store.fetch_all(
        "SELECT seq, kind, operation FROM audit_records WHERE instance = 'gw-b' ORDER BY seq"
    )
    assert [r["kind"] for r in rows] == ["inbound"] * 30 + ["lifecycle"]
    assert rows[-1]["operation"] == "audit.stop"
    cps = await store.fetch_all("SELECT seq FROM audit_checkpoints WHERE instance = 'gw-b'")
    assert [c["seq"] for c in cps] == [31]


async def test_buffered_records_gather_into_one_commit(
    store: Store, audit_config: AuditConfig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buffered appends arriving while the writer lingers share one transaction (one fsync),
    even when the writer was already awake for the first of them."""
    config = audit_config.model_copy(update={"durability": "buffered", "max_delay_seconds": 30})
    log = AuditLog(store, config, "gw-l", clock=clock)
    await log.start()
    transactions = 0
    open_transaction = store.transaction

    def counting_transaction() -> Any:
        nonlocal transactions
        transactions += 1
        return open_transaction()

    monkeypatch.setattr(store, "transaction", counting_transaction)
    await append_some(log, clock, 1)
    for _ in range(20):  # the writer takes the first record and starts waiting
        await asyncio.sleep(0)
    await append_some(log, clock, 4)
    async with asyncio.timeout(10):  # flush() cuts the 30 s linger short
        await log.flush()
    assert transactions == 1
    rows = await store.fetch_all("SELECT seq FROM audit_records WHERE instance = 'gw-l'")
    assert len(rows) == 5
    await log.stop()


def _lingering(audit_config: AuditConfig) -> AuditConfig:
    """Buffered, batches of 3, a 30 s delay: any test that finishes waited for no delay."""
    return audit_config.model_copy(
        update={"durability": "buffered", "max_delay_seconds": 30, "max_batch": 3}
    )


async def _until_stored(store: Store, instance: str, count: int) -> None:
    """Return once ``instance`` has ``count`` records in the store (10 s at most: a test
    that needs this waits for the writer, never for the 30 s delay it configured)."""
    async with asyncio.timeout(10):
        while True:
            row = await store.fetch_one(
                "SELECT COUNT(*) AS n FROM audit_records WHERE instance = $1", instance
            )
            if row is not None and row["n"] >= count:
                return
            await asyncio.sleep(0.01)


async def test_a_full_batch_does_not_wait_for_the_delay(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """max_batch records queued end the linger at once: the store sees them without a flush."""
    config = _lingering(audit_config)
    async with AuditLog(store, config, "gw-f", clock=clock) as log:
        await append_some(log, clock, 3)
        await _until_stored(store, "gw-f", 3)


async def test_a_backlog_is_written_without_lingering(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """Full batches still queued behind the one being written do not wait for the delay."""
    config = _lingering(audit_config)
    async with AuditLog(store, config, "gw-k", clock=clock) as log:
        await append_some(log, clock, 7)  # two full batches and one record
        await _until_stored(store, "gw-k", 6)


async def test_stop_does_not_wait_for_the_delay(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """stop() writes a backlog and a last partial batch at once, whatever the delay."""
    config = _lingering(audit_config)
    log = AuditLog(store, config, "gw-s", clock=clock)
    await log.start()
    await append_some(log, clock, 7)
    async with asyncio.timeout(10):
        await log.stop()
    rows = await store.fetch_all(
        "SELECT seq FROM audit_records WHERE instance = 'gw-s' AND kind = 'inbound'"
    )
    assert len(rows) == 7


async def test_restart_continues_the_chain(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """A restarted instance appends after its stored head (a clean stop: no resume record),
    and the whole chain verifies with no interruption."""
    for _ in range(2):
        async with AuditLog(store, audit_config, "gw-r", clock=clock) as log:
            await append_some(log, clock, 3)
    rows = await store.fetch_all("SELECT seq, operation FROM audit_records ORDER BY seq")
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r["operation"] for r in rows if r["operation"].startswith("audit.")] == [
        "audit.stop",
        "audit.stop",
    ]
    report = await verify(log)
    assert report.ok, report.problems
    assert report.checkpoints_checked == 2
    assert report.interruptions == []


async def test_instances_keep_separate_chains(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """Two instances in one table keep one chain each; tampering names the right one."""
    async with (
        AuditLog(store, audit_config, "gw-a", clock=clock) as a,
        AuditLog(store, audit_config, "gw-b", clock=clock) as b,
    ):
        await asyncio.gather(append_some(a, clock, 5), append_some(b, clock, 5))
    report = await verify(a)
    assert report.ok
    assert report.instances == ["gw-a", "gw-b"]
    async with store.transaction() as tx:
        await tx.execute("DELETE FROM audit_records WHERE instance = 'gw-b' AND seq = 2")
    report = await verify(a)
    assert [(p.instance, p.seq, p.what) for p in report.problems] == [("gw-b", 2, "removed")]


async def test_periodic_checkpoints_use_the_injected_sleep(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """The checkpoint ticker signs the head after each interval of the injected sleep."""
    ticks: asyncio.Queue[float] = asyncio.Queue()
    release = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        await ticks.put(seconds)
        await release.wait()
        release.clear()

    log = AuditLog(store, audit_config, "gw-t", clock=clock, sleep=fake_sleep)
    await log.start()
    assert await asyncio.wait_for(ticks.get(), 5) == audit_config.checkpoint_interval_seconds
    await append_some(log, clock, 2)
    release.set()
    await asyncio.wait_for(ticks.get(), 5)
    cps = await store.fetch_all("SELECT seq FROM audit_checkpoints WHERE instance = 'gw-t'")
    assert [c["seq"] for c in cps] == [2]
    await log.stop()


async def test_subject_digest_is_keyed_hmac(store: Store, tmp_path: Path, clock: FakeClock) -> None:
    """Personal ids are stored as HMAC-SHA256 under the digest key and masked, never clear."""
    key_file = tmp_path / "k.pem"
    from cryptography.hazmat.primitives import serialization

    key_file.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = AuditConfig(signing_key_file=key_file, digest_key="k" * 32)  # type: ignore[arg-type]
    async with AuditLog(store, config, "gw-d", clock=clock) as log:
        await append_some(log, clock, 1)
    row = await store.fetch_one("SELECT * FROM audit_records WHERE kind = 'inbound'")
    assert row is not None
    expected = hmac.new(b"k" * 32, CITIZEN_ID.encode(), hashlib.sha256).hexdigest()
    assert json.loads(row["subject_digests"]) == [expected]
    assert json.loads(row["masked_ids"]) == ["092*******34"]
    assert CITIZEN_ID not in json.dumps(row, ensure_ascii=False)


async def test_append_refused_when_not_running(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """Appending to a log that was never started fails loudly instead of dropping records."""
    log = AuditLog(store, audit_config, "gw-x", clock=clock)
    with pytest.raises(AuditLogClosed):
        await log.append(kind="inbound", operation="ops.x", outcome="ok")


async def test_export_verifies_on_its_own(audit_log: AuditLog, clock: FakeClock) -> None:
    """An export carries the public key and verifies alone; an edited line is named."""
    start = clock()
    await append_some(audit_log, clock, 5)
    await audit_log.checkpoint()
    await append_some(audit_log, clock, 2)
    out = io.StringIO()
    count = await export_audit_log(audit_log.store, audit_log.keys, out, since=start)
    assert count == 7
    lines = out.getvalue().splitlines()
    header = json.loads(lines[0])
    assert "BEGIN PUBLIC KEY" in header["public_key_pem"]
    assert [json.loads(x)["type"] for x in lines[1:]] == ["record"] * 7 + ["checkpoint"]
    assert verify_export(lines).ok
    tampered = [line.replace('"req-2"', '"req-X"') for line in lines]
    report = verify_export(tampered, audit_log.keys.verification_keys)
    assert [(p.seq, p.what) for p in report.problems] == [(3, "changed")]


async def test_operator_commands_are_audited_without_personal_data(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    """An operator record masks ids and names in its arguments and drops secrets."""
    await audit_operator(
        audit_log,
        "payments.refund",
        {"id_number": CITIZEN_ID, "payer_name": CITIZEN_NAME, "secret": "s3cr3t", "note": "ok"},
        operator="ops-alice",
    )
    row = await audit_log.store.fetch_one("SELECT * FROM audit_records")
    assert row is not None
    text = json.dumps(row, ensure_ascii=False)
    assert CITIZEN_ID not in text
    assert CITIZEN_NAME not in text
    assert "s3cr3t" not in text
    assert json.loads(row["detail"])["args"]["note"] == "ok"


async def test_verify_command_exit_status(
    store_config: StoreConfig, store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """``audit verify`` exits 0 on an intact log and 1 naming the record otherwise."""
    async with AuditLog(store, audit_config, "gw-1", clock=clock) as log:
        await append_some(log, clock, 4)
    out = io.StringIO()
    assert await audit_verify_command(store_config, audit_config, None, out=out, clock=clock) == 0
    assert await audit_verify_command(store_config, audit_config, "1h", out=out, clock=clock) == 0
    async with store.transaction() as tx:
        await tx.execute("UPDATE audit_records SET outcome = 'error' WHERE seq = 2")
    out = io.StringIO()
    assert await audit_verify_command(store_config, audit_config, None, out=out, clock=clock) == 1
    assert "gw-1 seq 2: changed" in out.getvalue()


def test_parse_since_accepts_durations_and_iso_times(clock: FakeClock) -> None:
    """``--since`` takes 24h-style durations and ISO 8601 times."""
    now = clock()
    assert (now - parse_since("24h", now)).total_seconds() == 86_400
    assert parse_since("2026-03-01T00:00:00+00:00", now).hour == 0
    with pytest.raises(ValueError, match="duration"):
        parse_since("yesterday", now)


async def test_time_queued_behind_a_commit_counts_toward_the_delay(
    store: Store, audit_config: AuditConfig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record appended while a commit runs is committed right after it once
    max_delay_seconds have passed since it was appended: the delay does not start again
    when the writer gets to it (which broke "at most the delay plus one commit")."""
    now = [0.0]
    config = audit_config.model_copy(update={"durability": "buffered", "max_delay_seconds": 30})
    log = AuditLog(store, config, "gw-q", clock=clock, monotonic=lambda: now[0])
    await log.start()
    entered, release = asyncio.Event(), asyncio.Event()
    open_transaction = store.transaction

    @contextlib.asynccontextmanager
    async def slow_transaction() -> AsyncIterator[Any]:
        entered.set()
        await release.wait()
        async with open_transaction() as tx:
            yield tx

    monkeypatch.setattr(store, "transaction", slow_transaction)
    await append_some(log, clock, 1)
    flushing = asyncio.create_task(log.flush())  # cuts the first record's 30 s short
    await asyncio.wait_for(entered.wait(), 10)  # its commit is running
    await append_some(log, clock, 1)  # appended at monotonic 0, while the commit runs
    now[0] = 31.0  # ... which takes longer than the delay
    release.set()
    await asyncio.wait_for(flushing, 10)
    await _until_stored(store, "gw-q", 2)  # no second 30 s wait for the second record
    await log.stop()


async def test_checkpoint_every_n_records_in_the_batch_transaction(
    store: Store, audit_config: AuditConfig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reaching checkpoint_records uncovered records signs a checkpoint in the same
    transaction as the batch that reached it: no extra commit on the hot path."""
    config = audit_config.model_copy(
        update={"durability": "buffered", "max_delay_seconds": 30, "checkpoint_records": 5}
    )
    log = AuditLog(store, config, "gw-n", clock=clock)
    await log.start()
    transactions = 0
    open_transaction = store.transaction

    def counting_transaction() -> Any:
        nonlocal transactions
        transactions += 1
        return open_transaction()

    monkeypatch.setattr(store, "transaction", counting_transaction)
    await append_some(log, clock, 7)
    await asyncio.wait_for(log.flush(), 10)
    assert transactions == 1
    cps = await store.fetch_all("SELECT seq FROM audit_checkpoints WHERE instance = 'gw-n'")
    assert [c["seq"] for c in cps] == [7]
    await append_some(log, clock, 4)  # 4 uncovered: no checkpoint yet
    await asyncio.wait_for(log.flush(), 10)
    cps = await store.fetch_all("SELECT seq FROM audit_checkpoints WHERE instance = 'gw-n'")
    assert [c["seq"] for c in cps] == [7]
    await append_some(log, clock, 1)
    await asyncio.wait_for(log.flush(), 10)
    cps = await store.fetch_all(
        "SELECT seq FROM audit_checkpoints WHERE instance = 'gw-n' ORDER BY seq"
    )
    assert [c["seq"] for c in cps] == [7, 12]
    assert transactions == 3
    await log.stop()


async def crash(log: AuditLog) -> None:
    """What a SIGKILL leaves: the writer and the ticker gone, no stop record, no checkpoint."""
    for task in (log.writer._writer, log.ticker._task):
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_start_after_a_crash_records_where_the_chain_was_cut(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """After an unclean end the next start appends a checkpointed audit.resume record naming
    the head it found and the newest checkpoint; verify reports it, and the chain is intact."""
    config = audit_config.model_copy(update={"checkpoint_records": 5})
    log = AuditLog(store, config, "gw-c", clock=clock)
    await log.start()
    await append_some(log, clock, 7)  # checkpointed at 5; 6 and 7 uncovered
    await crash(log)
    async with AuditLog(store, config, "gw-c", clock=clock) as again:
        rows = await store.fetch_all(
            "SELECT seq, kind, operation, detail FROM audit_records WHERE instance = 'gw-c'"
            " AND seq = 8"
        )
        assert [(r["kind"], r["operation"]) for r in rows] == [("lifecycle", "audit.resume")]
        detail = json.loads(rows[0]["detail"])
        assert detail["previous_head_seq"] == 7
        assert detail["checkpointed_seq"] == 5
        assert detail["unprotected_records"] == 2
        cps = await store.fetch_all(
            "SELECT seq FROM audit_checkpoints WHERE instance = 'gw-c' ORDER BY seq"
        )
        assert [c["seq"] for c in cps] == [5, 8]
        await append_some(again, clock, 1)
    report = await verify(again)
    assert report.ok, report.problems
    assert [(i.head_seq, i.checkpointed_seq, i.resumed_seq) for i in report.interruptions] == [
        (7, 5, 8)
    ]


async def test_verify_command_reports_crash_points_without_failing(
    store_config: StoreConfig, store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """``audit verify`` prints each interruption as an UNCLEAN line and still exits 0."""
    log = AuditLog(store, audit_config, "gw-v", clock=clock)
    await log.start()
    await append_some(log, clock, 3)
    await crash(log)
    out = io.StringIO()
    assert await audit_verify_command(store_config, audit_config, None, out=out, clock=clock) == 0
    assert "UNCLEAN gw-v: ends at seq 3 without a stop record" in out.getvalue()
    assert "seq 1..3 (3 records) not covered by a checkpoint" in out.getvalue()
    async with AuditLog(store, audit_config, "gw-v", clock=clock):
        pass
    out = io.StringIO()
    assert await audit_verify_command(store_config, audit_config, None, out=out, clock=clock) == 0
    assert "UNCLEAN gw-v: resumed at seq 4 after an unclean stop at seq 3" in out.getvalue()
    assert "ends at" not in out.getvalue()


async def test_a_stop_record_that_cannot_be_written_leaves_an_unclean_end(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> None:
    """When the stop record's seq was taken behind the writer's back (another process with
    the same instance_id), stop() logs it instead of failing the shutdown, and the next
    start records the unclean end."""
    log = AuditLog(store, audit_config, "gw-u", clock=clock)
    await log.start()
    await append_some(log, clock, 2)
    async with log.store.transaction() as tx:  # another writer appends seq 3
        await tx.execute(
            "INSERT INTO audit_records SELECT instance, 3, time_us, kind, client_id, operation,"
            " outcome, status, request_id, request_digest, response_digest, subject_digests,"
            " masked_ids, detail, prev_digest, digest FROM audit_records"
            " WHERE instance = 'gw-u' AND seq = 2"
        )
    with capture_logs() as logs:
        await log.stop()
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["audit.stop_not_recorded"]
    async with AuditLog(store, audit_config, "gw-u", clock=clock):
        row = await store.fetch_one(
            "SELECT operation FROM audit_records WHERE instance = 'gw-u' AND seq = 4"
        )
    assert row is not None
    assert row["operation"] == "audit.resume"


async def test_a_resume_record_that_cannot_be_written_does_not_stop_the_start(
    store: Store, audit_config: AuditConfig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway starts even when the resume record's commit fails; the failure is an
    error log line, and appending works once the store does."""
    log = AuditLog(store, audit_config, "gw-w", clock=clock)
    await log.start()
    await append_some(log, clock, 2)
    await crash(log)
    open_transaction = store.transaction
    failures = [RuntimeError("the store went away")]

    def failing_once() -> Any:
        if failures:
            raise failures.pop()
        return open_transaction()

    monkeypatch.setattr(store, "transaction", failing_once)
    again = AuditLog(store, audit_config, "gw-w", clock=clock)
    with capture_logs() as logs:
        await again.start()
    assert again.running
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["audit.resume_not_recorded"]
    await append_some(again, clock, 1)
    await again.stop()
    rows = await store.fetch_all("SELECT seq FROM audit_records WHERE instance = 'gw-w'")
    assert len(rows) == 4  # 2, the one after the failed start, the stop record
