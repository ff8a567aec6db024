"""The JSON API under /api/v1: the UI's own backend and the scripting interface (DESIGN §4).

Handlers stay thin: parse the request, call the facade, return JSON. Validation and state
rules live in the domain, which raises typed errors that ``ui.errors`` maps to statuses.
"""

from __future__ import annotations

import contextlib
import io

from flask import Blueprint, Response, jsonify, request

from kiosk import outbox, reports
from kiosk.errors import InvalidInput, NotFound
from kiosk.nik import parse_nik
from ui.auth import COOKIE, kiosk, operator, optional_operator, token
from ui.i18n import lang

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def body() -> dict:
    """The JSON object of the request; a malformed or non-object body is a 400, never a crash."""
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("bad_json", "Isi permintaan harus objek JSON yang benar.",
                           "The request body must be a valid JSON object.")
    return data


def _str(data: dict, key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidInput("bad_field", f"{key} harus teks.", f"{key} must be text.", field=key)
    return str(value)


# --- auth -------------------------------------------------------------------------------------
@bp.post("/auth/login")
def login():
    data = body()
    tok, op = kiosk().operators.login(_str(data, "operator"), _str(data, "pin"))
    resp = jsonify({"token": tok, "operator": {"id": op.id, "role": op.role}})
    resp.set_cookie(COOKIE, tok, httponly=True, samesite="Strict", path="/")
    return resp


@bp.post("/auth/logout")
def logout():
    kiosk().operators.logout(token())
    resp = jsonify({"ok": True})
    resp.delete_cookie(COOKIE, path="/")
    return resp


@bp.get("/auth/me")
def me():
    op = operator()
    return jsonify({"id": op.id, "role": op.role, "demo": op.demo})


# --- status -----------------------------------------------------------------------------------
@bp.get("/devices")
def devices():
    operator()
    return jsonify(kiosk().device_status(lang()))


@bp.get("/status")
def status():
    """Everything the status bar shows, in one poll; no personal data, so no login needed."""
    k = kiosk()
    op = optional_operator()
    power = k.devices.power
    try:
        reading = power.read().as_dict()
    except Exception:  # noqa: BLE001 - the bar shows the fault from device status instead
        reading = None
    return jsonify({"devices": k.device_status(lang()), "outbox": k.outbox_counts(), "simulated": k.simulated,
                    "simulated_devices": k.devices.simulated_names, "power": reading,
                    "power_state": k.power.status(),
                    "operator": {"id": op.id, "role": op.role} if op else None})


@bp.get("/nik/<path:nik>")
def nik(nik: str):
    operator()
    return jsonify(parse_nik(nik).to_json(lang()))


# --- enrollments ------------------------------------------------------------------------------
@bp.post("/enrollments")
def create_enrollment():
    data = body()
    given = {k: v for k, v in data.items() if k not in ("nik", "village_code", "session_village")}
    village = _str(data, "session_village")
    result = kiosk().enrollments.create(operator(), _str(data, "nik"), given, village=village)
    return jsonify(result), 201


@bp.get("/enrollments")
def list_drafts():
    operator()
    return jsonify({"drafts": kiosk().enrollments.drafts()})


@bp.get("/enrollments/<eid>")
def get_enrollment(eid: str):
    operator()
    return jsonify(kiosk().enrollments.get(eid))


@bp.post("/enrollments/<eid>/biodata")
def confirm_biodata(eid: str):
    data = body()
    changes = data.get("changes") or {}
    if not isinstance(changes, dict):
        raise InvalidInput("bad_field", "changes harus objek.", "changes must be an object.", field="changes")
    return jsonify(kiosk().enrollments.confirm_biodata(operator(), eid, changes, _str(data, "reason"),
                                                       _str(data, "document")))


@bp.post("/enrollments/<eid>/photo")
def photo(eid: str):
    return jsonify(kiosk().enrollments.capture_photo(operator(), eid))


@bp.get("/enrollments/<eid>/photo.jpg")
def photo_image(eid: str):
    operator()
    return _image(kiosk().enrollments.part_data(eid, "photo"), "image/jpeg")


@bp.post("/enrollments/<eid>/signature")
def signature(eid: str):
    op = operator()
    if request.mimetype != "image/png":
        raise InvalidInput("not_png", "Tanda tangan harus dikirim sebagai gambar PNG.",
                           "The signature must be sent as a PNG image.")
    return jsonify(kiosk().enrollments.set_signature(op, eid, request.get_data()))


@bp.get("/enrollments/<eid>/signature.png")
def signature_image(eid: str):
    operator()
    return _image(kiosk().enrollments.part_data(eid, "signature"), "image/png")


@bp.post("/enrollments/<eid>/fingers/<pos>")
def finger(eid: str, pos: str):
    data = body()
    timeout = _timeout(data)
    with _no_finger_status(data):
        return jsonify(kiosk().enrollments.capture_finger(operator(), eid, pos, timeout=timeout))


def _timeout(data: dict) -> float | None:
    timeout = data.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
                                or not 0 <= timeout <= 60):
        raise InvalidInput("bad_timeout", "timeout harus 0-60 detik.", "timeout must be 0-60 seconds.")
    return timeout


@contextlib.contextmanager
def _no_finger_status(data: dict):
    """No finger in time is a 408 (DESIGN §4). Chromium, though, silently re-sends a request that
    gets a 408 on a reused keep-alive connection — a second capture the operator never asked for —
    so a browser client asks for ``"no_finger_status": 422`` instead; scripts keep the 408."""
    status = data.get("no_finger_status", 408)
    if status not in (408, 422):
        raise InvalidInput("bad_field", "no_finger_status harus 408 atau 422.", "no_finger_status must be 408 or 422.")
    from drivers.fingerprint import NoFinger
    try:
        yield
    except NoFinger as exc:
        if status == 408:
            raise
        raise InvalidInput(exc.code, exc.message_id, exc.message_en) from exc


@bp.get("/enrollments/<eid>/fingers/<int:pos>.png")
def finger_image(eid: str, pos: int):
    operator()
    return _image(kiosk().enrollments.part_data(eid, "finger", pos), "image/png")


@bp.post("/enrollments/<eid>/fingers/<pos>/exception")
def finger_exception(eid: str, pos: str):
    data = body()
    return jsonify(kiosk().enrollments.finger_exception(operator(), eid, pos, _str(data, "reason")))


@bp.post("/enrollments/<eid>/fingers/<pos>/exception/approve")
def approve_finger_exception(eid: str, pos: str):
    """A supervisor approves an exception: logged in as one, or with {supervisor, pin} typed in."""
    data = body()
    return jsonify(kiosk().enrollments.approve_exception(operator(), eid, pos, supervisor=_str(data, "supervisor"),
                                                         pin=_str(data, "pin")))


@bp.post("/enrollments/<eid>/verify/<pos>")
def verify_finger(eid: str, pos: str):
    data = body()
    timeout = _timeout(data)
    with _no_finger_status(data):
        return jsonify(kiosk().enrollments.verify_finger(operator(), eid, pos, timeout=timeout))


@bp.post("/enrollments/<eid>/commit")
def commit(eid: str):
    data = body()
    override = data.get("override")
    if override is not None and not isinstance(override, dict):
        raise InvalidInput("bad_field", "override harus objek.", "override must be an object.", field="override")
    return jsonify(kiosk().enrollments.commit(operator(), eid, override))


@bp.post("/enrollments/<eid>/abandon")
def abandon(eid: str):
    data = body()
    return jsonify(kiosk().enrollments.abandon(operator(), eid, _str(data, "reason")))


@bp.get("/enrollments/<eid>/receipt.svg")
def receipt(eid: str):
    import segno

    from kiosk.enrollment import receipt_text
    operator()
    e = kiosk().enrollments.get(eid)
    if not e["registration_id"]:
        raise NotFound("not_committed", "Perekaman ini belum disimpan.", "This enrollment is not saved yet.")
    buf = io.BytesIO()
    segno.make(receipt_text(e["registration_id"], kiosk().config.kiosk_id, e["committed_at"]),
               error="m").save(buf, kind="svg", scale=6, border=2)
    return Response(buf.getvalue(), mimetype="image/svg+xml")


@bp.post("/enrollments/<eid>/card")
def write_card(eid: str):
    from kiosk.errors import Conflict
    operator()
    e = kiosk().enrollments.get(eid)
    if e["status"] != "PRR":
        raise Conflict("not_print_ready",
                       "Kartu hanya boleh ditulis setelah pusat menyatakan data siap cetak (PRR).",
                       "A card may be written only after the centre has found the record print-ready (PRR).",
                       status=e["status"])
    raise Conflict("card_writing_unavailable", "Penulisan kartu belum tersedia di versi ini.",
                   "Card writing is not available in this version.")


# --- the supervisor's duplicate review queue ---------------------------------------------------
@bp.get("/review")
def review_queue():
    op = operator()
    decided = request.args.get("decided") in ("1", "true")
    items = kiosk().reviews.queue(op, decided=decided)
    return jsonify({"decided" if decided else "open": items, "count": len(items)})


@bp.post("/review/<eid>")
def review_decide(eid: str):
    data = body()
    return jsonify(kiosk().reviews.decide(operator(), eid, _str(data, "decision"), _str(data, "reason")))


# --- outbox and reports -----------------------------------------------------------------------
@bp.get("/outbox")
def outbox_counts():
    operator()
    out = outbox.counts(kiosk().store)
    out["entries"] = outbox.entries(kiosk().store, limit=50)
    out["sync"] = kiosk().sync.status()
    return jsonify(out)


@bp.get("/reports/progress")
def progress():
    operator()
    return jsonify(reports.progress(kiosk().store))


# --- fingerprint capture progress -------------------------------------------------------------
@bp.get("/fingerprint/progress")
def fingerprint_progress():
    """Phase and upload bytes of the capture in progress; read without waiting for the capture."""
    operator()
    from drivers.fingerprint import CaptureProgress, FingerprintReader
    dev = kiosk().devices.fingerprint
    progress = dev.progress if isinstance(dev, FingerprintReader) else CaptureProgress()
    return jsonify(progress.as_dict())


# --- camera preview ---------------------------------------------------------------------------
@bp.get("/camera/preview.jpg")
def preview():
    operator(touch=False)
    from drivers.base import DeviceError
    try:
        jpeg = kiosk().devices.camera.preview_jpeg()
    except DeviceError as exc:
        from kiosk.errors import DeviceUnavailable
        raise DeviceUnavailable(exc.code, exc.message_id, exc.message_en) from exc
    return _image(jpeg, "image/jpeg")


def _image(data: bytes, mimetype: str) -> Response:
    resp = Response(data, mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-store"  # personal data: never kept in the browser's cache
    return resp


@bp.get("/openapi.json")
def openapi():
    from ui.openapi import document
    return jsonify(document())
