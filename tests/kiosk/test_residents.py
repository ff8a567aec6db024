import csv

import pytest

from kiosk import residents
from kiosk.biodata import FIELDS
from kiosk.errors import InvalidInput
from kiosk.store import Store

ROW = {"nik": "6403061203850001", "name": "Budi Santoso", "birth_place": "Tanjung Redeb",
       "birth_date": "1985-03-12", "sex": "L", "blood_type": "A", "address": "Jl. Mangga 3", "rt": "2",
       "rw": "1", "village": "Gunung Tabur", "district": "Gunung Tabur", "religion": "Islam",
       "marital_status": "Kawin", "occupation": "Nelayan", "citizenship": "WNI"}


def write(path, rows, fields=FIELDS):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "k.db")
    yield s
    s.close()


def test_import_validates_and_is_idempotent(store, tmp_path):
    bad_nik = dict(ROW, nik="640306120385")
    wrong_sex = dict(ROW, nik="6403061203850002", sex="P")  # NIK day 12 = male
    wrong_date = dict(ROW, nik="6403061203850003", birth_date="1985-03-13")
    ok2 = dict(ROW, nik="6403065203850004", sex="P", name="Ani")  # day 52 = female, 12th
    path = write(tmp_path / "r.csv", [ROW, bad_nik, wrong_sex, wrong_date, ok2, ROW])
    report = residents.import_csv(store, path)
    assert (report.inserted, report.updated, report.unchanged) == (2, 0, 0)
    lines = {r["line"]: {x["code"] for x in r["reasons"]} for r in report.rejected}
    assert lines[3] == {"nik.length"}
    assert "nik_sex_mismatch" in lines[4]
    assert "nik_birth_date_mismatch" in lines[5]
    assert lines[7] == {"duplicate_in_file"}
    # reports name the row, never the whole NIK
    assert not any(r["nik"][:12] in (ROW["nik"][:12], bad_nik["nik"][:12]) for r in report.rejected)
    again = residents.import_csv(store, write(tmp_path / "r2.csv", [ROW, ok2]))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    changed = residents.import_csv(store, write(tmp_path / "r3.csv", [dict(ROW, address="Jl. Baru 1")]))
    assert changed.updated == 1
    assert residents.lookup(store, ROW["nik"])["address"] == "Jl. Baru 1"
    assert residents.lookup(store, ROW["nik"])["name"] == "BUDI SANTOSO"
    assert residents.count(store) == 2


def test_indonesian_headers_and_semicolons(store, tmp_path):
    path = tmp_path / "id.csv"
    headers = ["NIK", "NAMA", "TEMPAT_LAHIR", "TANGGAL_LAHIR", "JENIS_KELAMIN", "GOL_DARAH", "ALAMAT", "RT", "RW",
               "KEL_DESA", "KECAMATAN", "AGAMA", "STATUS_PERKAWINAN", "PEKERJAAN", "KEWARGANEGARAAN"]
    values = [ROW[k] for k in FIELDS]
    values[3] = "12-03-1985"
    path.write_text(";".join(headers) + "\n" + ";".join(values) + "\n", encoding="utf-8")
    report = residents.import_csv(store, path)
    assert report.inserted == 1, report.rejected
    assert residents.lookup(store, ROW["nik"])["birth_date"] == "1985-03-12"


def test_missing_columns_refused_before_any_write(store, tmp_path):
    path = write(tmp_path / "r.csv", [{"nik": ROW["nik"], "name": "x"}], fields=["nik", "name"])
    with pytest.raises(InvalidInput) as info:
        residents.import_csv(store, path)
    assert info.value.code == "bad_header" and "birth_date" in info.value.details["missing"]
    assert residents.count(store) == 0


def test_missing_file(store, tmp_path):
    with pytest.raises(InvalidInput):
        residents.import_csv(store, tmp_path / "nope.csv")


def test_progress_on_large_file(store, tmp_path):
    rows = []
    for i in range(1, 1201):
        rows.append(dict(ROW, nik=f"640306120385{i:04d}"))
    seen = []
    report = residents.import_csv(store, write(tmp_path / "big.csv", rows), progress=seen.append)
    assert report.inserted == 1200
    assert seen[-1] == 1200 and len(seen) >= 3
