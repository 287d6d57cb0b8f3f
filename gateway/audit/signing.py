"""Checkpoint signatures: Ed25519 over the canonical JSON of a chain head.

A checkpoint says "instance I's chain had record ``seq`` with digest
``head_digest`` at ``time_us``"; the signed bytes are
``canonical_json({"instance", "seq", "head_digest", "time_us"})``. The key id
is the first 16 hex digits of SHA-256 over the raw public key.

A verifier holds an :data:`AuditKeyring`: the public keys it trusts, by key id
(the signing key's own and ``[audit] previous_public_key_files``), so that the
signing key can be rotated in place: each checkpoint is verified under the key
its ``key_id`` names, and one whose key is not in the ring is unverifiable.

:class:`AuditKeys` holds one configuration's keys (the signing key, that keyring and
the subject-digest key), loaded on first use: the writer signs and digests with it,
``audit verify|export`` read with it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.audit.config import AuditConfig
from gateway.audit.record import subject_digest
from gateway.errors import InternalFault
from gateway.jsoncodec import canonical_json


class AuditKeyError(InternalFault):
    """The audit signing key is missing or is not an Ed25519 key."""


#: The public keys a verifier trusts, by key id (:func:`key_id`).
AuditKeyring = Mapping[str, ed25519.Ed25519PublicKey]


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement about one chain's head."""

    instance: str
    seq: int
    head_digest: str
    time_us: int
    key_id: str
    signature: str  # base64

    def signed_content(self) -> bytes:
        """The bytes the signature covers."""
        return checkpoint_content(self.instance, self.seq, self.head_digest, self.time_us)

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "seq": self.seq,
            "head_digest": self.head_digest,
            "time_us": self.time_us,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Checkpoint:
        return cls(
            instance=str(row["instance"]),
            seq=int(row["seq"]),
            head_digest=str(row["head_digest"]),
            time_us=int(row["time_us"]),
            key_id=str(row["key_id"]),
            signature=str(row["signature"]),
        )


def checkpoint_content(instance: str, seq: int, head_digest: str, time_us: int) -> bytes:
    return canonical_json(
        {"instance": instance, "seq": seq, "head_digest": head_digest, "time_us": time_us}
    )


def load_signing_key(path: Path) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 private key in the PKCS#8 PEM file at ``path``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise AuditKeyError(f"cannot load the audit signing key from {path}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise AuditKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(pem: bytes) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from PEM (as written in an export's header)."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise AuditKeyError("not an Ed25519 public key")
    return key


def load_public_key_file(path: Path) -> ed25519.Ed25519PublicKey:
    """The Ed25519 public key in the PEM file at ``path`` (``openssl pkey -pubout`` writes one)."""
    try:
        return load_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError, AuditKeyError) as exc:
        raise AuditKeyError(f"cannot load an Ed25519 public key from {path}") from exc


def keyring(keys: Iterable[ed25519.Ed25519PublicKey]) -> dict[str, ed25519.Ed25519PublicKey]:
    """``keys`` by their key id."""
    return {key_id(key): key for key in keys}


def public_key_pem(key: ed25519.Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: ed25519.Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def subject_digest_key(
    config: AuditConfig, signing_key: Callable[[], ed25519.Ed25519PrivateKey]
) -> bytes:
    """The key of every personal-id digest: ``digest_key``, else ``digest_key_file``,
    else derived from the signing key (``signing_key`` is called only then).

    The one place of that precedence: the audit log and the payments table digest
    personal ids under the same key, so one person's records match across both.
    Raises :class:`AuditKeyError` when the key file cannot be read.
    """
    if config.digest_key is not None:
        return config.digest_key.get_secret_value().encode()
    if config.digest_key_file is not None:
        try:
            return config.digest_key_file.read_bytes().strip()
        except OSError as exc:
            raise AuditKeyError(
                f"cannot read the audit digest key from {config.digest_key_file}"
            ) from exc
    return derive_digest_key(signing_key())


def derive_digest_key(signing_key: ed25519.Ed25519PrivateKey) -> bytes:
    """The subject-digest key derived from the signing key when none is configured."""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"lienthong audit subject digests"
    ).derive(raw)


class AuditKeys:
    """The keys of one ``[audit]`` configuration, each loaded from it on first use."""

    def __init__(
        self, config: AuditConfig, signing_key: ed25519.Ed25519PrivateKey | None = None
    ) -> None:
        self._config = config
        self._signing_key = signing_key
        self._subject_key: bytes | None = None

    @property
    def signing_key(self) -> ed25519.Ed25519PrivateKey:
        """The Ed25519 key that signs checkpoints."""
        if self._signing_key is None:
            self._signing_key = load_signing_key(self._config.signing_key_file)
        return self._signing_key

    @property
    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self.signing_key.public_key()

    @property
    def verification_keys(self) -> AuditKeyring:
        """The signing key's public key and ``previous_public_key_files``, by key id."""
        previous = [load_public_key_file(p) for p in self._config.previous_public_key_files]
        return keyring([self.public_key, *previous])

    @property
    def subject_key(self) -> bytes:
        """The key of the personal-id digests (:func:`subject_digest_key`)."""
        if self._subject_key is None:
            self._subject_key = subject_digest_key(self._config, lambda: self.signing_key)
        return self._subject_key

    def subject_digest(self, id_number: str) -> str:
        """The keyed digest under which ``id_number`` appears in records (for matching)."""
        return subject_digest(self.subject_key, id_number)


def sign_checkpoint(
    key: ed25519.Ed25519PrivateKey, instance: str, seq: int, head_digest: str, time_us: int
) -> Checkpoint:
    signature = key.sign(checkpoint_content(instance, seq, head_digest, time_us))
    return Checkpoint(
        instance=instance,
        seq=seq,
        head_digest=head_digest,
        time_us=time_us,
        key_id=key_id(key.public_key()),
        signature=base64.b64encode(signature).decode(),
    )


def checkpoint_signature_valid(key: ed25519.Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    try:
        key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_content())
    except (InvalidSignature, ValueError):
        return False
    return True
