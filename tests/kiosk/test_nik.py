"""NIK parsing and validation (DESIGN §1 NIK, §4 `kiosk nik`)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.errors import KioskError
from kiosk.messages import Message
from kiosk.nik import InvalidNik, NikInfo, parse_nik, validate_nik

TODAY = dt.date(2025, 6, 1)
CONTRACT_KEYS = {"nik", "valid", "province_code", "province", "regency_code", "regency",
                 "district_code", "district", "birth_date", "sex", "serial", "errors", "warnings"}


def parse(text):
    return parse_nik(text, today=TODAY)


def codes(info: NikInfo, kind: str = "errors") -> list[str]:
    return [m.code for m in getattr(info, kind)]


# -- valid NIKs ------------------------------------------------------------------------------

def test_valid_male_berau_gunung_tabur():
    info = parse("6403061203850001")
    assert info.valid and not info.errors and not info.warnings
    assert info.nik == "6403061203850001"
    assert (info.province_code, info.regency_code, info.district_code) == ("64", "64.03", "64.03.06")
    assert info.province.upper() == "KALIMANTAN TIMUR"
    assert info.regency.upper() == "KABUPATEN BERAU"
    assert info.district.upper() == "GUNUNG TABUR"
    assert info.birth_date == dt.date(1985, 3, 12)
    assert info.sex == "M"
    assert info.serial == "0001"


def test_valid_female_day_plus_40():
    info = parse("6403065203850002")
    assert info.valid
    assert info.sex == "F"
    assert info.birth_date == dt.date(1985, 3, 12)
    assert info.serial == "0002"


@pytest.mark.parametrize("dd, sex, day", [("01", "M", 1), ("31", "M", 31), ("41", "F", 1), ("71", "F", 31)])
def test_day_range_edges(dd, sex, day):
    info = parse(f"640306{dd}0190{1:04d}")
    assert info.valid, info.to_json("en")
    assert (info.sex, info.birth_date) == (sex, dt.date(1990, 1, day))


def test_kalimantan_utara_65():
    info = parse("6571014507920003")  # Kota Tarakan, Tarakan Barat
    assert info.valid and not info.warnings
    assert info.province.upper() == "KALIMANTAN UTARA"
    assert info.regency.upper() == "KOTA TARAKAN"
    assert info.district_code == "65.71.01"
    assert (info.sex, info.birth_date) == ("F", dt.date(1992, 7, 5))


def test_kota_yogyakarta():
    info = parse("3471011708450001")
    assert info.valid
    assert info.regency.upper() == "KOTA YOGYAKARTA"
    assert info.birth_date == dt.date(1945, 8, 17)


@pytest.mark.parametrize("text", [
    "64.03.06.120385.0001", "6403 0612 0385 0001", "  6403061203850001\n", "6403-06-120385-0001",
    "64 03 06 12 03 85 0001", "6403\u201306\u2013120385\u20130001", "6403\t0612038\u00a050001",
])
def test_separators_tolerated(text):
    info = parse(text)
    assert info.valid
    assert info.nik == "6403061203850001"


# -- century ---------------------------------------------------------------------------------

def test_century_this_century_when_not_in_future():
    assert parse("6403061203050001").birth_date == dt.date(2005, 3, 12)


def test_century_19yy_when_20yy_would_be_future():
    assert parse("6403061203300001").birth_date == dt.date(1930, 3, 12)


def test_century_decided_on_the_full_date():
    # Same year as today: a birthday already past is this century, one still ahead is last century.
    assert parse("6403063105250001").birth_date == dt.date(2025, 5, 31)
    assert parse("6403060106250001").birth_date == dt.date(2025, 6, 1)   # born today
    assert parse("6403060206250001").birth_date == dt.date(1925, 6, 2)


def test_century_uses_injected_today():
    assert parse_nik("6403061203300001", today=dt.date(2031, 1, 1)).birth_date == dt.date(2030, 3, 12)


# -- 29 February -----------------------------------------------------------------------------

@pytest.mark.parametrize("yy, year", [("00", 2000), ("04", 2004), ("24", 2024), ("28", 1928), ("96", 1996)])
def test_29_february_in_leap_years(yy, year):
    info = parse(f"64030629 02{yy}0001".replace(" ", ""))
    assert info.valid
    assert info.birth_date == dt.date(year, 2, 29)


@pytest.mark.parametrize("yy", ["01", "23", "99", "30"])  # 2001, 2023, 1999, 1930
def test_29_february_in_other_years_is_an_error(yy):
    info = parse(f"6403066902{yy}0001")  # female, day 29
    assert not info.valid
    assert codes(info) == ["nik.date_invalid"]
    assert info.birth_date is None
    assert "kabisat" in info.errors[0].id and "leap" in info.errors[0].en


# -- bad dates -------------------------------------------------------------------------------

@pytest.mark.parametrize("dd", ["00", "32", "40", "72", "99"])
def test_impossible_day(dd):
    info = parse(f"640306{dd}03850001")
    assert not info.valid
    assert codes(info) == ["nik.day_invalid"]
    assert info.sex is None and info.birth_date is None


@pytest.mark.parametrize("mm", ["00", "13", "99"])
def test_impossible_month(mm):
    info = parse(f"64030612{mm}850001")
    assert codes(info) == ["nik.month_invalid"]
    assert info.birth_date is None


@pytest.mark.parametrize("nik", ["6403063102990001", "6403063104850001", "6403067111850001"])
def test_day_not_in_that_month(nik):
    info = parse(nik)  # 31 February 1999, 31 April 1985, 31 November 1985 (female)
    assert codes(info) == ["nik.date_invalid"]


# -- serial, length, characters --------------------------------------------------------------

def test_serial_0000():
    info = parse("6403061203850000")
    assert codes(info) == ["nik.serial_zero"]
    assert info.serial == "0000"


@pytest.mark.parametrize("text, n", [("640306120385001", 15), ("64030612038500011", 17), ("6", 1)])
def test_wrong_length(text, n):
    info = parse(text)
    assert not info.valid
    assert codes(info) == ["nik.length"]
    assert info.nik == text
    assert info.province_code is None and info.birth_date is None


def test_length_message_words():
    info = parse("640306120385001")
    assert info.errors[0].id == "NIK harus 16 angka; yang dimasukkan 15 angka."
    assert info.errors[0].en == "A NIK has 16 digits; 15 were entered."


@pytest.mark.parametrize("text", ["6403O61203850001", "64030612038500l1", "NIK6403061203850", "６４０３０６１２０３８５０００１"])
def test_non_digits(text):
    info = parse(text)
    assert not info.valid
    assert codes(info)[0] == "nik.not_digits"
    assert info.nik == text  # not stripped: the operator sees what was typed


def test_non_digit_position_is_reported():
    info = parse("6403 O61203850001")
    assert codes(info) == ["nik.not_digits"]
    assert "ke-6" in info.errors[0].id and "character 6" in info.errors[0].en


def test_non_digits_and_wrong_length_both_reported():
    info = parse("6403O6120385000")
    assert codes(info) == ["nik.not_digits", "nik.length"]
    assert "15 karakter" in info.errors[1].id


@pytest.mark.parametrize("text", ["", "   ", " . - ", None])
def test_empty(text):
    info = parse(text)
    assert codes(info) == ["nik.empty"]
    assert info.nik == ""


# -- regions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pp", ["00", "20", "10", "99"])
def test_unknown_province_is_an_error(pp):
    info = parse(f"{pp}03061203850001")
    assert codes(info) == ["nik.province_unknown"]
    assert info.province_code == pp and info.province is None
    assert info.birth_date == dt.date(1985, 3, 12)  # the rest is still decoded for the operator


def test_unknown_regency_in_known_province_is_valid_with_warning():
    info = parse("6499061203850001")
    assert info.valid
    assert codes(info, "warnings") == ["nik.regency_unknown"]
    assert info.province.upper() == "KALIMANTAN TIMUR"
    assert info.regency is None and info.district is None
    assert "64.99" in info.warnings[0].id and "64.99" in info.warnings[0].en


def test_unknown_district_in_known_regency_is_valid_with_warning():
    info = parse("6403991203850001")
    assert info.valid
    assert codes(info, "warnings") == ["nik.district_unknown"]
    assert info.regency.upper() == "KABUPATEN BERAU" and info.district is None


def test_code_from_before_a_split_is_accepted():
    # Papua regencies moved to new provinces in 2022 (Merauke 91.01 became 93.01);
    # a NIK issued before still reads 91.01 and must not be refused.
    info = parse("9101011203850001")
    assert info.valid
    assert codes(info, "warnings") == ["nik.regency_unknown"]


@pytest.mark.parametrize("nik, code", [
    ("6400061203850001", "nik.regency_impossible"),
    ("6470061203850001", "nik.regency_impossible"),
    ("6403001203850001", "nik.district_impossible"),
])
def test_codes_no_region_can_have(nik, code):
    info = parse(nik)
    assert codes(info) == [code]
    assert not info.warnings


def test_all_errors_reported_at_once():
    info = parse("2000007213990000")
    assert codes(info) == ["nik.province_unknown", "nik.regency_impossible", "nik.district_impossible",
                           "nik.day_invalid", "nik.month_invalid", "nik.serial_zero"]
    assert len(info.to_json()["errors"]) == 6


# -- output contract and messages ------------------------------------------------------------

def test_to_json_keys_and_values():
    doc = parse("6403065203850001").to_json()
    assert set(doc) == CONTRACT_KEYS
    assert doc["birth_date"] == "1985-03-12"
    assert doc["sex"] == "F"
    assert doc["regency_code"] == "64.03" and doc["district_code"] == "64.03.06"
    assert doc["errors"] == [] and doc["warnings"] == []
    assert doc["valid"] is True


def test_to_json_of_invalid_nik():
    doc = parse("64030612038500").to_json()
    assert set(doc) == CONTRACT_KEYS
    assert doc["valid"] is False and doc["birth_date"] is None
    assert doc["errors"] == ["NIK harus 16 angka; yang dimasukkan 14 angka."]


@pytest.mark.parametrize("text", [
    "", "6403O61203850001", "640306120385001", "2000007213990000", "6403066902010001",
    "6403063102990001", "6499061203850001", "6403991203850001", "6403001203850001",
])
def test_messages_in_both_languages(text):
    info = parse(text)
    messages = info.errors + info.warnings
    assert messages
    for m in messages:
        assert isinstance(m, Message)
        assert m.code.startswith("nik.")
        assert m.id and m.en and m.id != m.en
    assert parse(text).to_json("en")["errors"] == [m.en for m in info.errors]
    assert parse(text).to_json("id")["warnings"] == [m.id for m in info.warnings]
    assert parse(text).to_json()["errors"] == [m.id for m in info.errors]  # Bahasa Indonesia first


def test_messages_do_not_repeat_the_nik():
    for text in ["2000007213990000", "6499061203850001", "6403063102990001"]:
        info = parse(text)
        for m in info.errors + info.warnings:
            assert text not in m.id and text not in m.en
    assert "6403061203850001" not in repr(parse("6403061203850001"))


def test_nikinfo_is_frozen():
    info = parse("6403061203850001")
    with pytest.raises(AttributeError):
        info.valid = False


def test_validate_nik_returns_info_when_valid():
    assert validate_nik("6403061203850001", today=TODAY).district.upper() == "GUNUNG TABUR"


def test_validate_nik_raises_with_all_errors():
    with pytest.raises(InvalidNik) as caught:
        validate_nik("2000007213990000", today=TODAY)
    exc = caught.value
    assert isinstance(exc, KioskError) and isinstance(exc, ValueError)
    assert exc.code == "nik.invalid"
    assert exc.info.valid is False
    assert [m.code for m in exc.errors] == codes(exc.info)
    doc = exc.as_dict("en")
    assert doc["error"] == "nik.invalid"
    assert [e["code"] for e in doc["errors"]] == codes(exc.info)


def test_validate_nik_accepts_warnings():
    assert validate_nik("6499061203850001", today=TODAY).warnings


def test_default_today_is_real_today():
    # A NIK for someone born in the current year: read as this century, not in the future.
    now = dt.date.today()
    info = parse_nik(f"640306{now.day:02d}{now.month:02d}{now.year % 100:02d}0001")
    assert info.birth_date == now


# -- property: never raises, valid means sane ------------------------------------------------

nik_like = st.one_of(
    st.text(),
    st.text(alphabet="0123456789 .-", max_size=24),
    st.from_regex(r"\A[0-9]{16}\Z"),
    st.builds(lambda pp, kk, cc, dd, mm, yy, ss: f"{pp:02d}{kk:02d}{cc:02d}{dd:02d}{mm:02d}{yy:02d}{ss:04d}",
              st.sampled_from([11, 31, 34, 64, 65, 91, 96, 20]), st.integers(0, 99), st.integers(0, 99),
              st.integers(0, 99), st.integers(0, 13), st.integers(0, 99), st.integers(0, 9999)),
)


@settings(max_examples=300, deadline=None)
@given(text=nik_like, today=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_parse_never_raises_and_valid_is_sane(text, today):
    info = parse_nik(text, today=today)
    doc = info.to_json("en")
    assert set(doc) == CONTRACT_KEYS
    assert info.valid == (not info.errors)
    if info.valid:
        assert len(info.nik) == 16 and info.nik.isascii() and info.nik.isdigit()
        assert info.birth_date is not None and info.birth_date <= today
        assert info.sex in ("M", "F")
        assert info.serial != "0000"
        assert info.province is not None
