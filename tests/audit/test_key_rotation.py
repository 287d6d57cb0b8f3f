"""Rotating the audit signing key in place: old checkpoints verify under their own key id."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.audit.commands import audit_verify_command
from gateway.audit.config import AuditConfig
from gateway.audit.export import export_audit_log, verify_export
from gateway.audit.log import AuditLog
from gateway.audit.signing import AuditKeys, key_id, load_signing_key
from gateway.store import Store, StoreConfig
from tests.support.clock import FakeClock

from .conftest import append_some


def _new_key(path: Path) -> Path:
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _public_pem(private_key_file: Path, out: Path) -> Path:
    """What ``openssl pkey -in KEY -pubout`` writes: the public half, PEM."""
    out.write_bytes(
        load_signing_key(private_key_file)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return out


Rotation = tuple[AuditConfig, AuditConfig, str]


@pytest.fixture
async def rotation(
    store: Store, audit_config: AuditConfig, clock: FakeClock, tmp_path: Path
) -> Rotation:
    """A chain signed with key 1, then (restarted with key 2) more records.

    Returns key 2's config alone, the same listing key 1's public key, and key 1's id.
    """
    async with AuditLog(store, audit_config, "gw-1", clock=clock) as log:
        await append_some(log, clock, 3)
    old_id = key_id(load_signing_key(audit_config.signing_key_file).public_key())
    rotated = audit_config.model_copy(
        update={"signing_key_file": _new_key(tmp_path / "audit-signing-2.key")}
    )
    async with AuditLog(store, rotated, "gw-1", clock=clock) as log:
        await append_some(log, clock, 3)
    previous = _public_pem(audit_config.signing_key_file, tmp_path / "audit-signing-1.pub")
    with_previous = rotated.model_copy(update={"previous_public_key_files": [previous]})
    return rotated, with_previous, old_id


async def test_a_rotated_key_verifies_with_the_previous_public_key(
    store_config: StoreConfig, store: Store, clock: FakeClock, rotation: Rotation
) -> None:
    """Key 1, then key 2 in place: verify passes given key 1's public key, and so does an export."""
    rotated, config, old_id = rotation
    rows = await store.fetch_all("SELECT DISTINCT key_id FROM audit_checkpoints")
    assert {r["key_id"] for r in rows} == {
        old_id,
        key_id(load_signing_key(rotated.signing_key_file).public_key()),
    }

    out = io.StringIO()
    assert await audit_verify_command(store_config, config, None, out=out, clock=clock) == 0
    assert out.getvalue().startswith("intact: 1 chain(s)"), out.getvalue()

    exported = io.StringIO()
    await export_audit_log(store, AuditKeys(config), exported)
    lines = exported.getvalue().splitlines()
    assert old_id in json.loads(lines[0])["public_keys"]
    assert verify_export(lines).ok


async def test_a_checkpoint_of_an_unknown_key_is_unverifiable_not_tampered(
    store_config: StoreConfig, store: Store, clock: FakeClock, rotation: Rotation
) -> None:
    """Without key 1's public key: one clear UNVERIFIABLE line per old checkpoint, exit 1."""
    rotated, _, old_id = rotation
    out = io.StringIO()
    assert await audit_verify_command(store_config, rotated, None, out=out, clock=clock) == 1
    lines = out.getvalue().splitlines()
    assert not [line for line in lines if line.startswith("TAMPERED")], lines
    unverifiable = [line for line in lines if line.startswith("UNVERIFIABLE")]
    assert unverifiable, lines
    for line in unverifiable:
        assert f"signed by key {old_id}" in line
        assert "[audit] previous_public_key_files" in line
    assert lines[-1].startswith("NOT verified"), lines


async def test_a_changed_checkpoint_of_a_previous_key_is_still_tampering(
    store_config: StoreConfig, store: Store, clock: FakeClock, rotation: Rotation
) -> None:
    """A previous key is trusted for what it signed, not for anything claiming its key id."""
    _, config, old_id = rotation
    async with store.transaction() as tx:
        await tx.execute(
            "UPDATE audit_checkpoints SET time_us = time_us + 1 WHERE key_id = $1", old_id
        )
    out = io.StringIO()
    assert await audit_verify_command(store_config, config, None, out=out, clock=clock) == 1
    assert "checkpoint (signature does not verify)" in out.getvalue()
    assert "UNVERIFIABLE" not in out.getvalue()
