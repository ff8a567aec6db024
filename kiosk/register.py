"""`kiosk register`: send the kiosk's public key to the centre with a one-time enrolment code.

docs/central-protocol.md (Keys, HTTP). Each outcome has its own exit code so a script can tell
a wrong code (ask for a new one) from a link that is down (retry later) from a centre that
answers nonsense (call a technician).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

from kiosk import keys
from kiosk.errors import KioskError

EXIT_OK, EXIT_REFUSED, EXIT_LOCAL, EXIT_BAD_CODE, EXIT_UNREACHABLE, EXIT_GARBAGE = 0, 1, 2, 3, 4, 5


class RegisterError(KioskError):
    def __init__(self, exit_code: int, code: str, text_id: str, text_en: str, **details):
        super().__init__(code, text_id, text_en, **details)
        self.exit_code = exit_code


def read_public_key(data_dir) -> str:
    private, public = keys.kiosk_key_paths(data_dir)
    if not private.exists() or not public.exists():
        raise RegisterError(EXIT_LOCAL, "no_kiosk_key", f"Kunci kios belum dibuat ({public}); jalankan dulu: kiosk keygen",
                            f"The kiosk has no key yet ({public}); run first: kiosk keygen")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    pub = keys.load_public_key(public, Ed25519PublicKey)
    if keys.public_pem(keys.load_signing_key(private).public_key()) != keys.public_pem(pub):
        raise RegisterError(EXIT_LOCAL, "key_mismatch", f"{public} bukan pasangan kunci rahasia kios.",
                            f"{public} does not belong to the kiosk's private key.")
    return keys.public_pem(pub)


def _garbage(what: str) -> RegisterError:
    return RegisterError(EXIT_GARBAGE, "garbage", f"Jawaban pusat tidak bisa dipahami ({what}); periksa alamat "
                         "[central] url atau hubungi teknisi.", f"The centre's answer makes no sense ({what}); "
                         "check [central] url or call a technician.")


def register(url: str, kiosk_id: str, public_pem: str, code: str, *, timeout: float = 20.0) -> dict:
    """POST the key; returns {"kiosk_id", "registered_at", "already"} or raises RegisterError."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise RegisterError(EXIT_LOCAL, "bad_url", f"Alamat pusat tidak sah: {url!r}.",
                            f"The centre's address is not valid: {url!r}.")
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    path = f"{u.path.rstrip('/')}/api/v1/kiosks/{urllib.parse.quote(kiosk_id, safe='')}/register"
    body = json.dumps({"code": code, "public_key": public_pem}).encode()
    conn = cls(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        status, data = resp.status, resp.read(65536)
    except (http.client.BadStatusLine, http.client.LineTooLong) as exc:
        if isinstance(exc, http.client.RemoteDisconnected):
            raise _unreachable(exc) from None
        raise _garbage("not HTTP") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _unreachable(exc) from None
    finally:
        conn.close()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if status >= 500:
        raise _unreachable(None, status)
    if not isinstance(doc, dict):
        raise _garbage(f"HTTP {status}, not JSON")
    if status in (200, 201):
        if doc.get("kiosk_id") != kiosk_id or not isinstance(doc.get("registered_at"), (int, float)):
            raise _garbage(f"HTTP {status} without kiosk_id/registered_at")
        return {"kiosk_id": kiosk_id, "registered_at": doc["registered_at"], "already": status == 200}
    error = str(doc.get("error", ""))
    if status == 403 and error == "bad_code":
        raise RegisterError(EXIT_BAD_CODE, "bad_code", "Kode pendaftaran ditolak: salah, kedaluwarsa atau sudah "
                            "dipakai. Minta kode baru ke pusat.", "The enrolment code was refused: wrong, expired "
                            "or already used. Ask the centre for a new code.")
    if status == 429:
        wait = doc.get("retry_after", "?")
        raise RegisterError(EXIT_BAD_CODE, "locked", f"Terlalu banyak kode salah; pendaftaran kios ini dikunci "
                            f"{wait} detik lagi.", f"Too many wrong codes; this kiosk's registration is locked for "
                            f"{wait} s more.", retry_after=wait)
    if status == 404:
        raise RegisterError(EXIT_REFUSED, "not_supported", "Pusat ini tidak menerima pendaftaran kios (versi lama?); "
                            "pakai central kiosk add.", "This centre does not accept kiosk registration (older "
                            "version?); use central kiosk add.")
    msg_id, msg_en = str(doc.get("message_id", error)), str(doc.get("message_en", error))
    raise RegisterError(EXIT_REFUSED, error or "refused", f"Pusat menolak (HTTP {status}): {msg_id}",
                        f"The centre refused (HTTP {status}): {msg_en}")


def _unreachable(exc, status: int | None = None) -> RegisterError:
    why = f"HTTP {status}" if status else (getattr(exc, "strerror", None) or type(exc).__name__)
    return RegisterError(EXIT_UNREACHABLE, "unreachable", f"Pusat tidak terjangkau ({why}); coba lagi saat "
                         "sambungan ke pusat sudah ada (kode tetap berlaku).", f"The centre cannot be reached "
                         f"({why}); try again when the link is up (the code stays valid).")
