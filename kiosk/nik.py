"""NIK (Nomor Induk Kependudukan): parse, decode and validate.

A NIK is 16 digits ``PP KK CC DDMMYY SSSS``: province, regency/city (01-69 kabupaten,
71-99 kota), district (kecamatan), birth date with 40 added to the day for women, and a
serial from 0001. It has no check digit, so the best a kiosk can do is check each part.

Two rules shape this module:

* An operator types the NIK from a card or a family card, so every problem found is reported
  at once (not just the first), in plain words, in Bahasa Indonesia and English.
* A region code that today's list does not know is *accepted with a warning*. Regions are
  split over the years (Kalimantan Utara, 65, was cut from Kalimantan Timur, 64, in 2012;
  Papua was split again in 2022), and a resident's NIK keeps the code it was issued with.
  Refusing it would refuse a real person. Only a code no region can ever have (regency 00 or
  70, district 00) or an unknown province is an error.

Nothing here logs, and messages never repeat the whole NIK or the full birth date, so a
message or an exception can be logged without leaking who the resident is.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from kiosk import regions
from kiosk.errors import KioskError
from kiosk.messages import Message

__all__ = ["NikInfo", "InvalidNik", "parse_nik", "validate_nik", "NIK_LENGTH"]

NIK_LENGTH = 16

# What people type between digit groups ("64.03.06 120385 0001", "6403-06-..."), including the
# typographic dashes a phone keyboard or a copied document produces.
_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]")
_DIGITS = frozenset("0123456789")  # str.isdigit() would also accept "٣" or "３"

_MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
              "September", "Oktober", "November", "Desember")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


@dataclass(frozen=True)
class NikInfo:
    """What a NIK says, as far as it could be read; ``valid`` is False when ``errors`` is not empty."""

    nik: str
    valid: bool
    province_code: str | None = None   # "64"
    province: str | None = None        # "Kalimantan Timur"
    regency_code: str | None = None    # "64.03"
    regency: str | None = None         # "Kabupaten Berau"
    district_code: str | None = None   # "64.03.06"
    district: str | None = None        # "Gunung Tabur"
    birth_date: dt.date | None = None
    sex: str | None = None             # "M" / "F"
    serial: str | None = None          # "0001"
    errors: tuple[Message, ...] = ()
    warnings: tuple[Message, ...] = ()

    def to_json(self, lang: str = "id") -> dict:
        """The ``kiosk nik --json`` document (DESIGN §4), messages in ``lang`` ("id" or "en")."""
        return {
            "nik": self.nik,
            "valid": self.valid,
            "province_code": self.province_code,
            "province": self.province,
            "regency_code": self.regency_code,
            "regency": self.regency,
            "district_code": self.district_code,
            "district": self.district,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "serial": self.serial,
            "errors": [m.text(lang) for m in self.errors],
            "warnings": [m.text(lang) for m in self.warnings],
        }

    def __repr__(self) -> str:
        # A NIK identifies a person: keep it (and the birth date) out of reprs that end up in logs.
        masked = self.nik[:4] + "*" * max(len(self.nik) - 4, 0)
        codes = [m.code for m in self.errors + self.warnings]
        return f"NikInfo(nik={masked!r}, valid={self.valid}, messages={codes})"


class InvalidNik(KioskError, ValueError):
    """Raised by :func:`validate_nik`; ``.info`` is the parsed NIK, ``.errors`` its error messages."""

    def __init__(self, info: NikInfo):
        self.info = info
        self.errors = info.errors
        super().__init__(
            "nik.invalid",
            "NIK tidak sah: " + " ".join(m.id for m in info.errors),
            "Invalid NIK: " + " ".join(m.en for m in info.errors),
            errors=[{"code": m.code, "message_id": m.id, "message_en": m.en} for m in info.errors],
        )


def validate_nik(text: str, *, today: dt.date | None = None) -> NikInfo:
    """Like :func:`parse_nik`, but raise :class:`InvalidNik` unless the NIK is valid."""
    info = parse_nik(text, today=today)
    if not info.valid:
        raise InvalidNik(info)
    return info


def parse_nik(text: str, *, today: dt.date | None = None) -> NikInfo:
    """Read a NIK as typed. Never raises for bad input: problems are in ``errors``.

    ``today`` decides the birth century (the date must not be in the future); tests pass it.
    """
    today = today or dt.date.today()
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    shown = text.strip()
    digits = _SEPARATORS.sub("", shown)
    if not digits:
        return NikInfo(nik="", valid=False, errors=(Message(
            "nik.empty", "NIK belum diisi; masukkan 16 angka.", "No NIK was entered; type its 16 digits."),))

    errors: list[Message] = []
    bad = [(i, ch) for i, ch in enumerate(shown, 1) if ch not in _DIGITS and not _SEPARATORS.match(ch)]
    if bad:
        errors.append(_not_digits(bad))
    if len(digits) != NIK_LENGTH:
        errors.append(_wrong_length(len(digits), counted_digits=not bad))
    if errors:
        # Once a digit is missing, extra or not a digit, every later field is shifted or garbled:
        # decoding it would add misleading messages to the one that matters.
        return NikInfo(nik=shown if bad else digits, valid=False, errors=tuple(errors))
    return _decode(digits, today)


def _decode(nik: str, today: dt.date) -> NikInfo:
    errors: list[Message] = []
    warnings: list[Message] = []
    pp, kk, cc = nik[0:2], nik[2:4], nik[4:6]
    dd, mm, yy, serial = int(nik[6:8]), int(nik[8:10]), int(nik[10:12]), nik[12:16]
    regency_code, district_code = f"{pp}.{kk}", f"{pp}.{kk}.{cc}"

    province_name = regions.province(pp)
    regency_name = district_name = None
    if province_name is None:
        errors.append(Message(
            "nik.province_unknown",
            f"Kode provinsi {pp} (2 angka pertama NIK) tidak ada.",
            f"There is no province with code {pp} (the first 2 digits of the NIK)."))
    if kk in ("00", "70"):
        errors.append(Message(
            "nik.regency_impossible",
            f"Kode kabupaten/kota {regency_code} (angka ke-3 dan 4) tidak mungkin: "
            "kabupaten 01-69, kota 71-99.",
            f"Regency/city code {regency_code} (digits 3-4) cannot exist: "
            "regencies are 01-69, cities 71-99."))
    if cc == "00":
        errors.append(Message(
            "nik.district_impossible",
            f"Kode kecamatan {district_code} (angka ke-5 dan 6) tidak mungkin: kecamatan mulai dari 01.",
            f"District code {district_code} (digits 5-6) cannot exist: districts start at 01."))
    # Look the region up only when its code could exist at all: a warning on top of those errors
    # would tell the operator nothing new.
    if province_name is not None and not errors:
        regency_name = regions.regency(regency_code)
        district_name = regions.district(district_code) if regency_name else None
        if regency_name is None:
            warnings.append(Message(
                "nik.regency_unknown",
                f"Kode kabupaten/kota {regency_code} tidak ada di daftar wilayah terbaru; mungkin kode lama "
                "dari sebelum pemekaran wilayah. NIK tetap diterima; cocokkan dengan KTP atau KK.",
                f"Regency/city code {regency_code} is not in the current list of regions; it may be an old "
                "code from before the region was split. The NIK is accepted; check it against the card "
                "or the family card (KK)."))
        elif district_name is None:
            warnings.append(Message(
                "nik.district_unknown",
                f"Kode kecamatan {district_code} tidak ada di daftar wilayah terbaru; mungkin kode lama "
                "dari sebelum pemekaran wilayah. NIK tetap diterima; cocokkan dengan KTP atau KK.",
                f"District code {district_code} is not in the current list of regions; it may be an old "
                "code from before the region was split. The NIK is accepted; check it against the card "
                "or the family card (KK)."))

    sex = "M" if 1 <= dd <= 31 else "F" if 41 <= dd <= 71 else None
    day = dd - 40 if sex == "F" else dd
    if sex is None:
        errors.append(Message(
            "nik.day_invalid",
            f"Tanggal lahir (angka ke-7 dan 8) tertulis {dd:02d}: harus 01-31 untuk laki-laki, "
            "41-71 untuk perempuan (tanggal ditambah 40).",
            f"The birth day (digits 7-8) reads {dd:02d}: it must be 01-31 for a man, "
            "41-71 for a woman (the day plus 40)."))
    if not 1 <= mm <= 12:
        errors.append(Message(
            "nik.month_invalid",
            f"Bulan lahir (angka ke-9 dan 10) tertulis {mm:02d}: harus 01-12.",
            f"The birth month (digits 9-10) reads {mm:02d}: it must be 01-12."))
    birth_date = None
    if sex is not None and 1 <= mm <= 12:
        birth_date, date_error = _birth_date(day, mm, yy, today)
        if date_error:
            errors.append(date_error)

    if serial == "0000":
        errors.append(Message(
            "nik.serial_zero",
            "Nomor urut (4 angka terakhir) tidak boleh 0000; nomor urut mulai dari 0001.",
            "The serial number (the last 4 digits) cannot be 0000; serials start at 0001."))

    return NikInfo(
        nik=nik, valid=not errors,
        province_code=pp, province=province_name,
        regency_code=regency_code, regency=regency_name,
        district_code=district_code, district=district_name,
        birth_date=birth_date, sex=sex, serial=serial,
        errors=tuple(errors), warnings=tuple(warnings),
    )


def _birth_date(day: int, month: int, yy: int, today: dt.date) -> tuple[dt.date | None, Message | None]:
    # The NIK gives only two digits of the year: take this century unless that puts the birth in
    # the future. The century is decided on (year, month, day) before checking the calendar, so
    # that 29-02-00 is read as 2000 (a leap year), not skipped over to 1900 (not one).
    year = 2000 + yy
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    try:
        return dt.date(year, month, day), None
    except ValueError:
        pass
    if month == 2 and day == 29:
        return None, Message(
            "nik.date_invalid",
            "Tanggal lahir 29 Februari hanya ada pada tahun kabisat; tahun lahir pada NIK bukan tahun kabisat.",
            "A birth date of 29 February exists only in leap years; the birth year in the NIK is not one.")
    days = calendar.monthrange(year, month)[1]
    return None, Message(
        "nik.date_invalid",
        f"Tanggal lahir {day} {_MONTHS_ID[month - 1]} tidak ada: bulan {_MONTHS_ID[month - 1]} "
        f"hanya {days} hari.",
        f"The birth date {day} {_MONTHS_EN[month - 1]} does not exist: {_MONTHS_EN[month - 1]} "
        f"has only {days} days.")


def _not_digits(bad: list[tuple[int, str]]) -> Message:
    # Point at the first offending character by position: "O" for 0 and "l" for 1 are the usual typos.
    pos, ch = bad[0]
    shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
    if len(bad) == 1:
        return Message(
            "nik.not_digits",
            f"NIK hanya berisi angka; karakter ke-{pos} (\"{shown}\") bukan angka.",
            f"A NIK contains only digits; character {pos} (\"{shown}\") is not a digit.")
    others = len(bad) - 1
    return Message(
        "nik.not_digits",
        f"NIK hanya berisi angka; karakter ke-{pos} (\"{shown}\") dan {others} karakter lain bukan angka.",
        f"A NIK contains only digits; character {pos} (\"{shown}\") and {others} "
        f"other{'' if others == 1 else 's'} are not digits.")


def _wrong_length(n: int, counted_digits: bool) -> Message:
    # Count characters, not digits, when some are not digits: "15 digits" would then be untrue.
    unit_id = "angka" if counted_digits else "karakter"
    unit_en = "" if counted_digits else " character" if n == 1 else " characters"
    verb = "was" if n == 1 else "were"
    return Message(
        "nik.length",
        f"NIK harus 16 angka; yang dimasukkan {n} {unit_id}.",
        f"A NIK has 16 digits; {n}{unit_en} {verb} entered.")
