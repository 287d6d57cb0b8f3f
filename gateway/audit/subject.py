"""A citizen's record of access (Decree 13/2023/ND-CP): ``lienthong audit subject``.

Under Decree 13 a citizen may ask who processed their personal data, when and
why. The audit log can answer without ever holding the personal id in clear:
each record names the people it concerns by a keyed digest
(``subject_digests``, HMAC-SHA256 under the audit digest key, see
:meth:`gateway.audit.signing.AuditKeys.subject_digest`). This module reads the id
(from a file or standard input, never the command line, where it would land
in shell history and in the process list), computes its digest, and finds every
matching record:

* in the store, across every instance's chain (``audit_records`` of all
  instances, operator chains included);
* in every archive file in ``[audit] archive_dir`` (the gzip JSON-lines files
  ``lienthong audit archive`` writes). Each file's SHA-256 is compared with the
  ``archive`` record of the chain that names it: ``verified``, ``digest_differs``
  (changed since it was archived) or ``not_in_chain``; chain ``archive`` records
  whose file is not there are listed as missing, with the sequence numbers and
  instance they held, so the letter says which part of the history it could not
  read.

For each record it gives the time (Vietnam time, UTC+7), the requesting system
(the client id), the operation, the agency, the procedure, the officer (masked),
the purpose, the dossier code and the outcome (from ``detail["context"]``, as
``gateway.audit.middleware`` records it), and it states the period covered:
from the oldest record it could read (store or archive) to the time of the run,
with ``[audit] retention_days`` (records older than that are moved to the
archive, not kept in the store) and the archive files found.

It writes a table on standard output, a printable, self-contained HTML letter
(Vietnamese by default, English with ``lang="en"``; A4 print CSS, no network,
no script) and the same as JSON. The id appears in none of them but masked
(``092*******34``), and in no log line; nor do the file names. Every run is
itself recorded in the operator chain (``<instance_id>/operator``): who asked
(the OS user or ``--operator``), when (the record's time), how many records and
archive files were found; neither the id nor its digest (the digest is matchable
by whoever holds the key: the operator chain does not say whose record was read).
"""

from __future__ import annotations

import asyncio
import getpass
import gzip
import hashlib
import html
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from adapters.aliases import VIETNAM_TZ
from gateway.audit.config import AuditConfig
from gateway.audit.log import AuditLog
from gateway.audit.middleware import audit_operator
from gateway.audit.record import AuditRecord, masked
from gateway.audit.signing import AuditKeys
from gateway.errors import InvalidValue
from gateway.store import Clock, Store, StoreConfig, open_store, utc_now

__all__ = [
    "SubjectInputError",
    "SubjectReport",
    "audit_subject_command",
    "find_subject_records",
    "read_id_number",
    "render_html",
    "render_table",
]

ARCHIVE_GLOB = "audit-*.jsonl.gz"
OPERATOR_COMMAND = "audit subject"


class SubjectInputError(InvalidValue):
    """The id could not be read; the message never contains what was given."""


def read_id_number(source: str, stdin: TextIO | None = None) -> str:
    """The personal id from the file ``source`` (``-``: standard input).

    Refuses anything that is not an existing file or ``-`` (in particular the id
    itself typed on the command line) and content that is not one 12-digit id
    (or a 9-digit CMND number), without repeating either.
    """
    if source == "-":
        text = (stdin or sys.stdin).read()
    else:
        path = Path(source)
        if not path.is_file():
            raise SubjectInputError(
                "--id-number takes a file holding the personal id, or - for standard input;"
                " the id itself is never accepted on the command line"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise SubjectInputError("the --id-number file could not be read as text") from None
    value = "".join(text.split())
    if not (value.isascii() and value.isdigit() and len(value) in (9, 12)):
        raise SubjectInputError(
            "the --id-number input must hold one personal id: 12 digits (CCCD) or 9 (CMND)"
        )
    return value


@dataclass(frozen=True)
class SubjectEntry:
    """One access to the citizen's data, as the letter shows it."""

    time: str  # ISO 8601, Vietnam time
    time_us: int
    instance: str
    source: str  # "store" or the archive file's name
    kind: str
    operation: str
    client_id: str | None
    agency_code: str | None
    procedure_code: str | None
    officer: str | None  # masked
    purpose: str | None
    dossier_code: str | None
    outcome: str
    status: int | None
    verdict: str | None


@dataclass
class ArchiveFile:
    """One archive file read (or named by the chain and missing)."""

    file: str
    status: str  # verified | digest_differs | not_in_chain | missing
    instance: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    records: int = 0
    matched: int = 0


@dataclass
class SubjectReport:
    """Everything the table, the letter and the JSON say."""

    masked_id: str
    generated_at: str
    operator: str
    retention_days: int
    covered_from: str | None
    covered_to: str
    instances: list[str]
    entries: list[SubjectEntry] = field(default_factory=list)
    archives: list[ArchiveFile] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (``subject-access-<time>.json``)."""
        return {
            "subject": {"masked_id": self.masked_id},
            "generated_at": self.generated_at,
            "operator": self.operator,
            "period": {
                "from": self.covered_from,
                "to": self.covered_to,
                "retention_days": self.retention_days,
                "instances": self.instances,
                "archives": [asdict(a) for a in self.archives],
            },
            "count": len(self.entries),
            "records": [
                {k: v for k, v in asdict(e).items() if k != "time_us"} for e in self.entries
            ],
        }


def _vn(time_us: int) -> str:
    moment = datetime.fromtimestamp(time_us / 1_000_000, UTC).astimezone(VIETNAM_TZ)
    return moment.isoformat(timespec="seconds")


def _entry(record: AuditRecord, source: str) -> SubjectEntry:
    detail = record.detail if isinstance(record.detail, Mapping) else {}
    context = detail.get("context")
    context = context if isinstance(context, Mapping) else {}

    def text(key: str) -> str | None:
        value = context.get(key)
        return value if isinstance(value, str) else None

    verdict = detail.get("verdict")
    return SubjectEntry(
        time=_vn(record.time_us),
        time_us=record.time_us,
        instance=record.instance,
        source=source,
        kind=record.kind,
        operation=record.operation,
        client_id=record.client_id,
        agency_code=text("agency_code"),
        procedure_code=text("procedure_code"),
        officer=text("officer_masked"),
        purpose=text("purpose"),
        dossier_code=text("dossier_code"),
        outcome=record.outcome,
        status=record.status,
        verdict=verdict if isinstance(verdict, str) else None,
    )


def _read_archives(archive_dir: Path) -> list[tuple[Path, str, list[AuditRecord]]]:
    """Each archive file: its path, the SHA-256 of its bytes, its records (blocking)."""
    out = []
    paths = sorted(archive_dir.glob(ARCHIVE_GLOB)) if archive_dir.is_dir() else []
    for path in paths:
        raw = path.read_bytes()
        records = []
        for line in gzip.decompress(raw).decode("utf-8").splitlines():
            if line.strip():
                records.append(AuditRecord.from_json(json.loads(line)))
        out.append((path, hashlib.sha256(raw).hexdigest(), records))
    return out


def _write_outputs(out_dir: Path, stamp: str, letter: str, document: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"subject-access-{stamp}.html"
    json_path = out_dir / f"subject-access-{stamp}.json"
    html_path.write_text(letter, encoding="utf-8")
    json_path.write_text(document, encoding="utf-8")
    return [html_path, json_path]


async def find_subject_records(
    store: Store, digest: str, archive_dir: Path
) -> tuple[list[tuple[AuditRecord, str]], list[ArchiveFile], list[str], int | None]:
    """Every record whose ``subject_digests`` holds ``digest``, in the store (all chains)
    and in the archive files; the archive files' status; the instances; the oldest time."""
    found: list[tuple[AuditRecord, str]] = []
    rows = await store.fetch_all(
        "SELECT * FROM audit_records WHERE subject_digests LIKE $1 ORDER BY time_us, seq",
        f'%"{digest}"%',
    )
    for row in rows:
        record = AuditRecord.from_row(row)
        if digest in record.subject_digests:
            found.append((record, "store"))
    spans = await store.fetch_all(
        "SELECT instance, MIN(time_us) AS first FROM audit_records GROUP BY instance"
    )
    instances = sorted(str(r["instance"]) for r in spans)
    oldest = min((int(r["first"]) for r in spans), default=None)
    files = await asyncio.to_thread(_read_archives, archive_dir)
    # The chain names each file it archived in an ``archive`` record; a later archive may
    # have moved that record itself into a file, so both places are read.
    named: dict[str, dict[str, Any]] = {}
    archive_records = [
        AuditRecord.from_row(row)
        for row in await store.fetch_all("SELECT * FROM audit_records WHERE kind = 'archive'")
    ]
    archive_records += [r for _, _, records in files for r in records if r.kind == "archive"]
    for record in archive_records:
        if isinstance(record.detail.get("file"), str):
            named[record.detail["file"]] = {**record.detail, "instance": record.instance}
    archives: list[ArchiveFile] = []
    seen: set[str] = set()
    for path, sha256, records in files:
        chain = named.get(path.name)
        status = (
            "not_in_chain"
            if chain is None
            else "verified"
            if chain.get("sha256") == sha256
            else "digest_differs"
        )
        entry = ArchiveFile(path.name, status, records=len(records))
        if records:
            entry.instance = records[0].instance
            entry.first_seq, entry.last_seq = records[0].seq, records[-1].seq
            first = min(r.time_us for r in records)
            oldest = first if oldest is None else min(oldest, first)
        for record in records:
            if digest in record.subject_digests:
                entry.matched += 1
                found.append((record, path.name))
        archives.append(entry)
        seen.add(path.name)
    for name, detail in sorted(named.items()):
        if name not in seen:
            archives.append(
                ArchiveFile(
                    name,
                    "missing",
                    instance=detail.get("instance"),
                    first_seq=detail.get("first_seq"),
                    last_seq=detail.get("last_seq"),
                    records=int(detail.get("count") or 0),
                )
            )
    found.sort(key=lambda pair: (pair[0].time_us, pair[0].instance, pair[0].seq))
    return found, archives, instances, oldest


# --- words ---------------------------------------------------------------------------------

_OPERATIONS = {
    "vi": {
        "citizens.verify": "Xác thực thông tin công dân",
        "citizens.lookup": "Tra cứu thông tin công dân",
        "payments.create": "Tạo khoản thanh toán phí, lệ phí",
        "payments.read": "Xem khoản thanh toán",
        "payments.cancel": "Hủy khoản thanh toán",
    },
    "en": {
        "citizens.verify": "Verification of the citizen's identity",
        "citizens.lookup": "Look-up of the citizen's registered data",
        "payments.create": "Creation of a fee payment",
        "payments.read": "Reading of a payment",
        "payments.cancel": "Cancellation of a payment",
    },
}
_OUTCOMES = {
    "vi": {"ok": "Thành công", "rejected": "Bị từ chối", "error": "Lỗi hệ thống"},
    "en": {"ok": "Answered", "rejected": "Refused", "error": "System error"},
}
_ARCHIVE_STATUS = {
    "vi": {
        "verified": "đã đọc, khớp với chuỗi nhật ký",
        "digest_differs": "đã đọc, KHÔNG khớp với chuỗi nhật ký",
        "not_in_chain": "đã đọc, không có trong chuỗi nhật ký",
        "missing": "không tìm thấy tệp: giai đoạn này không được đọc",
    },
    "en": {
        "verified": "read, matches the audit chain",
        "digest_differs": "read, does NOT match the audit chain",
        "not_in_chain": "read, not named by the audit chain",
        "missing": "file not found: this part was not read",
    },
}
_TEXT = {
    "vi": {
        "title": "Thông tin về việc xử lý dữ liệu cá nhân của công dân",
        "basis": (
            "Theo Nghị định số 13/2023/NĐ-CP về bảo vệ dữ liệu cá nhân, chủ thể dữ liệu có"
            " quyền được biết về hoạt động xử lý dữ liệu cá nhân của mình. Dưới đây là các"
            " lần hệ thống kết nối, liên thông đã xử lý dữ liệu gắn với số định danh cá nhân"
            " của công dân, theo nhật ký kiểm toán của hệ thống."
        ),
        "subject": "Số định danh cá nhân",
        "period": "Giai đoạn được tra soát",
        "from_to": "từ {start} đến {end} (giờ Việt Nam, UTC+7)",
        "no_period": "không có bản ghi nào trong nhật ký",
        "retention": (
            "Nhật ký được lưu trực tuyến {days} ngày, sau đó được chuyển sang tệp lưu trữ."
        ),
        "archives": "Tệp lưu trữ",
        "no_archives": "không có tệp lưu trữ nào",
        "count": "Số lần xử lý tìm thấy",
        "none": "Không tìm thấy lần xử lý nào trong giai đoạn trên.",
        "cols": (
            "Thời gian",
            "Hệ thống yêu cầu",
            "Hoạt động",
            "Cơ quan",
            "Thủ tục",
            "Cán bộ",
            "Mục đích",
            "Mã hồ sơ",
            "Kết quả",
        ),
        "generated": "Lập lúc {time} bởi {operator}.",
        "sign": "Cán bộ cung cấp thông tin (ký, ghi rõ họ tên)",
        "note": (
            "Số định danh chỉ được hiển thị dưới dạng che một phần; hệ thống không lưu số"
            " định danh ở dạng rõ trong nhật ký."
        ),
    },
    "en": {
        "title": "Information on the processing of the citizen's personal data",
        "basis": (
            "Under Decree 13/2023/ND-CP on personal data protection, a data subject has the"
            " right to know how their personal data is processed. Below are the times the"
            " integration gateway processed data tied to the citizen's personal id, as its"
            " audit log records them."
        ),
        "subject": "Personal id",
        "period": "Period searched",
        "from_to": "from {start} to {end} (Vietnam time, UTC+7)",
        "no_period": "the audit log holds no records",
        "retention": "The log is kept online for {days} days, then moved to archive files.",
        "archives": "Archive files",
        "no_archives": "no archive files",
        "count": "Processing found",
        "none": "No processing was found in this period.",
        "cols": (
            "Time",
            "Requesting system",
            "Operation",
            "Agency",
            "Procedure",
            "Officer",
            "Purpose",
            "Dossier",
            "Outcome",
        ),
        "generated": "Prepared at {time} by {operator}.",
        "sign": "Officer providing this information (signature, full name)",
        "note": (
            "The personal id is shown partly hidden only; the gateway never keeps it in"
            " clear in its audit log."
        ),
    },
}


def _row(entry: SubjectEntry, lang: str) -> tuple[str, ...]:
    operation = _OPERATIONS[lang].get(entry.operation, entry.operation)
    outcome = _OUTCOMES[lang].get(entry.outcome, entry.outcome)
    if entry.verdict:
        outcome = f"{outcome} ({entry.verdict})"
    return (
        entry.time.replace("T", " "),
        entry.client_id or "-",
        operation,
        entry.agency_code or "-",
        entry.procedure_code or "-",
        entry.officer or "-",
        entry.purpose or "-",
        entry.dossier_code or "-",
        outcome,
    )


def _period_text(report: SubjectReport, lang: str) -> str:
    words = _TEXT[lang]
    if report.covered_from is None:
        return str(words["no_period"])
    return str(words["from_to"]).format(
        start=report.covered_from.replace("T", " "), end=report.covered_to.replace("T", " ")
    )


def render_table(report: SubjectReport, lang: str = "vi") -> str:
    """The plain-text table printed on standard output."""
    words = _TEXT[lang]
    cols = tuple(words["cols"])
    rows = [tuple(cell if len(cell) <= 40 else cell[:39] + "…" for cell in _row(e, lang))
            for e in report.entries]  # fmt: skip
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    lines = [
        f"{words['subject']}: {report.masked_id}",
        f"{words['period']}: {_period_text(report, lang)}",
        f"{words['count']}: {len(report.entries)}",
        "",
        "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n"


_CSS = """
@page { size: A4; margin: 18mm 15mm; }
* { box-sizing: border-box; }
body { font-family: "Times New Roman", "DejaVu Serif", serif; font-size: 12pt; color: #000;
       max-width: 210mm; margin: 0 auto; padding: 12mm; line-height: 1.4; }
h1 { font-size: 15pt; text-align: center; text-transform: uppercase; margin: 0 0 6mm; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 1mm 4mm; }
dt { font-weight: bold; }
dd { margin: 0; }
table { width: 100%; border-collapse: collapse; font-size: 9.5pt; margin-top: 4mm; }
th, td { border: 0.5pt solid #000; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
th { background: #eee; }
.sign { margin-top: 14mm; margin-left: 50%; text-align: center; }
.sign .space { height: 22mm; }
.note { font-size: 10pt; font-style: italic; }
@media print { body { padding: 0; } th { background: #eee !important;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def render_html(report: SubjectReport, lang: str = "vi") -> str:
    """The printable letter: one self-contained page (no network, no script)."""
    words = _TEXT[lang]
    e = html.escape
    archive_items = [
        f"<li>{e(a.file)}: {e(_ARCHIVE_STATUS[lang][a.status])}"
        + (f" ({e(a.instance or '')}, seq {a.first_seq}..{a.last_seq})" if a.first_seq else "")
        + "</li>"
        for a in report.archives
    ]
    archives = (
        f"<ul>{''.join(archive_items)}</ul>" if archive_items else e(str(words["no_archives"]))
    )
    head = "".join(f"<th>{e(c)}</th>" for c in words["cols"])
    body_rows = "".join(
        "<tr>" + "".join(f"<td>{e(c)}</td>" for c in _row(entry, lang)) + "</tr>"
        for entry in report.entries
    )
    table = (
        f"<table><thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table>"
        if report.entries
        else f"<p>{e(str(words['none']))}</p>"
    )
    generated = str(words["generated"]).format(
        time=report.generated_at.replace("T", " "), operator=report.operator
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(str(words["title"]))}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{e(str(words["title"]))}</h1>
<p>{e(str(words["basis"]))}</p>
<dl>
<dt>{e(str(words["subject"]))}</dt><dd>{e(report.masked_id)}</dd>
<dt>{e(str(words["period"]))}</dt><dd>{e(_period_text(report, lang))}</dd>
<dt>{e(str(words["archives"]))}</dt><dd>{archives}</dd>
<dt>{e(str(words["count"]))}</dt><dd>{len(report.entries)}</dd>
</dl>
<p>{e(str(words["retention"]).format(days=report.retention_days))}</p>
{table}
<p class="note">{e(str(words["note"]))}</p>
<p>{e(generated)}</p>
<div class="sign"><p>{e(str(words["sign"]))}</p><div class="space"></div></div>
</body>
</html>
"""


async def audit_subject_command(
    store_config: StoreConfig,
    audit_config: AuditConfig,
    instance_id: str,
    id_source: str,
    out_dir: Path,
    *,
    lang: str = "vi",
    operator: str | None = None,
    stdin: TextIO | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    clock: Clock = utc_now,
) -> int:
    """Find the citizen's records, print the table, write the letter and the JSON, and
    record the run in the operator chain. 0 on success, 2 when the id cannot be read."""
    try:
        id_number = read_id_number(id_source, stdin)
    except SubjectInputError as exc:
        print(f"lienthong audit subject: {exc}", file=err)
        return 2
    if lang not in _TEXT:
        print("lienthong audit subject: --lang must be vi or en", file=err)
        return 2
    who = operator or getpass.getuser()
    now = clock()
    store = await open_store(store_config, clock=clock)
    try:
        digest = AuditKeys(audit_config).subject_digest(id_number)
        masked_id = masked(id_number)
        del id_number  # only the digest and the masked form from here on
        found, archives, instances, oldest = await find_subject_records(
            store, digest, audit_config.archive_dir
        )
        report = SubjectReport(
            masked_id=masked_id,
            generated_at=now.astimezone(VIETNAM_TZ).isoformat(timespec="seconds"),
            operator=who,
            retention_days=audit_config.retention_days,
            covered_from=_vn(oldest) if oldest is not None else None,
            covered_to=now.astimezone(VIETNAM_TZ).isoformat(timespec="seconds"),
            instances=instances,
            entries=[_entry(record, source) for record, source in found],
            archives=archives,
        )
        stamp = now.astimezone(VIETNAM_TZ).strftime("%Y%m%d-%H%M%S")
        written = await asyncio.to_thread(
            _write_outputs,
            out_dir,
            stamp,
            render_html(report, lang),
            json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n",
        )
        out.write(render_table(report, lang))
        print("", *written, sep="\n", file=out)
        if audit_config.enabled:
            log = AuditLog(store, audit_config, f"{instance_id}/operator", clock=clock)
            await log.start()
            try:
                await audit_operator(
                    log,
                    OPERATOR_COMMAND,
                    {
                        "records_found": len(report.entries),
                        "archives_read": sum(1 for a in archives if a.status != "missing"),
                        "archives_missing": sum(1 for a in archives if a.status == "missing"),
                        "lang": lang,
                    },
                    operator=who,
                )
            finally:
                await log.stop()
    finally:
        await store.close()
    return 0
