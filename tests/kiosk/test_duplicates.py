"""Issue #3 "Flow": supervisor-approved finger exceptions, index-finger verification, and the 1:N
duplicate search at commit with its supervisor review queue (kiosk/duplicates.py, kiosk/enrollment.py),
through the real service and the real HTTP API on a simulated kiosk (fingerprint module on a pty)."""

from __future__ import annotations

import pytest

from kiosk.app import build_kiosk
from kiosk.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound

from conftest import BIODATA, VALID_NIK, complete_enrollment, signature_png

OTHER_NIK = "6403061203850001"  # Kab. Berau, Gunung Tabur; a man born 12 March 1985
OTHER = dict(BIODATA, name="Budi Santoso", sex="L", birth_date="1985-03-12")


def count(kiosk, table, where="1=1", params=()):
    return kiosk.store.one(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", params)["n"]


def operator(kiosk, name="budi", role="operator", pin="246810"):
    kiosk.operators.add(name, role, pin)
    return kiosk.operators.verify_pin(name, pin)


def draft_with_fingers(kiosk, op, nik=VALID_NIK, biodata=None, fingers=range(1, 11)):
    e = kiosk.enrollments.create(op, nik, dict(biodata or BIODATA))
    eid = e["id"]
    kiosk.enrollments.confirm_biodata(op, eid)
    assert kiosk.enrollments.capture_photo(op, eid)["accepted"]
    assert kiosk.enrollments.set_signature(op, eid, signature_png())["accepted"]
    for pos in fingers:
        assert kiosk.enrollments.capture_finger(op, eid, pos)["accepted"]
    return eid


# --- finger exceptions need a supervisor --------------------------------------------------------
def test_an_exception_is_pending_until_a_supervisor_approves_it(kiosk):
    budi = operator(kiosk)
    eid = draft_with_fingers(kiosk, budi, fingers=[p for p in range(1, 11) if p != 4])
    for pos in (2, 7):
        assert kiosk.enrollments.verify_finger(budi, eid, pos)["matched"]
    r = kiosk.enrollments.finger_exception(budi, eid, 4, "injured")
    assert r["pending"] and r["approved_by"] is None
    e = kiosk.enrollments.get(eid)
    assert e["missing"] == ["approval:4"] and e["step"] == "fingers"
    assert e["fingers"]["4"]["exception_pending"] and e["fingers"]["4"]["state"] == "exception"
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.commit(budi, eid)
    assert info.value.code == "incomplete" and info.value.details["missing"] == ["approval:4"]

    # An operator cannot approve it, neither alone nor with his own PIN; a wrong supervisor PIN fails.
    with pytest.raises(Forbidden) as info:
        kiosk.enrollments.approve_exception(budi, eid, 4)
    assert "supervisor" in info.value.message.id and "supervisor" in info.value.message.en
    with pytest.raises(Forbidden):
        kiosk.enrollments.approve_exception(budi, eid, 4, supervisor="budi", pin="246810")
    with pytest.raises(AuthError):
        kiosk.enrollments.approve_exception(budi, eid, 4, supervisor="demo", pin="000000")
    with pytest.raises(Conflict) as info:  # a captured finger has no exception to approve
        kiosk.enrollments.approve_exception(budi, eid, 5, supervisor="demo", pin="123456")
    assert info.value.code == "no_exception"
    assert kiosk.enrollments.get(eid)["missing"] == ["approval:4"]
    assert count(kiosk, "audit", "action = 'enrollment.finger_exception_approved'") == 0

    r = kiosk.enrollments.approve_exception(budi, eid, 4, supervisor="demo", pin="123456")
    assert r["approved_by"] == "demo" and not r["pending"]
    e = kiosk.enrollments.get(eid)
    assert e["missing"] == [] and e["step"] == "review" and e["fingers"]["4"]["exception_approved_by"] == "demo"
    row = kiosk.store.one("SELECT actor, detail FROM audit WHERE action = 'enrollment.finger_exception_approved'")
    assert row["actor"] == "demo" and '"operator": "budi"' in row["detail"] and '"position": 4' in row["detail"]
    assert kiosk.enrollments.commit(budi, eid)["registration_id"]


def test_a_logged_in_supervisor_approves_without_a_pin(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    kiosk.enrollments.finger_exception(demo, eid, 2, "amputated")
    assert "approval:2" in kiosk.enrollments.get(eid)["missing"]
    assert kiosk.enrollments.approve_exception(demo, eid, 2)["approved_by"] == "demo"
    missing = kiosk.enrollments.get(eid)["missing"]
    # An approved exception on an index finger needs no verification.
    assert "approval:2" not in missing and "verify:2" not in missing and "finger:2" not in missing


# --- index-finger verification ------------------------------------------------------------------
def test_verify_matches_the_same_subject_and_not_another(kiosk, demo):
    sensor = kiosk.devices.fingerprint
    sensor.place(11)
    eid = draft_with_fingers(kiosk, demo)
    assert kiosk.enrollments.get(eid)["missing"] == ["verify:2", "verify:7"]
    assert kiosk.enrollments.get(eid)["step"] == "verify"

    sensor.place(12)  # someone else's finger on the glass
    r = kiosk.enrollments.verify_finger(demo, eid, 2)
    assert r["matched"] is False and r["score"] < r["threshold"] and r["attempts"] == 1
    assert kiosk.enrollments.get(eid)["missing"] == ["verify:2", "verify:7"]

    sensor.place(11)
    r = kiosk.enrollments.verify_finger(demo, eid, 2)
    assert r["matched"] is True and r["score"] >= r["threshold"] and r["attempts"] == 2
    assert kiosk.enrollments.get(eid)["fingers"]["2"]["verify"]["matched"]
    # A later failed try does not undo a match.
    sensor.place(12)
    assert kiosk.enrollments.verify_finger(demo, eid, 2)["verified"] is True
    sensor.place(11)
    assert kiosk.enrollments.verify_finger(demo, eid, 7)["matched"]
    assert kiosk.enrollments.get(eid)["missing"] == []
    assert count(kiosk, "audit", "action = 'enrollment.finger_verify'") == 4

    # Capturing the index finger again asks for a new verification.
    assert kiosk.enrollments.capture_finger(demo, eid, 7)["accepted"]
    assert kiosk.enrollments.get(eid)["missing"] == ["verify:7"]


def test_verify_refuses_bad_positions_and_uncaptured_fingers(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    for pos in (3, 0, "x"):
        with pytest.raises(InvalidInput):
            kiosk.enrollments.verify_finger(demo, eid, pos)
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.verify_finger(demo, eid, 2)
    assert info.value.code == "finger_not_captured"
    assert info.value.message.id and info.value.message.en
    assert count(kiosk, "audit", "action = 'enrollment.finger_verify'") == 0


def test_verify_with_no_finger_is_408_and_changes_nothing(client, auth, kiosk, demo):
    eid = draft_with_fingers(kiosk, demo, fingers=[2])
    client.post("/api/v1/sim/finger", json={"present": False})
    r = client.post(f"/api/v1/enrollments/{eid}/verify/2", json={"timeout": 0.2}, headers=auth)
    assert r.status_code == 408 and r.get_json()["error"] == "no_finger"
    assert kiosk.enrollments.get(eid)["fingers"]["2"]["verify"]["attempts"] == 0


def test_templates_are_extracted_at_capture_and_saved_at_commit(kiosk, demo):
    eid = complete_enrollment(kiosk, demo)
    metas = kiosk.store.query("SELECT meta FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger'", (eid,))
    assert len(metas) == 10 and all('"template": "' in m["meta"] for m in metas)
    assert count(kiosk, "finger_templates") == 0
    kiosk.enrollments.commit(demo, eid)
    assert count(kiosk, "finger_templates", "enrollment_id = ?", (eid,)) == 10
    assert len(kiosk.gallery) == 1


def test_templates_of_an_older_extractor_are_extracted_again_from_the_png_at_commit(kiosk, demo):
    import json

    from kiosk.biometrics.iso19794 import decode
    eid = complete_enrollment(kiosk, demo)
    with kiosk.store.transaction() as conn:
        for pos, change in ((3, {"template": None}), (4, {"algorithm": "an-older-extractor"})):
            meta = json.loads(conn.execute("SELECT meta FROM enrollment_parts WHERE enrollment_id = ? AND kind = "
                                           "'finger' AND position = ?", (eid, pos)).fetchone()["meta"])
            conn.execute("UPDATE enrollment_parts SET meta = ? WHERE enrollment_id = ? AND kind = 'finger' "
                         "AND position = ?", (json.dumps({**meta, **change}), eid, pos))
    kiosk.enrollments.commit(demo, eid)
    rows = {r["position"]: decode(bytes(r["template"])) for r in kiosk.store.query(
        "SELECT position, template FROM finger_templates WHERE enrollment_id = ?", (eid,))}
    assert sorted(rows) == list(range(1, 11))
    assert rows[3].position == 3 and len(rows[3]) >= 12 and rows[4].position == 4 and len(rows[4]) >= 12


# --- duplicate search at commit, through the API ------------------------------------------------
def enrol(client, auth, nik, biodata, subject) -> str:
    """One resident through the HTTP API; ``subject`` is the synthetic person at sensor and camera."""
    assert client.post("/api/v1/sim/finger", json={"subject": subject, "present": True}).status_code == 200
    assert client.post("/api/v1/sim/face", json={"subject": subject}).status_code == 200
    r = client.post("/api/v1/enrollments", json=dict(biodata, nik=nik), headers=auth)
    assert r.status_code == 201, r.get_json()
    eid = r.get_json()["id"]
    assert client.post(f"/api/v1/enrollments/{eid}/biodata", json={}, headers=auth).status_code == 200
    assert client.post(f"/api/v1/enrollments/{eid}/photo", headers=auth).get_json()["accepted"]
    assert client.post(f"/api/v1/enrollments/{eid}/signature", data=signature_png(), content_type="image/png",
                       headers=auth).get_json()["accepted"]
    for pos in range(1, 11):
        assert client.post(f"/api/v1/enrollments/{eid}/fingers/{pos}", json={}, headers=auth).get_json()["accepted"]
    for pos in (2, 7):
        assert client.post(f"/api/v1/enrollments/{eid}/verify/{pos}", json={}, headers=auth).get_json()["matched"]
    return eid


def login(client, name, pin):
    r = client.post("/api/v1/auth/login", json={"operator": name, "pin": pin})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_same_subject_under_two_niks_is_a_duplicate_suspect_and_goes_to_review(client, auth, kiosk):
    first = enrol(client, auth, VALID_NIK, BIODATA, subject=21)
    r = client.post(f"/api/v1/enrollments/{first}/commit", headers=auth)
    assert r.status_code == 200 and r.get_json()["duplicate_suspects"] == []
    first_reg = r.get_json()["registration_id"]

    second = enrol(client, auth, OTHER_NIK, OTHER, subject=21)
    r = client.post(f"/api/v1/enrollments/{second}/commit", headers=auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["registration_id"] and body["flagged"] is True  # still saved and queued ...
    [suspect] = body["duplicate_suspects"]
    assert suspect["nik"] == VALID_NIK and suspect["registration_id"] == first_reg
    assert suspect["score"] >= 8 and len(suspect["fingers"]) >= 2
    assert all(1 <= int(p) <= 10 for p in suspect["fingers"])
    assert count(kiosk, "outbox") == 2
    assert count(kiosk, "audit", "action = 'enrollment.duplicate_suspected' AND subject = ?", (second,)) == 1
    audit = kiosk.store.one("SELECT detail FROM audit WHERE action = 'enrollment.duplicate_suspected'")["detail"]
    assert VALID_NIK not in audit and OTHER_NIK not in audit  # ids and scores, not personal data

    # ... and waits for a supervisor. An operator may not see the queue.
    kiosk.operators.add("budi", "operator", "246810")
    budi = login(client, "budi", "246810")
    assert client.get("/api/v1/review", headers=budi).status_code == 403
    assert client.post(f"/api/v1/review/{second}", json={"decision": "same_person", "reason": "sidik jari sama"},
                       headers=budi).status_code == 403
    q = client.get("/api/v1/review", headers=auth).get_json()
    assert q["count"] == 1
    [item] = q["open"]
    assert item["enrollment_id"] == second and item["registration_id"] == body["registration_id"]
    assert item["nik"] == OTHER_NIK and item["suspects"][0]["nik"] == VALID_NIK and item["decision"] is None
    assert kiosk.enrollments.get(second)["state"] == "committed"

    # Bad decisions change nothing; a good one is recorded once, with an audit entry.
    r = client.post(f"/api/v1/review/{second}", json={"decision": "maybe", "reason": "tidak yakin"}, headers=auth)
    assert r.status_code == 422 and r.get_json()["error"] == "bad_decision"
    r = client.post(f"/api/v1/review/{second}", json={"decision": "same_person"}, headers=auth)
    assert r.status_code == 422 and r.get_json()["error"] == "reason_required"
    r = client.post(f"/api/v1/review/{first}", json={"decision": "same_person", "reason": "x" * 10}, headers=auth)
    assert r.status_code == 404
    assert client.get("/api/v1/review", headers=auth).get_json()["count"] == 1
    r = client.post(f"/api/v1/review/{second}", json={"decision": "same_person",
                                                      "reason": "Foto dan sidik jari orang yang sama"}, headers=auth)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["decision"] == "same_person" and r.get_json()["decided_by"] == "demo"
    r = client.post(f"/api/v1/review/{second}", json={"decision": "different_person", "reason": "berubah pikiran"},
                    headers=auth)
    assert r.status_code == 409 and r.get_json()["error"] == "already_decided"
    assert client.get("/api/v1/review", headers=auth).get_json()["count"] == 0
    decided = client.get("/api/v1/review?decided=1", headers=auth).get_json()["decided"]
    assert [d["enrollment_id"] for d in decided] == [second] and decided[0]["decision"] == "same_person"
    assert count(kiosk, "audit", "action = 'review.decision' AND actor = 'demo'") == 1


def test_different_subjects_are_not_suspects(client, auth, kiosk):
    first = enrol(client, auth, VALID_NIK, BIODATA, subject=31)
    assert client.post(f"/api/v1/enrollments/{first}/commit", headers=auth).get_json()["duplicate_suspects"] == []
    second = enrol(client, auth, OTHER_NIK, OTHER, subject=32)
    body = client.post(f"/api/v1/enrollments/{second}/commit", headers=auth).get_json()
    assert body["registration_id"] and body["duplicate_suspects"] == [] and body["flagged"] is False
    assert client.get("/api/v1/review", headers=auth).get_json()["count"] == 0
    assert count(kiosk, "finger_templates") == 20


def test_review_decision_errors_in_the_domain(kiosk, demo):
    with pytest.raises(NotFound) as info:
        kiosk.reviews.decide(demo, "no-such-id", "different_person", "orang lain")
    assert info.value.message.id and info.value.message.en


def test_gallery_rebuilt_after_a_restart_still_finds_the_first_person(config):
    k = build_kiosk(config, start_workers=False)
    try:
        op = k.operators.verify_pin("demo", "123456")
        k.devices.fingerprint.place(41)
        first = k.enrollments.commit(op, complete_enrollment(k, op))
    finally:
        k.close()
    k2 = build_kiosk(config, start_workers=False)
    try:
        assert len(k2.gallery) == 1  # rebuilt from the database, not carried over in memory
        op = k2.operators.verify_pin("demo", "123456")
        k2.devices.fingerprint.place(41)
        eid = complete_enrollment(k2, op, nik=OTHER_NIK, biodata=OTHER)
        result = k2.enrollments.commit(op, eid)
        assert [s["nik"] for s in result["duplicate_suspects"]] == [VALID_NIK]
        assert result["duplicate_suspects"][0]["registration_id"] == first["registration_id"]
        flagged = k2.reviews.of(eid)
        assert flagged["suspects"][0]["nik"] != VALID_NIK and flagged["suspects"][0]["nik"].endswith("0003")
        assert len(k2.gallery) == 2
    finally:
        k2.close()


def test_a_same_nik_re_recording_is_not_data_ganda(kiosk, demo):
    kiosk.enrollments.commit(demo, complete_enrollment(kiosk, demo))
    eid = complete_enrollment(kiosk, demo)
    result = kiosk.enrollments.commit(demo, eid, {"supervisor": "demo", "pin": "123456", "reason": "kartu hilang"})
    assert result["duplicate_suspects"] == [] and kiosk.reviews.of(eid) is None


def test_two_commits_of_one_person_at_once_still_catch_each_other(kiosk, demo):
    # Two operators press "Simpan" for the same resident under two NIKs at the same moment. The
    # search is slowed so both would run before either record reached the gallery, if they could.
    import threading
    import time
    kiosk.devices.fingerprint.place(51)
    first = complete_enrollment(kiosk, demo)
    second = complete_enrollment(kiosk, demo, nik=OTHER_NIK, biodata=OTHER)
    search = kiosk.gallery.search

    def slow_search(*a, **kw):
        time.sleep(0.3)
        return search(*a, **kw)
    kiosk.gallery.search = slow_search
    start, results = threading.Barrier(2), {}

    def commit(eid):
        start.wait()
        results[eid] = kiosk.enrollments.commit(demo, eid)
    threads = [threading.Thread(target=commit, args=(eid,)) for eid in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert set(results) == {first, second}
    flagged = [r for r in results.values() if r["flagged"]]
    assert len(flagged) == 1, results  # whichever went second saw the other
    [suspect] = flagged[0]["duplicate_suspects"]
    other = first if flagged[0]["id"] == second else second
    assert suspect["registration_id"] == results[other]["registration_id"]
