"""Enrolment codes in the store, on SQLite and PostgreSQL (the store fixture is in conftest.py)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk import keys


def pem():
    return keys.public_pem(Ed25519PrivateKey.generate().public_key())


def test_code_is_one_time_idempotent_and_locks(store):
    a, b = pem(), pem()
    code, _ = store.invite_kiosk("K1", ttl_hours=1, now=1000.0)
    assert all(code not in str(r) for r in store.enrolment_codes("K1"))  # only its hash is stored
    assert store.register_kiosk("K1", code.lower().replace("-", " "), a, now=1001.0)["outcome"] == "registered"
    assert store.kiosk_key("K1") == a
    assert store.register_kiosk("K1", code, a, now=1002.0) == {"outcome": "already", "registered_at": 1001.0}
    assert store.register_kiosk("K1", code, b, now=1003.0)["outcome"] == "bad_code"  # used code, other key
    assert store.kiosk_key("K1") == a
    expired, _ = store.invite_kiosk("K2", expires_at=999.0, now=990.0)
    assert store.register_kiosk("K2", expired, a, now=1000.0)["outcome"] == "bad_code"
    good, _ = store.invite_kiosk("K2", ttl_hours=1, now=1000.0)
    for i in range(5):
        assert store.register_kiosk("K2", "WRONG", a, now=1000.0 + i)["outcome"] == "bad_code"
    r = store.register_kiosk("K2", good, a, now=1010.0)
    assert r["outcome"] == "locked" and r["retry_after"] > 800 and store.kiosk_key("K2") is None
    assert store.register_kiosk("K2", good, a, now=1010.0 + 15 * 60)["outcome"] == "registered"
