"""One place that turns the domain's typed errors into HTTP answers: ``{error, message, ...}``."""

from __future__ import annotations

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from drivers.base import DeviceError
from drivers.fingerprint import NoFinger
from kiosk.errors import (AuthError, Conflict, DeviceUnavailable, Forbidden, InvalidInput, KioskError, NotFound,
                          StorageError)

log = logging.getLogger(__name__)

STATUS = [  # most specific first
    (Forbidden, 403), (AuthError, 401), (InvalidInput, 422), (NotFound, 404), (Conflict, 409),
    (DeviceUnavailable, 503), (StorageError, 507), (KioskError, 500),
]
_HTTP_WORDS = {
    400: ("Permintaan tidak bisa dibaca.", "The request could not be read."),
    404: ("Halaman atau data tidak ditemukan.", "Not found."),
    405: ("Cara permintaan ini tidak didukung.", "Method not allowed."),
    413: ("Data yang dikirim terlalu besar.", "The data sent is too large."),
    415: ("Jenis data tidak didukung.", "Unsupported media type."),
}


def status_of(exc: KioskError) -> int:
    if isinstance(exc, AuthError) and exc.code == "locked_out":
        return 423
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def json_error(code: str, id_: str, en: str, status: int, lang: str, **details):
    body = {"error": code, "message": en if lang == "en" else id_, "message_id": id_, "message_en": en, **details}
    return jsonify(body), status


def register(app, lang) -> None:
    @app.errorhandler(KioskError)
    def kiosk_error(exc: KioskError):
        status = status_of(exc)
        if status >= 500:
            log.error("%s: %s", exc.code, exc.message.en)
        resp = jsonify(exc.as_dict(lang()))
        resp.status_code = status
        if "retry_after" in exc.details:
            resp.headers["Retry-After"] = str(exc.details["retry_after"])
        return resp

    @app.errorhandler(NoFinger)
    def no_finger(exc: NoFinger):
        return json_error(exc.code, exc.message_id, exc.message_en, 408, lang())

    @app.errorhandler(DeviceError)
    def device_error(exc: DeviceError):
        log.warning("device error %s: %s", exc.code, exc.message_en)
        return json_error(exc.code, exc.message_id, exc.message_en, 503, lang())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        id_, en = _HTTP_WORDS.get(exc.code or 500, (exc.name, exc.name))
        return json_error(exc.name.lower().replace(" ", "_"), id_, en, exc.code or 500, lang())

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error")
        return json_error("internal_error", "Terjadi kesalahan pada kios. Data yang sudah tersimpan aman; hubungi teknisi.",
                          "The kiosk hit an internal error. Saved data is safe; ask a technician.", 500, lang())
