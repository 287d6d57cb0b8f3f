"""The preflight: what ``lienthong run`` needs, checked all at once without starting it.

``lienthong check-config`` prints :func:`preflight`'s report, and ``lienthong run``
runs the same preflight first and refuses (exit 2) on any problem, so an operator sees
every problem of a configuration in one run, one line each, never a traceback.

What is checked, on the configuration as ``run`` would see it (file, then the
``LIENTHONG_*`` environment, then systemd credentials):

- the configuration validates (every bad key, not only the first);
- every file it names that ``run`` will open exists, is a regular file and is readable
  by this process (the effective user); a secret (private keys and every other
  ``*_file``) is not readable by every user (mode ``o+r``) and not empty;
- every certificate parses as PEM, is valid now (neither expired nor not yet valid);
  every private key parses and matches the certificate beside it; the gateway's own
  certificate (``tls.cert_file``) chains to the city CA (``tls.client_ca_file``), the CA
  that issues the certificates of both sides in this deployment; the audit signing key
  is Ed25519;
- every URL is well-formed (``http``/``https``, a host, a valid port);
- in production, :func:`gateway.config.production_problems` (no dev material).

Files the dev PKI will generate at start-up (``tls.generate_dev_pki``) may be missing.
Not checked: whether the store, the national systems or the listening ports can be
reached (a preflight that probes the network would pass or fail with the weather).

Each problem names its config key, the file when there is one, and the environment
variable the value came from when it was overridden (``LIENTHONG_TLS__KEY_FILE``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel, SecretStr

from adapters.config import secret_files_unread
from gateway.config import (
    CONFIG_ENV,
    ConfigError,
    Settings,
    config_path,
    load_settings,
    production_problems,
)

ENV_PREFIX = "LIENTHONG_"
_CERT_FIELDS = frozenset({"cert_file"})
_CA_FIELDS = frozenset({"ca_file", "client_ca_file"})
_KEY_FIELDS = frozenset({"key_file", "signing_key_file"})
_URL_FIELD = re.compile(r"(^|_)(url|endpoint)$")
_URL_LIST_FIELD = re.compile(r"_url_prefixes$")
_STORE_SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class Problem:
    """One thing that would stop ``run`` (or that production refuses)."""

    key: str
    message: str
    file: Path | None = None
    #: The ``LIENTHONG_*`` variable the value came from, when the environment set it.
    env: str | None = None

    def __str__(self) -> str:
        line = f"{self.key}: " + (f"{self.file}: " if self.file is not None else "")
        line += self.message
        return line + (f" (set by {self.env})" if self.env else "")


@dataclass
class PreflightReport:
    """The config file read and every problem found (none: ``run`` would start)."""

    path: Path
    settings: Settings | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report: a heading naming the file, then one line per problem."""
        count = len(self.problems)
        head = f"{self.path}: {count} problem{'s' if count != 1 else ''}"
        return [f"{head}:", *(f"  {p}" for p in self.problems)]


def env_variable(key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The ``LIENTHONG_*`` variable that set ``key`` (dotted, ``[i]`` for items), if any.

    The longest prefix wins: ``clients[0].webhook.url`` set by ``LIENTHONG_CLIENTS``
    (a JSON list) is reported as such. Names compare case-insensitively, as
    pydantic-settings reads them.
    """
    env = os.environ if environ is None else environ
    names = {name.upper(): name for name in env}
    parts = [re.sub(r"\[[^\]]*\]", "", part) for part in key.split(".")]
    parts = [p for p in parts if p and not p.isdigit()]
    for end in range(len(parts), 0, -1):
        candidate = ENV_PREFIX + "__".join(parts[:end]).upper()
        if candidate in names:
            return names[candidate]
    return None


def _split_problem(text: str) -> tuple[str, str]:
    key, sep, message = text.partition(": ")
    return (key, message) if sep else ("(configuration)", text)


def preflight(path: Path | None = None, *, now: dt.datetime | None = None) -> PreflightReport:
    """Check the configuration ``run`` would use (see :func:`gateway.config.config_path`)."""
    path = config_path(path)
    report = PreflightReport(path=path, settings=None)
    try:
        with secret_files_unread():  # each secret file is checked below, all of them
            settings = load_settings(path)
    except ConfigError as exc:
        if exc.errors in (["file not found"],) or not path.is_file():
            env = CONFIG_ENV if os.environ.get(CONFIG_ENV) == str(path) else None
            report.problems.append(Problem("config", "; ".join(exc.errors), path, env))
            return report
        for text in exc.errors:
            key, message = _split_problem(text)
            report.problems.append(Problem(key, message, env=env_variable(key)))
        return report
    report.settings = settings
    checker = _Checker(settings, now or dt.datetime.now(dt.UTC))
    checker.run()
    report.problems += checker.problems
    for text in production_problems(settings):
        key, message = _split_problem(text)
        report.problems.append(Problem(key, message, env=env_variable(key)))
    return report


@dataclass(frozen=True)
class _Ref:
    """A value the walk found: its dotted key, field name, value and the object holding it."""

    key: str
    name: str
    value: Any
    owner: Any


def _fields(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield name, getattr(value, name)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield f.name, getattr(value, f.name)


def _walk(value: Any, key: str, pruned: frozenset[str]) -> Iterator[_Ref]:
    for name, child in _fields(value):
        child_key = f"{key}.{name}" if key else name
        if child_key in pruned or child is None:
            continue
        yield _Ref(child_key, name, child, value)
        if isinstance(child, list | tuple):
            for i, item in enumerate(child):
                item_key = f"{child_key}[{i}]"
                yield _Ref(item_key, name, item, value)
                yield from _walk(item, item_key, pruned)
        elif isinstance(child, dict):
            for k, item in child.items():
                yield from _walk(item, f"{child_key}.{k}", pruned)
        else:
            yield from _walk(child, child_key, pruned)


class _Checker:
    """Collects the problems of one validated configuration."""

    def __init__(self, settings: Settings, now: dt.datetime) -> None:
        self.settings = settings
        self.now = now
        self.problems: list[Problem] = []
        self._certs: dict[str, list[x509.Certificate]] = {}
        self._keys: dict[str, Any] = {}

    def problem(self, key: str, message: str, file: Path | None = None) -> None:
        self.problems.append(Problem(key, message, file, env_variable(key)))

    # -- what run uses ------------------------------------------------------------
    def _pruned(self) -> frozenset[str]:
        s = self.settings
        pruned = {"upstreams.population.adapter.wsdl_path"}  # shipped with the package
        if not s.server.tls_port:
            pruned.add("tls")
        if not s.payments.enabled:
            pruned.add("payments")
        if not s.audit.enabled and not s.payments.enabled:
            pruned.add("audit")
        return frozenset(pruned)

    def _generated_by_dev_pki(self) -> frozenset[Path]:
        tls = self.settings.tls
        if not tls.generate_dev_pki:
            return frozenset()
        d = tls.dev_pki_dir
        names = ["ca.pem", "ca.key", "server.pem", "server.key", "audit-signing.key"]
        for client in self.settings.clients:
            names += [f"{client.id}.pem", f"{client.id}.key"]
        return frozenset((d / n).resolve() for n in names)

    def run(self) -> None:
        generated = self._generated_by_dev_pki()
        pairs: list[tuple[str, str]] = []
        for ref in _walk(self.settings, "", self._pruned()):
            if isinstance(ref.value, Path) and ref.name.endswith("_file"):
                if ref.value.resolve() in generated and not ref.value.exists():
                    continue  # the dev PKI writes it at start-up
                if generated and ref.key.startswith("tls.") and not ref.value.exists():
                    self.problem(
                        ref.key,
                        "file not found (the dev PKI is generated in"
                        f" {self.settings.tls.dev_pki_dir}, not there)",
                        ref.value,
                    )
                    continue
                self._check_file(ref)
                if ref.name == "key_file" and getattr(ref.owner, "cert_file", None) is not None:
                    pairs.append((ref.key[: -len("key_file")] + "cert_file", ref.key))
            elif isinstance(ref.value, Path) and ref.name == "previous_public_key_files":
                self._check_public_key(ref.key, ref.value)
            elif ref.key.startswith("security.certificates[") and ref.name == "path":
                self._check_watched(ref)
            elif ref.key == "store.url":
                continue  # not an HTTP URL: _check_store_url
            elif isinstance(ref.value, str) and (
                _URL_FIELD.search(ref.name) or _URL_LIST_FIELD.search(ref.name)
            ):
                self._check_url(ref.key, ref.value)
        self._check_store_url()
        for cert_key, key_key in pairs:
            self._check_pair(cert_key, key_key)
        self._check_chain("tls.cert_file", "tls.client_ca_file")

    # -- files ---------------------------------------------------------------------
    def _read(self, key: str, path: Path, *, secret: bool) -> bytes | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            self.problem(key, "file not found", path)
            return None
        except OSError as exc:
            self.problem(key, f"cannot stat: {exc.strerror or exc}", path)
            return None
        if not stat.S_ISREG(st.st_mode):
            self.problem(key, "not a regular file", path)
            return None
        try:
            data = path.read_bytes()
        except PermissionError:
            self.problem(
                key,
                f"not readable by this user (uid {os.geteuid()}; file mode"
                f" {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid})",
                path,
            )
            return None
        except OSError as exc:
            self.problem(key, f"cannot read: {exc.strerror or exc}", path)
            return None
        if secret and st.st_mode & stat.S_IROTH:
            self.problem(
                key,
                f"a secret readable by every user (mode {stat.S_IMODE(st.st_mode):04o});"
                " chmod o-r, e.g. 0600",
                path,
            )
        if secret and not data.strip():
            self.problem(key, "empty", path)
        return data

    def _check_file(self, ref: _Ref) -> None:
        path: Path = ref.value
        if ref.name in _CERT_FIELDS or ref.name in _CA_FIELDS:
            data = self._read(ref.key, path, secret=False)
            if data is not None:
                self._check_certs(ref.key, path, data, ca=ref.name in _CA_FIELDS)
            return
        data = self._read(ref.key, path, secret=True)
        if data is None or ref.name not in _KEY_FIELDS:
            return
        password = getattr(ref.owner, "key_password", None)
        secret = password.get_secret_value().encode() if isinstance(password, SecretStr) else None
        try:
            key = serialization.load_pem_private_key(data, password=secret)
        except TypeError:
            self.problem(ref.key, "the private key is encrypted and no key_password is set", path)
            return
        except ValueError:
            self.problem(ref.key, "not a PEM private key (or a wrong key_password)", path)
            return
        if ref.name == "signing_key_file" and not isinstance(key, ed25519.Ed25519PrivateKey):
            self.problem(ref.key, "not an Ed25519 private key", path)
        self._keys[ref.key] = key

    def _check_public_key(self, key: str, path: Path) -> None:
        """A previous audit signing key: an Ed25519 public key in PEM (not a secret)."""
        data = self._read(key, path, secret=False)
        if data is None:
            return
        try:
            public = serialization.load_pem_public_key(data)
        except ValueError:
            self.problem(key, "not a PEM public key", path)
            return
        if not isinstance(public, ed25519.Ed25519PublicKey):
            self.problem(key, "not an Ed25519 public key", path)

    def _check_certs(self, key: str, path: Path, data: bytes, *, ca: bool) -> None:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            self.problem(key, "not a PEM certificate", path)
            return
        for cert in certs if ca else certs[:1]:
            subject = cert.subject.rfc4514_string() or "(empty subject)"
            if cert.not_valid_after_utc <= self.now:
                self.problem(
                    key,
                    f"certificate {subject} expired on"
                    f" {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
                    path,
                )
            elif cert.not_valid_before_utc > self.now:
                self.problem(
                    key,
                    f"certificate {subject} is not valid before"
                    f" {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
                    path,
                )
        self._certs[key] = certs

    def _check_watched(self, ref: _Ref) -> None:
        data = self._read(ref.key, ref.value, secret=False)
        if data is not None:
            role = getattr(ref.owner, "role", None)
            self._check_certs(ref.key, ref.value, data, ca=role == "ca")

    def _check_pair(self, cert_key: str, key_key: str) -> None:
        certs, key = self._certs.get(cert_key), self._keys.get(key_key)
        if not certs or key is None:
            return  # already reported
        der = serialization.Encoding.DER
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        ours = certs[0].public_key().public_bytes(der, spki)
        if ours != key.public_key().public_bytes(der, spki):
            self.problem(
                key_key, f"does not match the certificate in {cert_key}", self._path(key_key)
            )

    def _path(self, key: str) -> Path | None:
        value: Any = self.settings
        for part in key.split("."):
            value = getattr(value, part, None)
        return value if isinstance(value, Path) else None

    def _check_chain(self, cert_key: str, ca_key: str) -> None:
        chain, cas = self._certs.get(cert_key), self._certs.get(ca_key)
        if not chain or not cas:
            return
        if not _chains_to(chain, cas):
            self.problem(
                cert_key,
                f"certificate {chain[0].subject.rfc4514_string()} is not issued by the CA"
                f" in {ca_key} ({self._path(ca_key)})",
                self._path(cert_key),
            )

    # -- URLs ----------------------------------------------------------------------
    def _check_url(self, key: str, url: str) -> None:
        reason = url_problem(url)
        if reason:
            self.problem(key, f"{reason}: {url!r}")

    def _check_store_url(self) -> None:
        url = self.settings.store.url
        scheme = urlsplit(url).scheme
        if scheme not in _STORE_SCHEMES:
            self.problem("store.url", "not a sqlite:/// or postgresql:// URL")
        elif scheme != "sqlite" and url_problem(url, schemes=_STORE_SCHEMES):
            self.problem("store.url", url_problem(url, schemes=_STORE_SCHEMES) or "")


def url_problem(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why ``url`` is not a well-formed absolute URL with one of ``schemes`` (None: it is)."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return "not a URL (empty or contains spaces)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a well-formed URL ({exc})"
    if parts.scheme not in schemes:
        return f"the scheme must be {' or '.join(schemes)}"
    if not parts.hostname:
        return "no host"
    if port == 0:
        return "port 0"
    return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chains_to(chain: list[x509.Certificate], cas: list[x509.Certificate]) -> bool:
    """Whether ``chain[0]`` leads, through the rest of ``chain``, to one of ``cas``."""
    current, rest = chain[0], list(chain[1:])
    while True:
        if any(_issued_by(current, ca) for ca in cas):
            return True
        issuer = next((c for c in rest if _issued_by(current, c)), None)
        if issuer is None:
            return False
        rest.remove(issuer)
        current = issuer
