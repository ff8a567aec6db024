#!/usr/bin/env python3
"""Regenerate kiosk/data/regions.json from the npm package ``idn-area-data``.

Usage::

    tmp=$(mktemp -d) && (cd "$tmp" && npm pack idn-area-data@4.0.1)
    python scripts/generate_regions.py "$tmp/idn-area-data-4.0.1.tgz"

The argument is the package tarball, the unpacked package directory (the one holding
``package.json`` and ``data/``), or ``node_modules/idn-area-data``.

Why this package: its codes follow Kemendagri numbering, which is what a NIK carries
(64.03 = Kabupaten Berau). BPS numbering differs (BPS 6403 is Kutai Kartanegara), so a
table built from BPS data would name the wrong place; the generator refuses such input.
Villages and islands are left out: a NIK stops at the district, and the kiosk must stay small.
Only the standard library is used, so the script runs on the kiosk itself.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import re
import sys
import tarfile
from pathlib import Path

PACKAGE = "idn-area-data"
FILES = ("provinces.csv", "regencies.csv", "districts.csv")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "kiosk" / "data"

LICENCE = "ODbL-1.0"
LICENCE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
HOMEPAGE = "https://github.com/fityannugroho/idn-area-data"
ATTRIBUTION = (
    "Contains information from idn-area-data by Fityan (fityannugroho), "
    f"{HOMEPAGE}, which is made available under the Open Database License (ODbL) v1.0, "
    f"{LICENCE_URL}."
)

# Spot checks that tell Kemendagri numbering from BPS numbering.
EXPECTED = {
    "regencies": {"6403": "berau"},
    "districts": {"640306": "gunung tabur"},
}


class SourceError(Exception):
    pass


def read_source(source: Path) -> tuple[dict, dict[str, bytes]]:
    """Return (package.json, {csv name: bytes}) from a tarball or a directory."""
    if source.is_file():
        with tarfile.open(source) as tar:
            def member(name: str) -> bytes:
                try:
                    f = tar.extractfile(f"package/{name}")
                except KeyError:
                    raise SourceError(f"{source}: no package/{name} in the tarball") from None
                if f is None:
                    raise SourceError(f"{source}: package/{name} is not a file")
                return f.read()

            meta = json.loads(member("package.json"))
            files = {name: member(f"data/{name}") for name in FILES}
    elif source.is_dir():
        root = source.parent if (source / "provinces.csv").exists() else source
        try:
            meta = json.loads((root / "package.json").read_text(encoding="utf-8"))
            files = {name: (root / "data" / name).read_bytes() for name in FILES}
        except FileNotFoundError as exc:
            raise SourceError(f"{source}: not an unpacked {PACKAGE} package ({exc.filename} missing)") from None
    else:
        raise SourceError(f"{source}: no such file or directory")
    if meta.get("name") != PACKAGE:
        raise SourceError(f"{source}: package is {meta.get('name')!r}, expected {PACKAGE!r}")
    return meta, files


def rows(data: bytes, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def build(meta: dict, files: dict[str, bytes], generated: dt.date) -> dict:
    provinces: dict[str, str] = {}
    regencies: dict[str, str] = {}
    districts: dict[str, str] = {}
    # (table, csv, code pattern, parent column, parent table)
    specs = (
        (provinces, "provinces.csv", r"\d\d", None, None),
        (regencies, "regencies.csv", r"\d\d\.\d\d", "province_code", provinces),
        (districts, "districts.csv", r"\d\d\.\d\d\.\d\d", "regency_code", regencies),
    )
    for table, name, pattern, parent_col, parent in specs:
        for n, row in enumerate(rows(files[name], name), start=2):
            code, label = (row.get("code") or "").strip(), (row.get("name") or "").strip()
            if not re.fullmatch(pattern, code) or not label:
                raise SourceError(f"{name}:{n}: unexpected row {row!r}")
            key = code.replace(".", "")
            if key in table:
                raise SourceError(f"{name}:{n}: duplicate code {code}")
            if parent is not None:
                parent_code = (row.get(parent_col) or "").strip()
                if not code.startswith(parent_code + ".") or parent_code.replace(".", "") not in parent:
                    raise SourceError(f"{name}:{n}: {code} has unknown parent {parent_code!r}")
            table[key] = label

    for kind, checks in EXPECTED.items():
        table = regencies if kind == "regencies" else districts
        for key, word in checks.items():
            if word not in table.get(key, "").lower():
                raise SourceError(
                    f"{kind} {key} is {table.get(key)!r}, expected {word!r}: "
                    "not Kemendagri numbering, refusing to write the table")

    return {
        "source": {
            "package": PACKAGE,
            "version": meta.get("version"),
            "homepage": HOMEPAGE,
            "licence": LICENCE,
            "licence_url": LICENCE_URL,
            "attribution": ATTRIBUTION,
            "numbering": "Kemendagri",
            "generated": generated.isoformat(),
            "sha256": {name: hashlib.sha256(files[name]).hexdigest() for name in FILES},
            "counts": {"provinces": len(provinces), "regencies": len(regencies),
                       "districts": len(districts)},
        },
        "provinces": provinces,
        "regencies": regencies,
        "districts": districts,
    }


def source_md(table: dict) -> str:
    s = table["source"]
    c = s["counts"]
    version = s["version"]
    sums = "\n".join(f"- `data/{name}`: `{digest}`" for name, digest in s["sha256"].items())
    return f"""# Region table: source and licence

`regions.json` holds the provinces, regencies (kabupaten / kota) and districts (kecamatan) of
Indonesia in **Kemendagri numbering**, the numbering a NIK carries (64.03 = Kabupaten Berau,
64.03.06 = Gunung Tabur). It is *not* BPS numbering (BPS 6403 is Kutai Kartanegara).

| | |
|---|---|
| source package | `{s['package']}` {version} (npm registry), {s['homepage']} |
| licence of the data | Open Database License (ODbL) v1.0, {s['licence_url']} |
| generated | {s['generated']} by `scripts/generate_regions.py` |
| rows | {c['provinces']} provinces, {c['regencies']} regencies, {c['districts']} districts (villages and islands left out) |

## Attribution

{s['attribution']}

`regions.json` is a Derivative Database of idn-area-data (a subset: codes and names of the
first three levels, keyed by the code without dots). It is made available under the same
Open Database License v1.0; the full licence text ships in the package as `data/LICENSE.md`.
The package's code (not used here) is under the MIT licence.

## Regenerate

From the repository root:

```sh
tmp=$(mktemp -d) && (cd "$tmp" && npm pack {s['package']}@{version})
python scripts/generate_regions.py "$tmp/{s['package']}-{version}.tgz"
```

SHA-256 of the source files used:

{sums}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help=f"{PACKAGE} tarball (.tgz) or unpacked package directory")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: kiosk/data)")
    ap.add_argument("--date", type=dt.date.fromisoformat, default=None,
                    help="date to record as 'generated' (default: today), for reproducible output")
    args = ap.parse_args(argv)
    try:
        meta, files = read_source(args.source)
        table = build(meta, files, args.date or dt.date.today())
    except (SourceError, OSError, tarfile.TarError, ValueError) as exc:
        print(f"generate_regions: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    # One line per entry: small, yet diffs between versions stay readable.
    body = json.dumps(table, ensure_ascii=False, indent=0, sort_keys=True)
    (args.out / "regions.json").write_text(body + "\n", encoding="utf-8")
    (args.out / "regions.SOURCE.md").write_text(source_md(table), encoding="utf-8")
    c = table["source"]["counts"]
    print(f"wrote {args.out / 'regions.json'}: {c['provinces']} provinces, "
          f"{c['regencies']} regencies, {c['districts']} districts "
          f"({PACKAGE} {table['source']['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
