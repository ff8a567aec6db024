"""The region table: Kemendagri numbering, lookups, licence record, and its generator."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest

from kiosk import regions

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_regions", ROOT / "scripts" / "generate_regions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the shipped table -----------------------------------------------------------------------

@pytest.mark.parametrize("code", ["64.03", "6403", " 64.03 "])
def test_berau_is_kemendagri_6403_not_bps(code):
    # BPS 6403 would be Kutai Kartanegara: this pins the numbering a NIK uses.
    assert regions.regency(code).upper() == "KABUPATEN BERAU"


@pytest.mark.parametrize("code", ["64.03.06", "640306"])
def test_gunung_tabur_is_64_03_06(code):
    assert regions.district(code).upper() == "GUNUNG TABUR"


def test_spot_checks():
    assert regions.province("64").upper() == "KALIMANTAN TIMUR"
    assert regions.province("65").upper() == "KALIMANTAN UTARA"
    assert regions.regency("34.71").upper() == "KOTA YOGYAKARTA"
    assert regions.regency("65.71").upper() == "KOTA TARAKAN"


@pytest.mark.parametrize("call, code", [
    (regions.province, "20"), (regions.province, "00"), (regions.regency, "64.99"),
    (regions.district, "64.03.99"),
    # wrong level, malformed or not a string at all: None, never an exception
    (regions.province, "6403"), (regions.regency, "64"), (regions.district, "6403"),
    (regions.regency, "64-03"), (regions.regency, "6x03"), (regions.regency, ""),
    (regions.regency, None), (regions.regency, 6403), (regions.province, "６４"),
])
def test_unknown_or_malformed_codes_give_none(call, code):
    assert call(code) is None


def test_code_forms():
    assert regions.plain_code("64.03.06") == "640306"
    assert regions.dotted_code("640306") == "64.03.06"
    assert regions.dotted_code("64.03") == "64.03"


def test_source_records_odbl_and_counts():
    src = regions.source()
    assert src["package"] == "idn-area-data"
    assert src["licence"] == "ODbL-1.0"
    assert "Open Database License" in src["attribution"]
    assert src["numbering"] == "Kemendagri"
    assert src["counts"]["provinces"] >= 38
    assert src["counts"]["regencies"] >= 514
    assert src["counts"]["districts"] >= 7000


def test_shipped_files_are_compact_and_consistent():
    data = resources.files("kiosk").joinpath("data")
    raw = data.joinpath("regions.json").read_bytes()
    assert len(raw) < 400_000  # no villages: it must stay small on the kiosk
    table = json.loads(raw)
    assert set(table) == {"source", "provinces", "regencies", "districts"}
    for level in ("provinces", "regencies", "districts"):
        assert len(table[level]) == table["source"]["counts"][level]
    assert all(code[:2] in table["provinces"] for code in table["regencies"])
    assert all(code[:4] in table["regencies"] for code in table["districts"])
    # Regency numbering: 01-69 kabupaten, 71-99 kota (DESIGN §1).
    assert all(("01" <= code[2:] <= "69") or ("71" <= code[2:] <= "99") for code in table["regencies"])

    md = data.joinpath("regions.SOURCE.md").read_text(encoding="utf-8")
    version = table["source"]["version"]
    assert f"idn-area-data {version}" in md.replace("`", "")
    assert "Open Database License (ODbL) v1.0" in md
    assert f"npm pack idn-area-data@{version}" in md
    assert "scripts/generate_regions.py" in md


# -- the generator, on a small package it builds itself ---------------------------------------

def write_package(root: Path, regencies: str, districts: str, name: str = "idn-area-data") -> Path:
    pkg = root / "package"
    (pkg / "data").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": name, "version": "9.9.9"}))
    (pkg / "data" / "provinces.csv").write_text("code,name\n64,Kalimantan Timur\n65,Kalimantan Utara\n")
    (pkg / "data" / "regencies.csv").write_text("code,province_code,name\n" + regencies)
    (pkg / "data" / "districts.csv").write_text("code,regency_code,name\n" + districts)
    return pkg


KEMENDAGRI_REGENCIES = "64.03,64,Kabupaten Berau\n65.71,65,Kota Tarakan\n"
KEMENDAGRI_DISTRICTS = '64.03.06,64.03,Gunung Tabur\n65.71.01,65.71,"Tarakan Barat"\n'


def test_generator_writes_table_and_source(tmp_path):
    gen = load_generator()
    pkg = write_package(tmp_path, KEMENDAGRI_REGENCIES, KEMENDAGRI_DISTRICTS)
    out = tmp_path / "out"
    assert gen.main([str(pkg), "--out", str(out), "--date", "2024-01-02"]) == 0
    table = json.loads((out / "regions.json").read_text(encoding="utf-8"))
    assert table["regencies"] == {"6403": "Kabupaten Berau", "6571": "Kota Tarakan"}
    assert table["districts"]["640306"] == "Gunung Tabur"
    assert table["source"]["version"] == "9.9.9"
    assert table["source"]["generated"] == "2024-01-02"
    assert table["source"]["licence"] == "ODbL-1.0"
    md = (out / "regions.SOURCE.md").read_text(encoding="utf-8")
    assert "9.9.9" in md and "ODbL" in md and "2 regencies, 2 districts" in md


def test_generator_reads_a_tarball(tmp_path):
    import tarfile

    gen = load_generator()
    pkg = write_package(tmp_path, KEMENDAGRI_REGENCIES, KEMENDAGRI_DISTRICTS)
    tgz = tmp_path / "idn-area-data-9.9.9.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(pkg, arcname="package")
    out = tmp_path / "out"
    assert gen.main([str(tgz), "--out", str(out)]) == 0
    assert json.loads((out / "regions.json").read_text())["districts"]["640306"] == "Gunung Tabur"


def test_generator_refuses_bps_numbering(tmp_path, capsys):
    gen = load_generator()
    pkg = write_package(tmp_path, "64.03,64,Kabupaten Kutai Kartanegara\n",
                        "64.03.06,64.03,Tenggarong\n")
    out = tmp_path / "out"
    assert gen.main([str(pkg), "--out", str(out)]) == 1
    assert "Kemendagri" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("regencies, districts", [
    ("64.03,65,Kabupaten Berau\n", KEMENDAGRI_DISTRICTS),       # wrong parent
    (KEMENDAGRI_REGENCIES + "64.03,64,Again\n", KEMENDAGRI_DISTRICTS),  # duplicate
    (KEMENDAGRI_REGENCIES, KEMENDAGRI_DISTRICTS + "6403.07,64.03,Bad\n"),  # malformed code
])
def test_generator_rejects_inconsistent_data(tmp_path, regencies, districts):
    gen = load_generator()
    pkg = write_package(tmp_path, regencies, districts)
    assert gen.main([str(pkg), "--out", str(tmp_path / "out")]) == 1


def test_generator_rejects_another_package(tmp_path):
    gen = load_generator()
    pkg = write_package(tmp_path, KEMENDAGRI_REGENCIES, KEMENDAGRI_DISTRICTS, name="something-else")
    assert gen.main([str(pkg), "--out", str(tmp_path / "out")]) == 1
