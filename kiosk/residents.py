"""The imported register of residents: enrollment looks a NIK up here to pre-fill the biodata.

Import is idempotent (upsert on the NIK; an unchanged row is not rewritten), validates every
row with the same rules as the enrollment screen, and reports each rejected row with its
line number and reasons instead of stopping at the first.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kiosk import audit, biodata
from kiosk.errors import InvalidInput
from kiosk.store import Store, now

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"line": n, "nik": masked, "reasons": [...]}

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged + len(self.rejected)

    def as_dict(self) -> dict:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": len(self.rejected), "rejected_rows": self.rejected}


def mask_nik(nik: str) -> str:
    """Enough to find the row in the source file, not enough to identify a person in a log."""
    return nik[:6] + "******" + nik[-4:] if len(nik) == 16 else "****"


def _open_csv(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):  # registers exported from spreadsheets come in both
        try:
            return io.StringIO(raw.decode(encoding), newline="")
        except UnicodeDecodeError:
            continue
    raise InvalidInput("bad_encoding", "Berkas bukan teks CSV yang terbaca.", "The file is not readable CSV text.")


def import_csv(store: Store, path: str | Path, *, actor: str = "cli",
               progress: Callable[[int], None] | None = None) -> ImportReport:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput("file_missing", f"Berkas tidak ada: {path}", f"File not found: {path}")
    text = _open_csv(path)
    sample = text.read(4096)
    text.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text, dialect=dialect)
    headers = {biodata.canonical_key(h) for h in (reader.fieldnames or [])}
    missing = [f for f in biodata.FIELDS if f not in headers]
    if missing:
        raise InvalidInput("bad_header", "Kolom berikut tidak ada di berkas: " + ", ".join(missing),
                           "These columns are missing from the file: " + ", ".join(missing), missing=missing)
    report = ImportReport()
    batch: list[dict] = []
    seen: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        data, problems = biodata.normalise(row)
        if not problems and data["nik"] in seen:
            problems = [biodata.Message("duplicate_in_file", "NIK ini muncul dua kali dalam berkas.",
                                        "This NIK appears twice in the file.")]
        if problems:
            report.rejected.append({"line": line_no, "nik": mask_nik(data.get("nik", "")),
                                    "reasons": [{"code": p.code, "message_id": p.id, "message_en": p.en}
                                                for p in problems]})
        else:
            seen.add(data["nik"])
            batch.append(data)
        if len(batch) >= BATCH:
            _write(store, batch, report)
            batch = []
            if progress:
                progress(report.total)
    if batch:
        _write(store, batch, report)
    if progress:
        progress(report.total)
    with store.transaction() as conn:
        audit.record(conn, actor, "residents.import", path.name, **{k: v for k, v in report.as_dict().items()
                                                                    if k != "rejected_rows"})
    return report


def _write(store: Store, rows: list[dict], report: ImportReport) -> None:
    with store.transaction() as conn:
        for row in rows:
            old = conn.execute("SELECT * FROM residents WHERE nik = ?", (row["nik"],)).fetchone()
            if old is None:
                report.inserted += 1
            elif all(old[k] == row[k] for k in biodata.FIELDS):
                report.unchanged += 1
                continue
            else:
                report.updated += 1
            cols = list(biodata.FIELDS) + ["imported_at"]
            conn.execute(f"INSERT OR REPLACE INTO residents({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         [row[k] for k in biodata.FIELDS] + [now()])


def lookup(store: Store, nik: str) -> dict | None:
    row = store.one("SELECT * FROM residents WHERE nik = ?", (nik,))
    return {k: row[k] for k in biodata.FIELDS} if row else None


def count(store: Store) -> int:
    return store.one("SELECT COUNT(*) AS n FROM residents")["n"]
