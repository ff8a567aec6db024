"""Key files: the kiosk's Ed25519 signing pair and the centre's X25519 encryption pair.

Private keys are PKCS#8 PEM with mode 0600, written atomically (temp file created 0600, fsync,
rename) so a power cut never leaves half a key; public keys are SubjectPublicKeyInfo PEM.
A key is never overwritten by accident: losing the kiosk's key orphans its queue at the centre,
losing the centre's key makes every sealed packet in the field unreadable.
A private key that group or others can read is refused, as ssh does, because it is either a
mistake or already leaked.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from kiosk.errors import Conflict, InvalidInput, StorageError

KEYS_DIR = "keys"
KIOSK_PRIVATE = "kiosk_ed25519.key"
KIOSK_PUBLIC = "kiosk_ed25519.pub"
CENTRAL_PRIVATE = "central_x25519.key"
CENTRAL_PUBLIC = "central_x25519.pub"

_NAMES = {Ed25519PrivateKey: "Ed25519 private", Ed25519PublicKey: "Ed25519 public",
          X25519PrivateKey: "X25519 private", X25519PublicKey: "X25519 public"}


def kiosk_key_paths(data_dir) -> tuple[Path, Path]:
    d = Path(data_dir) / KEYS_DIR
    return d / KIOSK_PRIVATE, d / KIOSK_PUBLIC


def central_key_paths(data_dir) -> tuple[Path, Path]:
    d = Path(data_dir) / KEYS_DIR
    return d / CENTRAL_PRIVATE, d / CENTRAL_PUBLIC


# --- writing --------------------------------------------------------------------------------
def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, mode: int, *, force: bool) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL + the mode at creation: the secret is never readable by others, not even for an instant.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; a public key should stay readable
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: no silent overwrite
            os.unlink(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _generate(private_key, private_path: Path, public_path: Path, what: str, *, force: bool) -> tuple[Path, Path]:
    if not force:
        for p in (private_path, public_path):
            if p.exists():
                raise Conflict("key_exists",
                               f"Kunci {what} sudah ada di {p}; tidak ditimpa. Pakai --force hanya bila yakin "
                               "kunci lama tidak diperlukan lagi.",
                               f"The {what} key already exists at {p}; not overwritten. Use --force only if the "
                               "old key is no longer needed.", path=str(p))
    private_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(private_path.parent, 0o700)
        _write_atomic(private_path, private_pem, 0o600, force=force)
        _write_atomic(public_path, public_pem, 0o644, force=force)
    except FileExistsError as exc:
        raise Conflict("key_exists", f"Kunci {what} sudah ada di {exc.filename}; tidak ditimpa.",
                       f"The {what} key already exists at {exc.filename}; not overwritten.") from None
    except OSError as exc:
        raise StorageError("key_write_failed", f"Kunci {what} tidak bisa ditulis ke {private_path.parent}: "
                           f"{exc.strerror}.", f"Could not write the {what} key to {private_path.parent}: "
                           f"{exc.strerror}.") from None
    return private_path, public_path


def generate_kiosk_keys(data_dir, *, force: bool = False) -> tuple[Path, Path]:
    """The kiosk's signing pair; returns (private_path, public_path)."""
    return _generate(Ed25519PrivateKey.generate(), *kiosk_key_paths(data_dir), "kiosk (Ed25519)", force=force)


def generate_central_keys(data_dir, *, force: bool = False) -> tuple[Path, Path]:
    """The centre's encryption pair; returns (private_path, public_path)."""
    return _generate(X25519PrivateKey.generate(), *central_key_paths(data_dir), "centre (X25519)", force=force)


# --- reading --------------------------------------------------------------------------------
def _read(path, *, private: bool) -> bytes:
    path = Path(path)
    try:
        st = path.stat()
        if private and os.name == "posix" and st.st_mode & 0o077:
            raise InvalidInput("key_permissions",
                               f"Berkas kunci rahasia {path} bisa dibaca orang lain (mode "
                               f"{stat.S_IMODE(st.st_mode):04o}); jalankan: chmod 600 {path}",
                               f"The private key file {path} is readable by others (mode "
                               f"{stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}", path=str(path))
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput("key_missing", f"Berkas kunci tidak ada: {path}", f"Key file not found: {path}",
                           path=str(path)) from None
    except IsADirectoryError:
        raise InvalidInput("key_invalid", f"{path} adalah folder, bukan berkas kunci.",
                           f"{path} is a directory, not a key file.", path=str(path)) from None
    except OSError as exc:
        raise StorageError("key_unreadable", f"Berkas kunci {path} tidak bisa dibaca: {exc.strerror}.",
                           f"Could not read the key file {path}: {exc.strerror}.", path=str(path)) from None


def _parse(data: bytes, source: str, kinds: tuple[type, ...], *, private: bool):
    try:
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except Exception as exc:  # noqa: BLE001 - ValueError, TypeError, UnsupportedAlgorithm
        kind = "rahasia" if private else "publik"
        raise InvalidInput("key_invalid", f"{source} bukan berkas kunci {kind} PEM yang sah.",
                           f"{source} is not a valid {'private' if private else 'public'} PEM key file.",
                           path=source) from exc
    if not isinstance(key, kinds):
        want = " / ".join(_NAMES[k] for k in kinds)
        raise InvalidInput("key_wrong_type", f"{source} berisi kunci jenis lain; yang diperlukan: {want}.",
                           f"{source} holds a different kind of key; expected {want}.", path=source)
    return key


def load_signing_key(path) -> Ed25519PrivateKey:
    """The kiosk's Ed25519 private key (0600 PKCS#8 PEM)."""
    return _parse(_read(path, private=True), str(path), (Ed25519PrivateKey,), private=True)


def load_decryption_key(path) -> X25519PrivateKey:
    """The centre's X25519 private key (0600 PKCS#8 PEM)."""
    return _parse(_read(path, private=True), str(path), (X25519PrivateKey,), private=True)


load_central_private_key = load_decryption_key


def load_public_key(path, kind: type | None = None) -> Ed25519PublicKey | X25519PublicKey:
    """A public key file: the kiosk's Ed25519 or the centre's X25519; ``kind`` narrows it to one."""
    kinds = (kind,) if kind else (Ed25519PublicKey, X25519PublicKey)
    return _parse(_read(path, private=False), str(path), kinds, private=False)


def load_central_public_key(path) -> X25519PublicKey:
    return load_public_key(path, X25519PublicKey)


def public_key_from_pem(data: bytes | str, kind: type | None = None, *, source: str = "public key"):
    """A public key held as PEM text (e.g. in the centre's database)."""
    kinds = (kind,) if kind else (Ed25519PublicKey, X25519PublicKey)
    return _parse(data.encode() if isinstance(data, str) else data, source, kinds, private=False)


def public_pem(key) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# --- signed requests (protocol: status feed) ------------------------------------------------
def request_message(method: str, path_with_query: str, unix_time: int) -> bytes:
    return f"{method.upper()}\n{path_with_query}\n{int(unix_time)}".encode("utf-8")


def sign_request(signing_key: Ed25519PrivateKey, method: str, path_with_query: str, unix_time: int) -> str:
    """Base64 Ed25519 signature for ``X-Kiosk-Signature`` (docs/central-protocol.md)."""
    return base64.b64encode(signing_key.sign(request_message(method, path_with_query, unix_time))).decode("ascii")


def status_request_headers(kiosk_id: str, signing_key: Ed25519PrivateKey, path_with_query: str,
                           unix_time: int) -> dict[str, str]:
    """All three headers of a signed status-feed request."""
    return {"X-Kiosk-Id": kiosk_id, "X-Kiosk-Time": str(int(unix_time)),
            "X-Kiosk-Signature": sign_request(signing_key, "GET", path_with_query, unix_time)}
