"""Biodata of a resident: the card's fields, normalised and checked against the NIK.

The NIK encodes birth date and sex, so biodata that disagrees with it is refused: either
the NIK or the biodata was typed wrong, and a card must not carry both.
"""

from __future__ import annotations

import datetime as dt
import re

from kiosk.errors import InvalidInput
from kiosk.messages import Message
from kiosk.nik import parse_nik

FIELDS = ("nik", "name", "birth_place", "birth_date", "sex", "blood_type", "address", "rt", "rw",
          "village", "district", "religion", "marital_status", "occupation", "citizenship")

RELIGIONS = ("Islam", "Kristen", "Katolik", "Hindu", "Buddha", "Khonghucu", "Kepercayaan terhadap Tuhan YME")
MARITAL = ("Belum Kawin", "Kawin", "Cerai Hidup", "Cerai Mati")
BLOOD = ("A", "B", "AB", "O", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-", "-")
CITIZENSHIP = ("WNI", "WNA")
# Fields a kiosk may not correct without supporting documents (DESIGN §1).
LOCKED = ("nik", "birth_place", "birth_date", "blood_type")

_SEX = {"m": "M", "l": "M", "laki-laki": "M", "laki laki": "M", "male": "M",
        "f": "F", "p": "F", "perempuan": "F", "wanita": "F", "female": "F"}
_ALIASES = {
    "nama": "name", "tempat_lahir": "birth_place", "tanggal_lahir": "birth_date", "tgl_lahir": "birth_date",
    "jenis_kelamin": "sex", "gol_darah": "blood_type", "golongan_darah": "blood_type", "alamat": "address",
    "kel_desa": "village", "kelurahan": "village", "desa": "village", "kecamatan": "district",
    "agama": "religion", "status_perkawinan": "marital_status", "pekerjaan": "occupation",
    "kewarganegaraan": "citizenship",
}
_RT = re.compile(r"^[0-9]{1,3}$")
_FOLD = {v.lower(): v for v in RELIGIONS + MARITAL + CITIZENSHIP}
_FOLD.update({"kepercayaan": RELIGIONS[-1], "konghucu": "Khonghucu", "budha": "Buddha", "protestan": "Kristen"})


def canonical_key(key: str) -> str:
    k = key.strip().lower().replace(" ", "_").replace("/", "_")
    return _ALIASES.get(k, k)


def parse_date(text: str) -> dt.date | None:
    text = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return None


def _problem(field: str, id_: str, en: str) -> Message:
    return Message(f"bad_{field}", id_, en)


def normalise(raw: dict, *, require_all: bool = True) -> tuple[dict, list[Message]]:
    """Return (clean biodata, problems). Never raises; an empty problem list means valid."""
    data = {canonical_key(k): ("" if v is None else str(v).strip()) for k, v in raw.items()}
    out: dict[str, str] = {}
    problems: list[Message] = []

    info = parse_nik(data.get("nik", ""))
    if not info.valid:
        problems.extend(info.errors)
    out["nik"] = info.nik

    for key in ("name", "birth_place", "address", "village", "district", "occupation"):
        value = re.sub(r"\s+", " ", data.get(key, ""))
        if len(value) > 120:
            problems.append(_problem(key, f"{key}: terlalu panjang (paling banyak 120 huruf).",
                                     f"{key}: too long (120 characters at most)."))
        out[key] = value
    if out["name"]:
        out["name"] = out["name"].upper()  # the card prints names in capitals

    born = parse_date(data.get("birth_date", ""))
    if data.get("birth_date") and born is None:
        problems.append(_problem("birth_date", "Tanggal lahir tidak terbaca (tulis TTTT-BB-HH atau HH-BB-TTTT).",
                                 "Birth date not readable (write YYYY-MM-DD or DD-MM-YYYY)."))
    out["birth_date"] = born.isoformat() if born else ""

    sex = data.get("sex", "")
    out["sex"] = _SEX.get(sex.lower(), "") if sex else ""
    if sex and not out["sex"]:
        problems.append(_problem("sex", "Jenis kelamin harus L (laki-laki) atau P (perempuan).",
                                 "Sex must be M (male) or F (female)."))

    blood = data.get("blood_type", "").upper().replace("−", "-") or ""
    if blood and blood not in BLOOD:
        problems.append(_problem("blood_type", "Golongan darah harus A, B, AB, O (boleh + atau -) atau \"-\".",
                                 "Blood type must be A, B, AB or O (optionally + or -) or \"-\"."))
    out["blood_type"] = blood

    for key in ("rt", "rw"):
        value = data.get(key, "")
        if value and not _RT.match(value):
            problems.append(_problem(key, f"{key.upper()} harus angka (contoh 003).", f"{key.upper()} must be a number (e.g. 003)."))
        out[key] = value.zfill(3) if value and _RT.match(value) else value

    for key, allowed in (("religion", RELIGIONS), ("marital_status", MARITAL), ("citizenship", CITIZENSHIP)):
        value = data.get(key, "")
        folded = _FOLD.get(value.lower(), "") if value else ""
        if value and folded not in allowed:
            problems.append(_problem(key, f"{key}: pilih salah satu dari {', '.join(allowed)}.",
                                     f"{key}: choose one of {', '.join(allowed)}."))
        out[key] = folded or value

    if require_all:
        for key in FIELDS:
            if not out.get(key) and not any(p.code == f"bad_{key}" for p in problems) and key != "nik":
                problems.append(Message(f"missing_{key}", f"{key} belum diisi.", f"{key} is missing."))

    if info.valid and born and info.birth_date and born != info.birth_date:
        problems.append(Message("nik_birth_date_mismatch",
                                f"Tanggal lahir {born.isoformat()} tidak sesuai NIK ({info.birth_date.isoformat()}). "
                                "Periksa NIK dan tanggal lahir pada dokumen.",
                                f"Birth date {born.isoformat()} disagrees with the NIK ({info.birth_date.isoformat()}). "
                                "Check both against the documents."))
    if info.valid and out["sex"] and info.sex and out["sex"] != info.sex:
        problems.append(Message("nik_sex_mismatch",
                                "Jenis kelamin tidak sesuai NIK (tanggal lahir perempuan ditambah 40). Periksa NIK.",
                                "Sex disagrees with the NIK (women's birth day has 40 added). Check the NIK."))
    return out, problems


def validated(raw: dict) -> dict:
    """Clean biodata or InvalidInput listing every problem."""
    data, problems = normalise(raw)
    if problems:
        raise invalid(problems)
    return data


def invalid(problems: list[Message]) -> InvalidInput:
    return InvalidInput("invalid_biodata",
                        "Data belum benar: " + " ".join(p.id for p in problems),
                        "The data is not right: " + " ".join(p.en for p in problems),
                        problems=[{"code": p.code, "message_id": p.id, "message_en": p.en} for p in problems])
