"""The HTTP contract of DESIGN §4, through Flask's test client on a real kiosk (real SQLite, simulated devices)."""

import pytest

from conftest import BIODATA, VALID_NIK, signature_png


def count(kiosk, table):
    return kiosk.store.one(f"SELECT COUNT(*) AS n FROM {table}")["n"]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_login_wrong_pin_and_lockout(client):
    for _ in range(4):
        r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "000000"})
        assert r.status_code == 401 and r.get_json()["error"] == "wrong_pin"
        assert r.get_json()["message"]  # Bahasa Indonesia by default
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "000000"})
    assert r.status_code == 423 and r.get_json()["error"] == "locked_out"
    assert int(r.headers["Retry-After"]) > 0
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"})
    assert r.status_code == 423


def test_login_sets_cookie_and_logout(client):
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"})
    assert "kiosk_token=" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
    assert client.get("/api/v1/auth/me").get_json()["id"] == "demo"  # cookie works
    client.post("/api/v1/auth/logout")
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/devices"), ("post", "/api/v1/enrollments"), ("get", "/api/v1/enrollments/x"),
    ("get", "/api/v1/outbox"), ("post", "/api/v1/enrollments/x/commit"), ("get", "/api/v1/reports/progress"),
])
def test_operator_endpoints_need_a_token(client, method, path):
    r = getattr(client, method)(path, json={})
    assert r.status_code == 401
    assert r.get_json()["error"] == "unauthenticated"


def test_bad_token(client):
    r = client.get("/api/v1/devices", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401


def test_devices_contract(client, auth):
    d = client.get("/api/v1/devices", headers=auth).get_json()
    assert set(d) == {"camera", "fingerprint", "smartcard", "power", "network"}
    for v in d.values():
        assert {"state", "detail", "backend"} <= set(v)
    assert d["fingerprint"]["backend"] == "sim"


def test_english_messages(client):
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "000000"},
                    headers={"Accept-Language": "en"})
    assert r.get_json()["message"] == "Wrong operator id or PIN."


def test_enrollment_end_to_end(client, auth, kiosk):
    r = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth)
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    eid = e["id"]
    assert e["nik"] == VALID_NIK and e["state"] == "draft" and "photo" in e["missing"]
    assert client.post(f"/api/v1/enrollments/{eid}/biodata", json={}, headers=auth).status_code == 200
    photo = client.post(f"/api/v1/enrollments/{eid}/photo", headers=auth).get_json()
    assert photo["accepted"] and 0 <= photo["quality"] <= 100 and photo["reasons"] == []
    assert client.get(f"/api/v1/enrollments/{eid}/photo.jpg", headers=auth).mimetype == "image/jpeg"
    sig = client.post(f"/api/v1/enrollments/{eid}/signature", data=signature_png(), content_type="image/png",
                      headers=auth).get_json()
    assert sig["accepted"]
    for pos in range(1, 10):
        f = client.post(f"/api/v1/enrollments/{eid}/fingers/{pos}", headers=auth).get_json()
        assert f["position"] == pos and f["accepted"] and "quality" in f and "reasons" in f
    r = client.post(f"/api/v1/enrollments/{eid}/commit", headers=auth)
    assert r.status_code == 409 and r.get_json() ["error"] == "incomplete"
    assert r.get_json()["missing"] == ["finger:10", "verify:2", "verify:7"]
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/10/exception", json={"reason": "amputated"}, headers=auth)
    assert r.status_code == 200 and r.get_json()["pending"]
    # The exception waits for a supervisor; the logged-in demo operator is one.
    assert client.get(f"/api/v1/enrollments/{eid}", headers=auth).get_json()["missing"] == [
        "approval:10", "verify:2", "verify:7"]
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/10/exception/approve", json={}, headers=auth)
    assert r.status_code == 200 and r.get_json()["approved_by"] == "demo"
    for pos in (2, 7):
        v = client.post(f"/api/v1/enrollments/{eid}/verify/{pos}", json={}, headers=auth).get_json()
        assert v["matched"] is True and v["score"] >= v["threshold"]
    assert client.get(f"/api/v1/enrollments/{eid}", headers=auth).get_json()["missing"] == []
    r = client.post(f"/api/v1/enrollments/{eid}/commit", headers=auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["registration_id"] and body["duplicate_suspects"] == []
    assert client.get(f"/api/v1/enrollments/{eid}/receipt.svg", headers=auth).mimetype == "image/svg+xml"
    out = client.get("/api/v1/outbox", headers=auth).get_json()
    assert out["queued"] == 1 and out["sent"] == 0
    r = client.post(f"/api/v1/enrollments/{eid}/card", headers=auth)
    assert r.status_code == 409 and r.get_json()["error"] == "not_print_ready"


def test_invalid_nik_is_422_and_nothing_stored(client, auth, kiosk):
    r = client.post("/api/v1/enrollments", json=dict(BIODATA, nik="64030641079000AB"), headers=auth)
    assert r.status_code == 422 and r.get_json()["error"] == "invalid_nik"
    assert count(kiosk, "enrollments") == 0


def test_biodata_disagreeing_with_nik_is_422(client, auth, kiosk):
    r = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK, birth_date="1991-07-01"), headers=auth)
    assert r.status_code == 422
    assert "nik_birth_date_mismatch" in {p["code"] for p in r.get_json()["problems"]}
    assert count(kiosk, "enrollments") == 0


@pytest.mark.parametrize("data,ctype", [(b"{not json", "application/json"), (b"[1, 2]", "application/json"),
                                        (b"\xff\xfe", "application/json")])
def test_malformed_body_is_4xx(client, auth, kiosk, data, ctype):
    r = client.post("/api/v1/enrollments", data=data, content_type=ctype, headers=auth)
    assert 400 <= r.status_code < 500 and r.get_json()["error"]
    assert count(kiosk, "enrollments") == 0


def test_oversized_body_is_413(client, auth, kiosk):
    big = b"x" * (kiosk.config.get("ui", "max_body_kb") * 1024 + 10)
    r = client.post("/api/v1/enrollments", data=big, content_type="application/json", headers=auth)
    assert r.status_code == 413 and r.get_json()["error"]


def test_wrong_field_types(client, auth, kiosk):
    r = client.post("/api/v1/enrollments", json={"nik": ["6403064107900003"]}, headers=auth)
    assert r.status_code == 422
    assert count(kiosk, "enrollments") == 0


def test_unknown_enrollment_404(client, auth):
    r = client.get("/api/v1/enrollments/does-not-exist", headers=auth)
    assert r.status_code == 404 and r.get_json()["error"] == "enrollment_not_found"


def test_no_finger_is_408(client, auth):
    eid = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth).get_json()["id"]
    client.post("/api/v1/sim/finger", json={"present": False})
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/2", json={"timeout": 0.2}, headers=auth)
    assert r.status_code == 408 and r.get_json()["error"] == "no_finger"


def test_signature_must_be_png(client, auth):
    eid = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth).get_json()["id"]
    r = client.post(f"/api/v1/enrollments/{eid}/signature", data=b"GIF89a....", content_type="image/gif", headers=auth)
    assert r.status_code == 422
    r = client.post(f"/api/v1/enrollments/{eid}/signature", data=b"\x89PNG\r\n\x1a\ngarbage",
                    content_type="image/png", headers=auth)
    assert r.status_code == 200 and not r.get_json()["accepted"]
    assert client.get(f"/api/v1/enrollments/{eid}", headers=auth).get_json()["signature"] is None


def test_sim_controls(client):
    assert client.post("/api/v1/sim/power", json={"mains": False, "battery_percent": 40}).get_json()["mains"] is False
    assert client.post("/api/v1/sim/power", json={"battery_percent": 140}).status_code == 422
    assert client.post("/api/v1/sim/network", json={"up": False}).get_json()["up"] is False
    assert client.post("/api/v1/sim/card", json={"present": True}).get_json()["present"] is True
    assert client.post("/api/v1/sim/face", json={"none": True}).get_json()["subject"] is None
    assert client.post("/api/v1/sim/finger", json={"subject": 7, "quality": 0.9}).get_json()["subject"] == 7
    assert client.post("/api/v1/sim/finger", json={"subject": "seven"}).status_code == 422
    status = client.get("/api/v1/status").get_json()
    assert status["power"]["mains"] is False and status["devices"]["network"]["state"] == "fault"


def test_openapi_lists_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule[len("/api/v1"):]
        for conv in ("<int:pos>", "<pos>", "<eid>", "<path:nik>"):
            path = path.replace(conv, {"<int:pos>": "{pos}", "<pos>": "{pos}", "<eid>": "{id}",
                                       "<path:nik>": "{nik}"}[conv])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, path)


def test_no_finger_can_be_asked_as_422_for_browsers(client, auth):
    # Chromium re-sends a request answered 408 on a reused connection; the UI asks for 422 instead.
    eid = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth).get_json()["id"]
    client.post("/api/v1/sim/finger", json={"present": False})
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/2", json={"timeout": 0.2, "no_finger_status": 422},
                    headers=auth)
    assert r.status_code == 422 and r.get_json()["error"] == "no_finger"
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/2", json={"timeout": 0.2, "no_finger_status": 500},
                    headers=auth)
    assert r.status_code == 422 and r.get_json()["error"] == "bad_field"
    assert client.get(f"/api/v1/enrollments/{eid}", headers=auth).get_json()["fingers"]["2"]["state"] == "missing"
