"""The centre's HTTP API (docs/central-protocol.md): packet intake, per-kiosk status feed, progress.

Intake is idempotent on the packet id (ODK Central's rule): the same bytes again get the same
receipt, other bytes under a known id get 409. Nothing is stored until the packet has been
decrypted, its signature checked against the registered kiosk key and every part against its
manifest, so a refused packet leaves no trace but a log line with its id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
import urllib.parse
from typing import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from central import pipeline
from central import store as store_mod
from central.store import Store
from kiosk import keys, packet
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 300
DEFAULT_MAX_BODY = 16 * 1024 * 1024  # ten PNG fingers + photo + signature is ~1-3 MB; leave room


def _error(status: int, code: str, id_: str, en: str, **details) -> Response:
    resp = jsonify({"error": code, "message": en, "message_id": id_, "message_en": en, **details})
    resp.status_code = status
    return resp


def _verifies(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
        return True
    except InvalidSignature:
        return False


def _receipt(row: dict) -> dict:
    return {"packet_id": row["packet_id"], "sha256": row["sha256"], "registration_id": row["registration_id"],
            "received_at": row["received_at"], "status": row["status"]}


def create_app(store: Store, central_key: X25519PrivateKey, *, max_body: int = DEFAULT_MAX_BODY,
               clock: Callable[[], float] = time.time, max_skew: int = MAX_SKEW_SECONDS) -> Flask:
    app = Flask("central")
    app.config["MAX_CONTENT_LENGTH"] = max_body
    key_cache: dict[str, tuple[str, Ed25519PublicKey]] = {}

    def kiosk_key(kiosk_id: str) -> Ed25519PublicKey | None:
        pem = store.kiosk_key(kiosk_id)
        if pem is None:
            return None
        cached = key_cache.get(kiosk_id)
        if cached is None or cached[0] != pem:  # re-keyed with `central kiosk add`
            cached = key_cache[kiosk_id] = (pem, keys.public_key_from_pem(pem, Ed25519PublicKey, source=kiosk_id))
        return cached[1]

    def unknown_kiosk(kiosk_id: str) -> Response:
        return _error(403, "unknown_kiosk", "Kios belum terdaftar di pusat.", "This kiosk is not registered at the centre.",
                      kiosk_id=kiosk_id)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": "ektp-central", "time": int(clock())}

    # PUT names the resource by its id (the protocol doc); POST is accepted too, as issue #4 words it.
    @app.route("/api/v1/packets/<packet_id>", methods=["PUT", "POST"])
    def put_packet(packet_id: str):
        kiosk_id = request.headers.get("X-Kiosk-Id", "")
        if not kiosk_id:
            return _error(422, "bad_packet", "Header X-Kiosk-Id tidak ada.", "The X-Kiosk-Id header is missing.")
        if kiosk_key(kiosk_id) is None:
            log.warning("packet %s refused: unknown kiosk %s", packet_id, kiosk_id)
            return unknown_kiosk(kiosk_id)
        body = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH → 413 before reading it all
        sha = hashlib.sha256(body).hexdigest()
        existing = store.get_packet(packet_id)
        if existing is not None:
            return _same_or_conflict(existing, sha)
        try:
            header, rec = packet.open_sealed(body, central_key, kiosk_key)
            if header["packet_id"] != packet_id or header["kiosk_id"] != kiosk_id:
                raise packet.BadPacket("The packet's header names another packet id or kiosk than the request.",
                                       "Header paket menyebut id paket atau kios lain dari permintaan.")
            nik = str(rec["biodata"]["nik"])
            registration_id = str(rec["registration_id"])
        except packet.UnknownKiosk as exc:
            return unknown_kiosk(exc.details.get("kiosk_id", ""))
        except packet.PacketError as exc:
            log.warning("packet %s from %s refused: %s", packet_id, kiosk_id, exc.code)
            return _error(422, exc.code, exc.message.id, exc.message.en)
        except (KeyError, TypeError):
            return _error(422, "bad_packet", "Rekaman tidak punya NIK atau nomor registrasi.",
                          "The record has no NIK or registration id.")
        village = str(rec.get("village") or rec["biodata"].get("village") or "")
        inserted, row = store.insert_packet(packet_id=packet_id, kiosk_id=kiosk_id, sha256=sha, body=body,
                                            registration_id=registration_id, nik=nik, village=village,
                                            simulated=bool(rec.get("simulated")), record=rec)
        if not inserted:  # another request stored this id between our check and our insert
            return _same_or_conflict(row, sha)
        try:
            row = pipeline.process(store, packet_id) or row
        except Exception:  # noqa: BLE001 - the packet is safely stored; the pipeline retries at start
            log.exception("status pipeline failed for packet %s; left as received", packet_id)
        log.info("packet %s from %s stored (%d bytes)", packet_id, kiosk_id, len(body))
        return jsonify(_receipt(row)), 201

    def _same_or_conflict(existing: dict, sha: str) -> Response:
        if existing["sha256"] == sha:
            return jsonify(_receipt(existing))
        log.warning("packet %s: other bytes under a known id refused", existing["packet_id"])
        return _error(409, "conflict", "Id paket ini sudah diterima dengan isi yang berbeda.",
                      "This packet id was already received with different contents.", packet_id=existing["packet_id"])

    @app.get("/api/v1/kiosks/<kiosk_id>/status")
    def status_feed(kiosk_id: str):
        if request.headers.get("X-Kiosk-Id") != kiosk_id:
            return _error(403, "forbidden", "Kios hanya boleh membaca statusnya sendiri.",
                          "A kiosk may read only its own status feed.")
        public = kiosk_key(kiosk_id)
        if public is None:
            return unknown_kiosk(kiosk_id)
        try:
            sent_time = int(request.headers.get("X-Kiosk-Time", ""))
            signature = base64.b64decode(request.headers.get("X-Kiosk-Signature", ""), validate=True)
        except (ValueError, binascii.Error):
            return _error(401, "bad_signature", "Permintaan tidak ditandatangani dengan benar.",
                          "The request is not properly signed.")
        now = clock()
        if abs(now - sent_time) > max_skew:
            return _error(401, "clock_skew",
                          f"Jam kios berbeda {int(sent_time - now)} detik dari jam pusat; cocokkan jam kios.",
                          f"The kiosk's clock is {int(sent_time - now)} s off the centre's; set the kiosk's clock.",
                          server_time=int(now))
        qs = request.query_string.decode("utf-8", "replace")
        path = request.script_root + request.path  # behind a proxy prefix the kiosk signed the full path
        # The kiosk signs the path as it sent it (percent-encoded); WSGI hands us the decoded form.
        candidates = {path, urllib.parse.quote(path, safe="/")}
        if not any(_verifies(public, signature, keys.request_message("GET", p + (f"?{qs}" if qs else ""), sent_time))
                   for p in candidates):
            log.warning("status request for %s with a bad signature", kiosk_id)
            return _error(401, "bad_signature", "Tanda tangan permintaan tidak cocok dengan kunci kios.",
                          "The request's signature does not match the kiosk's key.")
        try:
            since = int(request.args.get("since", "0"))
            if since < 0:
                raise ValueError
        except ValueError:
            return _error(422, "bad_request", "Parameter since harus bilangan bulat ≥ 0.",
                          "The since parameter must be a whole number ≥ 0.")
        changes, cursor = store.status_changes(kiosk_id, since)
        return {"changes": changes, "cursor": cursor}

    @app.post("/api/v1/kiosks/<kiosk_id>/register")
    def register(kiosk_id: str):
        """A kiosk registers its public key with a one-time code from `central kiosk invite`.

        Never logs the code or the key; refuses a wrong, expired or used code alike (403 bad_code).
        """
        doc = request.get_json(silent=True)
        code = doc.get("code") if isinstance(doc, dict) else None
        pem = doc.get("public_key") if isinstance(doc, dict) else None
        if not isinstance(pem, str) or len(pem) > 4096:
            return _error(422, "bad_key", "Kunci publik kios tidak ada atau bukan PEM.",
                          "The kiosk's public key is missing or not PEM.")
        try:
            pem = keys.public_pem(keys.public_key_from_pem(pem, Ed25519PublicKey, source="public_key"))
        except KioskError:
            return _error(422, "bad_key", "Kunci publik bukan kunci Ed25519 PEM (SubjectPublicKeyInfo) yang sah.",
                          "The public key is not a valid Ed25519 PEM (SubjectPublicKeyInfo) key.")
        bad_code = _error(403, "bad_code", "Kode pendaftaran salah, kedaluwarsa atau sudah dipakai; minta kode baru "
                          "ke pusat (central kiosk invite).", "The enrolment code is wrong, expired or already used; "
                          "ask the centre for a new one (central kiosk invite).")
        if not isinstance(code, str) or not store_mod.valid_kiosk_id(kiosk_id) or len(code) > 64:
            return bad_code
        result = store.register_kiosk(kiosk_id, code, pem, now=clock())
        outcome = result["outcome"]
        if outcome == "locked":
            log.warning("registration of %s refused: locked after wrong codes", kiosk_id)
            resp = _error(429, "locked", f"Terlalu banyak kode salah; coba lagi dalam {result['retry_after']} detik.",
                          f"Too many wrong codes; try again in {result['retry_after']} s.",
                          retry_after=result["retry_after"])
            resp.headers["Retry-After"] = str(result["retry_after"])
            return resp
        if outcome == "bad_code":
            log.warning("registration of %s refused: bad code (%d wrong)%s", kiosk_id, result["failures"],
                        "; locked" if result["locked"] else "")
            return bad_code
        log.info("kiosk %s %s with an enrolment code", kiosk_id,
                 "registration retried" if outcome == "already" else "registered")
        return jsonify({"kiosk_id": kiosk_id, "registered_at": result["registered_at"]}), \
            (200 if outcome == "already" else 201)

    @app.get("/api/v1/progress")
    def progress():
        villages = store.progress()
        recorded = sum(v["recorded"] for v in villages)
        eligible = sum(v["eligible"] or 0 for v in villages)
        return {"villages": villages, "recorded": recorded, "eligible": eligible,
                "percent": round(100.0 * recorded / eligible, 1) if eligible else None}

    @app.errorhandler(KioskError)
    def kiosk_error(exc: KioskError):
        return _error(422, exc.code, exc.message.id, exc.message.en)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            return _error(413, "too_large", "Paket terlalu besar.", "The packet is too large.", limit=max_body)
        return _error(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.name, exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error")
        return _error(500, "internal_error", "Kesalahan di pusat; kirim ulang nanti.",
                      "Internal error at the centre; send again later.")

    return app
