"""Key files: modes, no accidental overwrite, and a clear bilingual error for every bad file."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from kiosk import keys
from kiosk.errors import Conflict, InvalidInput, KioskError, StorageError


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_kiosk_keys_written_with_private_0600(tmp_path):
    old = os.umask(0o022)
    try:
        private, public = keys.generate_kiosk_keys(tmp_path)
    finally:
        os.umask(old)
    assert (private, public) == keys.kiosk_key_paths(tmp_path)
    assert private.parent == tmp_path / "keys"
    assert mode(private) == 0o600 and mode(public) == 0o644 and mode(private.parent) == 0o700
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    sk = keys.load_signing_key(private)
    pk = keys.load_public_key(public)
    assert isinstance(sk, Ed25519PrivateKey) and isinstance(pk, Ed25519PublicKey)
    pk.verify(sk.sign(b"x"), b"x")  # the pair belongs together
    assert [p.name for p in private.parent.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_central_keys_are_an_x25519_pair(tmp_path):
    private, public = keys.generate_central_keys(tmp_path)
    assert private.name == "central_x25519.key" and public.name == "central_x25519.pub"
    assert mode(private) == 0o600
    sk = keys.load_decryption_key(private)
    pk = keys.load_central_public_key(public)
    assert isinstance(sk, X25519PrivateKey) and isinstance(pk, X25519PublicKey)
    other = X25519PrivateKey.generate()
    assert sk.exchange(other.public_key()) == other.exchange(pk)


def test_refuses_to_overwrite_unless_forced(tmp_path):
    private, public = keys.generate_kiosk_keys(tmp_path)
    before = private.read_bytes()
    with pytest.raises(Conflict) as err:
        keys.generate_kiosk_keys(tmp_path)
    assert err.value.code == "key_exists"
    assert "tidak ditimpa" in err.value.message.id and "not overwritten" in err.value.message.en
    assert private.read_bytes() == before
    keys.generate_kiosk_keys(tmp_path, force=True)
    assert private.read_bytes() != before and mode(private) == 0o600


def test_refuses_when_only_the_public_file_exists(tmp_path):
    _, public = keys.kiosk_key_paths(tmp_path)
    public.parent.mkdir(parents=True)
    public.write_text("keep me")
    with pytest.raises(Conflict):
        keys.generate_kiosk_keys(tmp_path)
    assert public.read_text() == "keep me" and not keys.kiosk_key_paths(tmp_path)[0].exists()


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInput) as err:
        keys.load_signing_key(tmp_path / "nope.key")
    assert err.value.code == "key_missing" and "tidak ada" in err.value.message.id


def test_world_readable_private_key_is_refused(tmp_path):
    private, _ = keys.generate_kiosk_keys(tmp_path)
    os.chmod(private, 0o644)
    with pytest.raises(InvalidInput) as err:
        keys.load_signing_key(private)
    assert err.value.code == "key_permissions" and "chmod 600" in err.value.message.en
    os.chmod(private, 0o640)
    with pytest.raises(InvalidInput):
        keys.load_signing_key(private)
    os.chmod(private, 0o600)
    keys.load_signing_key(private)


def test_wrong_type_of_key(tmp_path):
    kiosk_private, kiosk_public = keys.generate_kiosk_keys(tmp_path)
    central_private, central_public = keys.generate_central_keys(tmp_path)
    for call, path in ((keys.load_signing_key, central_private), (keys.load_decryption_key, kiosk_private),
                       (keys.load_central_public_key, kiosk_public)):
        with pytest.raises(InvalidInput) as err:
            call(path)
        assert err.value.code == "key_wrong_type", call
    with pytest.raises(InvalidInput) as err:
        keys.load_public_key(kiosk_private)  # a private key where a public one is expected
    assert err.value.code == "key_invalid"
    with pytest.raises(InvalidInput) as err:
        keys.load_public_key(central_public, Ed25519PublicKey)
    assert err.value.code == "key_wrong_type"


def test_garbage_file(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
    os.chmod(bad, 0o600)
    with pytest.raises(InvalidInput) as err:
        keys.load_signing_key(bad)
    assert err.value.code == "key_invalid"
    assert err.value.message.id != err.value.message.en


def test_unreadable_file(tmp_path):
    private, _ = keys.generate_kiosk_keys(tmp_path)
    os.chmod(private, 0o000)
    if os.access(private, os.R_OK):  # root reads anything: make it unreadable another way
        private.unlink()
        private.mkdir(mode=0o700)
        with pytest.raises(InvalidInput) as err:
            keys.load_signing_key(private)
        assert err.value.code == "key_invalid"
        return
    with pytest.raises(StorageError) as err:
        keys.load_signing_key(private)
    assert err.value.code == "key_unreadable"


def test_unwritable_directory_is_a_storage_error(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(StorageError) as err:
        keys.generate_kiosk_keys(blocker)
    assert err.value.code == "key_write_failed"


def test_signed_request_headers_verify():
    sk = Ed25519PrivateKey.generate()
    h = keys.status_request_headers("K1", sk, "/api/v1/kiosks/K1/status?since=3", 1700000000)
    assert h["X-Kiosk-Id"] == "K1" and h["X-Kiosk-Time"] == "1700000000"
    import base64
    sk.public_key().verify(base64.b64decode(h["X-Kiosk-Signature"]),
                           b"GET\n/api/v1/kiosks/K1/status?since=3\n1700000000")


def test_errors_are_kiosk_errors():
    assert issubclass(StorageError, KioskError) and issubclass(InvalidInput, ValueError)
