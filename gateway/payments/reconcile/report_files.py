"""The report files: a CSV line per discrepancy (streamed) and a JSON summary with capped lists.

Both files appear under their final names only when the run completes (written
as ``*.tmp`` and renamed), so a crashed run never leaves a half report that looks whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path
from typing import IO

from gateway.payments.reconcile.model import (
    CSV_COLUMNS,
    Discrepancy,
    DiscrepancyKind,
    ReconcileReport,
)

#: Discrepancies of each kind listed in the JSON file (the CSV has them all).
DEFAULT_SAMPLE_CAP = 1_000


def report_stem(provider: str, day: dt.date) -> str:
    """``reconcile-<provider>-<YYYY-MM-DD>``."""
    return f"reconcile-{provider}-{day.isoformat()}"


class ReportFiles:
    """Writes one run's CSV as discrepancies come, and its JSON at the end."""

    def __init__(
        self, out_dir: Path, provider: str, day: dt.date, *, sample_cap: int = DEFAULT_SAMPLE_CAP
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = report_stem(provider, day)
        self.json_path = out_dir / f"{stem}.json"
        self.csv_path = out_dir / f"{stem}.csv"
        self._csv_tmp = out_dir / f"{stem}.csv.tmp"
        self._json_tmp = out_dir / f"{stem}.json.tmp"
        self._sample_cap = sample_cap
        self._csv_file: IO[str] = self._csv_tmp.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(CSV_COLUMNS)

    def add(self, report: ReconcileReport, discrepancy: Discrepancy) -> None:
        """Count it, write its CSV line, keep it as a sample while under the cap."""
        report.counts.add(discrepancy.kind)
        record = discrepancy.as_record()
        self._csv.writerow(["" if record[c] is None else record[c] for c in CSV_COLUMNS])
        samples = report.samples.setdefault(discrepancy.kind, [])
        if len(samples) < self._sample_cap:
            samples.append(discrepancy)

    def finish(self, report: ReconcileReport, *, finished_at: dt.datetime) -> None:
        """Close the CSV, write the JSON, move both to their final names."""
        self._csv_file.close()
        document = {
            "provider": report.provider,
            "day": report.day.isoformat(),
            "finished_at": finished_at.isoformat(),
            "duration_s": round(report.duration_s, 3),
            "fix": report.fix,
            "counts": report.counts.as_dict(),
            "discrepancies": {
                str(kind): {
                    "count": getattr(report.counts, kind.value),
                    "listed": len(report.samples.get(kind, [])),
                    "truncated": getattr(report.counts, kind.value)
                    > len(report.samples.get(kind, [])),
                    "items": [d.as_record() for d in report.samples.get(kind, [])],
                }
                for kind in DiscrepancyKind
            },
            "csv": self.csv_path.name,
        }
        with self._json_tmp.open("w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=1)
        os.replace(self._csv_tmp, self.csv_path)
        os.replace(self._json_tmp, self.json_path)
        report.json_path, report.csv_path = self.json_path, self.csv_path

    def abort(self) -> None:
        """Drop the partial files of a failed run."""
        self._csv_file.close()
        self._csv_tmp.unlink(missing_ok=True)
        self._json_tmp.unlink(missing_ok=True)
