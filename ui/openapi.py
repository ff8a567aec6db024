"""The OpenAPI 3.1 document of /api/v1, kept beside the routes (a test checks they agree)."""

from __future__ import annotations

import kiosk as _pkg

ERROR = {"$ref": "#/components/schemas/Error"}
OBJ = {"type": "object"}

# (method, path, summary, request body schema or media type, {status: description})
ROUTES = [
    ("post", "/auth/login", "Log in with operator id and PIN; sets the session cookie",
     {"type": "object", "required": ["operator", "pin"],
      "properties": {"operator": {"type": "string"}, "pin": {"type": "string"}}},
     {200: "token", 401: "wrong PIN", 423: "locked out"}),
    ("post", "/auth/logout", "End the session", None, {200: "logged out"}),
    ("get", "/auth/me", "The logged-in operator", None, {200: "operator", 401: "not logged in"}),
    ("get", "/devices", "State of each device", None, {200: "camera, fingerprint, smartcard, power, network"}),
    ("get", "/status", "Status bar: devices, outbox counts, power, operator", None, {200: "status"}),
    ("get", "/nik/{nik}", "Parse and validate a NIK (same as `kiosk nik --json`)", None, {200: "decoded NIK"}),
    ("post", "/enrollments", "Start an enrollment (biodata may be omitted when the NIK is in the register)",
     {"type": "object", "required": ["nik"], "properties": {
         k: {"type": "string"} for k in ("nik", "name", "birth_place", "birth_date", "sex", "blood_type", "address",
                                         "rt", "rw", "village", "district", "religion", "marital_status",
                                         "occupation", "citizenship", "session_village")}},
     {201: "enrollment", 409: "a draft exists for this NIK", 422: "bad NIK or biodata"}),
    ("get", "/enrollments", "Drafts that can be resumed", None, {200: "drafts"}),
    ("get", "/enrollments/{id}", "One enrollment, with what commit still needs in `missing`", None,
     {200: "enrollment", 404: "unknown id"}),
    ("post", "/enrollments/{id}/biodata", "Confirm the biodata, or correct it with a reason (and a document)",
     {"type": "object", "properties": {"changes": OBJ, "reason": {"type": "string"}, "document": {"type": "string"}}},
     {200: "enrollment", 409: "not a draft", 422: "invalid correction"}),
    ("post", "/enrollments/{id}/photo", "Capture the photo from the camera and judge its quality", None,
     {200: "accepted, quality, reasons", 503: "camera unavailable"}),
    ("get", "/enrollments/{id}/photo.jpg", "The accepted photo", None, {200: "image/jpeg", 404: "none yet"}),
    ("post", "/enrollments/{id}/signature", "Store the signature", "image/png", {200: "accepted, reasons"}),
    ("get", "/enrollments/{id}/signature.png", "The stored signature", None, {200: "image/png"}),
    ("post", "/enrollments/{id}/fingers/{pos}", "Capture one finger (ISO position 1-10), waiting for it",
     {"type": "object", "properties": {"timeout": {"type": "number", "minimum": 0, "maximum": 60}, "no_finger_status": {"enum": [408, 422]}}},
     {200: "position, accepted, quality, reasons, attempts", 408: "no finger in time", 422: "bad position"}),
    ("get", "/enrollments/{id}/fingers/{pos}.png", "A captured finger image", None, {200: "image/png"}),
    ("post", "/enrollments/{id}/fingers/{pos}/exception", "Record a finger exception with its reason",
     {"type": "object", "required": ["reason"], "properties": {
         "reason": {"enum": ["amputated", "injured", "bandaged", "unreadable"]}}}, {200: "exception recorded"}),
    ("post", "/enrollments/{id}/fingers/{pos}/exception/approve",
     "A supervisor approves a finger exception (logged in as a supervisor, or with a supervisor's id and PIN); "
     "until then `missing` lists `approval:{pos}`",
     {"type": "object", "properties": {"supervisor": {"type": "string"}, "pin": {"type": "string"}}},
     {200: "position, exception, approved_by", 401: "wrong supervisor PIN", 403: "not a supervisor",
      409: "no exception recorded for this finger"}),
    ("post", "/enrollments/{id}/verify/{pos}",
     "Re-capture an index finger (2 or 7) and match it 1:1 against its first capture; until matched "
     "`missing` lists `verify:{pos}`",
     {"type": "object", "properties": {"timeout": {"type": "number", "minimum": 0, "maximum": 60}, "no_finger_status": {"enum": [408, 422]}}},
     {200: "position, matched, score, threshold, attempts, verified", 408: "no finger in time",
      409: "finger not captured yet", 422: "not an index finger"}),
    ("get", "/review", "Supervisor: records flagged as possible duplicates (`?decided=1`: the decided ones)", None,
     {200: "open (or decided): [{enrollment_id, registration_id, nik, suspects, decision}]",
      403: "not a supervisor"}),
    ("post", "/review/{id}", "Supervisor: decide on a flagged record",
     {"type": "object", "required": ["decision", "reason"], "properties": {
         "decision": {"enum": ["same_person", "different_person"]}, "reason": {"type": "string"}}},
     {200: "the review item", 403: "not a supervisor", 404: "not in the queue", 409: "already decided",
      422: "bad decision or no reason"}),
    ("post", "/enrollments/{id}/commit", "Save the record and queue it for the centre",
     {"type": "object", "properties": {"override": {"type": "object", "properties": {
         "supervisor": {"type": "string"}, "pin": {"type": "string"}, "reason": {"type": "string"}}}}},
     {200: "registration_id, status, duplicate_suspects [{nik, score, fingers, registration_id}], flagged "
           "(saved and queued for a supervisor's review when any)",
      409: "incomplete (missing: finger:N, approval:N, verify:N, ...), already recorded or already saved"}),
    ("post", "/enrollments/{id}/abandon", "Abandon a draft (its biometrics are deleted)",
     {"type": "object", "properties": {"reason": {"type": "string"}}}, {200: "enrollment"}),
    ("get", "/enrollments/{id}/receipt.svg", "QR code of the receipt", None, {200: "image/svg+xml"}),
    ("post", "/enrollments/{id}/card", "Personalise the chip card (only for print-ready records)", None,
     {409: "not print-ready"}),
    ("get", "/outbox", "Queue counts and recent entries (no personal data)", None, {200: "counts"}),
    ("get", "/reports/progress", "Recorded vs eligible per village", None, {200: "progress"}),
    ("get", "/camera/preview.jpg", "One live preview frame", None, {200: "image/jpeg", 503: "camera unavailable"}),
    ("get", "/fingerprint/progress", "Phase of the finger capture in progress (waiting_for_finger, imaging, "
     "uploading with bytes done / total)", None, {200: "phase, done, total, fraction, position, error"}),
    ("get", "/openapi.json", "This document", None, {200: "OpenAPI document"}),
    ("post", "/sim/finger", "Simulated: which synthetic person's finger is on the sensor",
     {"type": "object", "properties": {"subject": {"type": "integer"}, "quality": {"type": "number"},
                                       "present": {"type": "boolean"},
                                       "fault": {"enum": ["bad_checksum", "silence", "garbage", "disconnect",
                                                          "messy_image", None]}}},
     {200: "sensor state", 404: "not simulated"}),
    ("post", "/sim/face", "Simulated: what the camera sees",
     {"type": "object", "properties": {"subject": {"type": "integer"}, "none": {"type": "boolean"}}}, {200: "scene"}),
    ("post", "/sim/power", "Simulated: mains and battery",
     {"type": "object", "properties": {"mains": {"type": "boolean"}, "battery_percent": {"type": "number"}}},
     {200: "reading"}),
    ("post", "/sim/network", "Simulated: link to the centre up or down",
     {"type": "object", "properties": {"up": {"type": "boolean"}}}, {200: "link state"}),
    ("post", "/sim/card", "Simulated: a card in the reader or not",
     {"type": "object", "properties": {"present": {"type": "boolean"}}}, {200: "reader state"}),
]


def document() -> dict:
    paths: dict = {}
    for method, path, summary, req, responses in ROUTES:
        op: dict = {"summary": summary, "responses": {
            str(code): {"description": text, "content": {"application/json": {
                "schema": ERROR if code >= 400 else OBJ}}} for code, text in responses.items()}}
        if not path.startswith("/auth/login") and not path.startswith("/sim/") and path not in (
                "/openapi.json", "/status"):
            op["security"] = [{"bearer": []}, {"cookie": []}]
            op["responses"].setdefault("401", {"description": "not logged in",
                                               "content": {"application/json": {"schema": ERROR}}})
        if isinstance(req, str):
            op["requestBody"] = {"content": {req: {"schema": {"type": "string", "format": "binary"}}}}
        elif req is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": req}}}
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in ("id", "pos", "nik") if "{" + name + "}" in path]
        if params:
            op["parameters"] = params
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "ektp-kiosk API", "version": _pkg.__version__,
                 "description": "The kiosk's own backend and scripting interface. Errors are "
                                "{error, message, message_id, message_en}."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"},
                "message_id": {"type": "string"}, "message_en": {"type": "string"}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "kiosk_token"}},
        },
    }
