from kiosk import biodata

from conftest import BIODATA, VALID_NIK


def test_normalises_values():
    data, problems = biodata.normalise(dict(BIODATA, nik=VALID_NIK, religion="islam", marital_status="kawin",
                                            citizenship="wni", blood_type="o", rt="3"))
    assert problems == []
    assert data["sex"] == "F" and data["religion"] == "Islam" and data["rt"] == "003"
    assert data["name"] == "SITI AMINAH" and data["blood_type"] == "O"


def test_disagreement_with_nik_is_refused():
    _, problems = biodata.normalise(dict(BIODATA, nik=VALID_NIK, sex="L", birth_date="1990-07-02"))
    codes = {p.code for p in problems}
    assert {"nik_sex_mismatch", "nik_birth_date_mismatch"} <= codes
    assert all(p.id and p.en for p in problems)


def test_bad_values_each_reported():
    _, problems = biodata.normalise(dict(BIODATA, nik=VALID_NIK, religion="Jedi", blood_type="Z", rt="x",
                                         birth_date="kemarin", citizenship="XX"))
    codes = {p.code for p in problems}
    assert {"bad_religion", "bad_blood_type", "bad_rt", "bad_birth_date", "bad_citizenship"} <= codes


def test_missing_fields_named():
    _, problems = biodata.normalise({"nik": VALID_NIK, "name": "A"})
    assert "missing_birth_place" in {p.code for p in problems}
