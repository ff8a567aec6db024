"""Shared fixtures: a real kiosk (real SQLite, simulated devices) in a temporary data directory."""

from __future__ import annotations


import pytest

from drivers.sim import resident
from kiosk.app import build_kiosk
from kiosk.config import load_config

VALID_NIK = resident.nik(3)  # Kab. Berau, Kec. Gunung Tabur; female, born 1 July 1990
BIODATA = dict(resident.BIODATA)


@pytest.fixture
def config(tmp_path):
    return load_config(simulate=True, overrides={"kiosk": {"data_dir": str(tmp_path / "data")},
                                                 "enrollment": {"finger_timeout_seconds": 2.0}})


@pytest.fixture
def kiosk(config):
    k = build_kiosk(config, start_workers=False)
    yield k
    k.close()


@pytest.fixture
def demo(kiosk):
    return kiosk.operators.verify_pin("demo", "123456")


@pytest.fixture
def app(kiosk):
    from ui import create_app
    a = create_app(kiosk)
    a.testing = True
    return a


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


signature_png = resident.signature_png


def complete_enrollment(kiosk, operator, nik=VALID_NIK, biodata=None) -> str:
    """Drive the real workflow to the review step; returns the enrollment id."""
    e = kiosk.enrollments.create(operator, nik, dict(biodata or BIODATA))
    eid = e["id"]
    kiosk.enrollments.confirm_biodata(operator, eid)
    assert kiosk.enrollments.capture_photo(operator, eid)["accepted"]
    assert kiosk.enrollments.set_signature(operator, eid, signature_png())["accepted"]
    for pos in range(1, 11):
        assert kiosk.enrollments.capture_finger(operator, eid, pos)["accepted"]
    for pos in (2, 7):  # the index fingers, re-captured and matched 1:1 before review
        assert kiosk.enrollments.verify_finger(operator, eid, pos)["matched"]
    return eid
