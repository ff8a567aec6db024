"""Simulation controls (DESIGN §4), registered only when the kiosk runs simulated devices.

Each endpoint answers 404 unless its own device is simulated, so a kiosk with a real
sensor and a simulated card reader cannot be fed fake fingers.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from kiosk.errors import InvalidInput, NotFound
from ui.api import body
from ui.auth import kiosk

bp = Blueprint("sim", __name__, url_prefix="/api/v1/sim")

FINGER_FAULTS = ("bad_checksum", "silence", "garbage", "disconnect", "messy_image")  # R30xModule's faults


def _device(name: str):
    dev = getattr(kiosk().devices, name)
    if not dev.simulated:
        raise NotFound("not_simulated", f"Perangkat {name} tidak disimulasikan.", f"The {name} is not simulated.")
    return dev


def _int(data, key):
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**9:
        raise InvalidInput("bad_field", f"{key} harus bilangan bulat 0-999999999.",
                           f"{key} must be a whole number 0-999999999.", field=key)
    return value


def _bool(data, key):
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput("bad_field", f"{key} harus true/false.", f"{key} must be true or false.", field=key)
    return value


@bp.post("/finger")
def finger():
    data = body()
    dev = _device("fingerprint")
    quality = data.get("quality")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, (int, float))
                                or not 0 <= quality <= 1):
        raise InvalidInput("bad_field", "quality harus 0 sampai 1.", "quality must be 0 to 1.", field="quality")
    present = _bool(data, "present")
    fault = data.get("fault")
    if fault is not None and fault not in FINGER_FAULTS:
        raise InvalidInput("bad_field", f"fault harus salah satu dari {', '.join(FINGER_FAULTS)} atau null.",
                           f"fault must be one of {', '.join(FINGER_FAULTS)} or null.", field="fault")
    # A body that only sets a fault leaves the finger as it is.
    if "fault" not in data or any(k in data for k in ("subject", "present", "quality")):
        dev.place(_int(data, "subject"), present=present is not False, quality=quality)
    if "fault" in data:
        dev.inject(fault)  # None clears every fault and plugs the module back in
    return jsonify({"present": dev.present, "subject": dev.subject, "quality": dev.quality,
                    "faults": dev.module.faults})


@bp.post("/face")
def face():
    data = body()
    dev = _device("camera")
    if _bool(data, "none"):
        dev.show(None)
    else:
        subject = _int(data, "subject")
        if subject is None:
            raise InvalidInput("bad_field", "Isi subject atau none: true.", "Give subject or none: true.")
        dev.show(subject)
    return jsonify({"subject": dev.subject})


@bp.post("/power")
def power():
    data = body()
    dev = _device("power")
    pct = data.get("battery_percent")
    if pct is not None and (isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100):
        raise InvalidInput("bad_field", "battery_percent harus 0-100.", "battery_percent must be 0-100.")
    dev.set(mains=_bool(data, "mains"), battery_percent=pct)
    return jsonify(dev.read().as_dict())


@bp.post("/network")
def network():
    data = body()
    dev = _device("network")
    up = _bool(data, "up")
    if up is None:
        raise InvalidInput("bad_field", "Isi up: true atau false.", "Give up: true or false.")
    dev.set(up)
    return jsonify({"up": dev.up})


@bp.post("/card")
def card():
    data = body()
    dev = _device("smartcard")
    present = _bool(data, "present")
    if present is None:
        raise InvalidInput("bad_field", "Isi present: true atau false.", "Give present: true or false.")
    dev.set(present)
    return jsonify({"present": dev.present})
