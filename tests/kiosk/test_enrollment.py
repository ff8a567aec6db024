import json
import threading

import pytest

from kiosk import packet
from kiosk.errors import AuthError, Conflict, InvalidInput, NotFound
from kiosk.operators import Operator

from conftest import BIODATA, VALID_NIK, complete_enrollment, signature_png


def count(kiosk, table, where="1=1"):
    return kiosk.store.one(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}")["n"]


def test_full_flow_commits_enrollment_outbox_and_audit_together(kiosk, demo):
    eid = complete_enrollment(kiosk, demo)
    e = kiosk.enrollments.get(eid)
    assert e["missing"] == [] and e["step"] == "review"
    result = kiosk.enrollments.commit(demo, eid)
    assert result["registration_id"].startswith(kiosk.config.kiosk_id + "-")
    assert result["status"] == "captured" and result["duplicate_suspects"] == []
    e = kiosk.enrollments.get(eid)
    assert e["state"] == "committed" and e["registration_id"] == result["registration_id"]
    row = kiosk.store.one("SELECT * FROM outbox WHERE enrollment_id = ?", (eid,))
    assert row["state"] == "queued" and row["registration_id"] == result["registration_id"]
    rec = packet.unpack(row["payload"], row["payload_format"])
    assert rec["biodata"]["nik"] == VALID_NIK
    kinds = sorted((p["kind"], p["position"]) for p in rec["parts"])
    assert kinds == [("finger", i) for i in range(1, 11)] + [("photo", 0), ("signature", 0)]
    assert count(kiosk, "audit", "action = 'enrollment.commit'") == 1


def test_every_step_is_saved_as_a_draft_and_resumes_after_restart(config, demo):
    from kiosk.app import build_kiosk
    k = build_kiosk(config, start_workers=False)
    op = k.operators.verify_pin("demo", "123456")
    eid = k.enrollments.create(op, VALID_NIK, dict(BIODATA))["id"]
    k.enrollments.confirm_biodata(op, eid)
    k.enrollments.capture_photo(op, eid)
    k.enrollments.set_signature(op, eid, signature_png())
    for pos in (1, 2, 3):
        k.enrollments.capture_finger(op, eid, pos)
    k.store.conn.close()  # as if the power went: no clean shutdown
    k2 = build_kiosk(config, start_workers=False)
    try:
        drafts = k2.enrollments.drafts()
        assert [d["id"] for d in drafts] == [eid]
        assert drafts[0]["step"] == "fingers"
        e = k2.enrollments.get(eid)
        assert e["missing"] == [f"finger:{i}" for i in range(4, 11)] + ["verify:2"]
        assert e["fingers"]["2"]["state"] == "captured"
    finally:
        k2.close()


def test_commit_of_incomplete_record_lists_missing_and_changes_nothing(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    before = count(kiosk, "audit")
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.commit(demo, eid)
    assert info.value.code == "incomplete"
    assert info.value.details["missing"][:3] == ["biodata", "photo", "signature"]
    assert "finger:10" in info.value.details["missing"]
    assert count(kiosk, "outbox") == 0 and count(kiosk, "audit") == before
    assert kiosk.enrollments.get(eid)["state"] == "draft"


def test_commit_checks_the_parts_themselves_not_only_the_step(kiosk, demo):
    # The step says "review" (nothing missing) but a finger vanished behind the service's back, as
    # from a damaged database: the transaction's own check refuses, and nothing is written.
    eid = complete_enrollment(kiosk, demo)
    with kiosk.store.transaction() as conn:
        conn.execute("DELETE FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' AND position = 5",
                     (eid,))
    assert kiosk.store.one("SELECT step FROM enrollments WHERE id = ?", (eid,))["step"] == "review"
    before = count(kiosk, "audit")
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.commit(demo, eid)
    assert info.value.code == "incomplete" and info.value.details["missing"] == ["finger:5"]
    assert count(kiosk, "outbox") == 0 and count(kiosk, "audit") == before
    assert count(kiosk, "finger_templates") == 0 and kiosk.enrollments.get(eid)["state"] == "draft"


def test_incomplete_draft_is_refused_before_the_duplicate_search(kiosk, demo, monkeypatch):
    from kiosk import duplicates
    eid = complete_enrollment(kiosk, demo)
    kiosk.enrollments.finger_exception(demo, eid, 4, "injured")  # awaits a supervisor's approval
    searched = []
    monkeypatch.setattr(duplicates, "suspects", lambda *a, **kw: searched.append(a) or [])
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.commit(demo, eid)
    assert info.value.details["missing"] == ["approval:4"] and searched == []


def test_invalid_nik_creates_nothing(kiosk, demo):
    with pytest.raises(InvalidInput) as info:
        kiosk.enrollments.create(demo, "640306410790000", dict(BIODATA))
    assert info.value.code == "invalid_nik"
    assert count(kiosk, "enrollments") == 0


def test_biodata_must_agree_with_nik(kiosk, demo):
    with pytest.raises(InvalidInput) as info:
        kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA, sex="L"))
    assert "nik_sex_mismatch" in {p["code"] for p in info.value.details["problems"]}
    assert count(kiosk, "enrollments") == 0


def test_unknown_nik_needs_biodata(kiosk, demo):
    with pytest.raises(InvalidInput) as info:
        kiosk.enrollments.create(demo, VALID_NIK)
    assert info.value.code == "not_in_register"


def test_register_prefills_and_corrections_need_a_reason(kiosk, demo, tmp_path):
    from kiosk import residents
    from tests_helpers_csv import write_register
    residents.import_csv(kiosk.store, write_register(tmp_path / "r.csv", [dict(BIODATA, nik=VALID_NIK)]))
    e = kiosk.enrollments.create(demo, VALID_NIK)
    assert e["biodata"]["name"] == "SITI AMINAH" and e["step"] == "biodata"
    with pytest.raises(InvalidInput) as info:
        kiosk.enrollments.confirm_biodata(demo, e["id"], {"occupation": "Guru"})
    assert info.value.code == "reason_required"
    with pytest.raises(InvalidInput) as info:
        kiosk.enrollments.confirm_biodata(demo, e["id"], {"blood_type": "AB"}, reason="salah ketik di daftar")
    assert info.value.code == "document_required"
    assert kiosk.enrollments.get(e["id"])["biodata"]["occupation"] == "Petani"
    e = kiosk.enrollments.confirm_biodata(demo, e["id"], {"occupation": "Guru"}, reason="pindah pekerjaan")
    assert e["biodata"]["occupation"] == "Guru" and e["step"] == "photo"
    assert e["corrections"][0]["field"] == "occupation" and e["corrections"][0]["reason"] == "pindah pekerjaan"


def test_draft_exists_for_same_nik(kiosk, demo):
    first = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))
    assert info.value.code == "draft_exists" and info.value.details["id"] == first["id"]


def test_no_face_rejected_and_nothing_stored(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    kiosk.devices.camera.show(None)
    result = kiosk.enrollments.capture_photo(demo, eid)
    assert not result["accepted"] and "no_face" in {r["code"] for r in result["reasons"]}
    assert kiosk.enrollments.get(eid)["photo"] is None


def test_finger_retries_then_exception(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    kiosk.devices.fingerprint.place(1, quality=0.05)
    for attempt in (1, 2, 3):
        r = kiosk.enrollments.capture_finger(demo, eid, 4)
        assert not r["accepted"] and r["attempts"] == attempt
    assert r["exception_allowed"]
    with pytest.raises(InvalidInput):
        kiosk.enrollments.finger_exception(demo, eid, 4, "lazy")
    kiosk.enrollments.finger_exception(demo, eid, 4, "injured")
    f = kiosk.enrollments.get(eid)["fingers"]["4"]
    assert f["state"] == "exception" and f["exception"] == "injured"
    assert "finger:4" not in kiosk.enrollments.get(eid)["missing"]


def test_worse_retake_keeps_good_capture(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    assert kiosk.enrollments.capture_finger(demo, eid, 2)["accepted"]
    good = kiosk.enrollments.part_data(eid, "finger", 2)
    kiosk.devices.fingerprint.place(1, quality=0.05)
    assert not kiosk.enrollments.capture_finger(demo, eid, 2)["accepted"]
    assert kiosk.enrollments.part_data(eid, "finger", 2) == good


def test_no_finger_times_out(kiosk, demo):
    from drivers.fingerprint import NoFinger
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    kiosk.devices.fingerprint.place(present=False)
    with pytest.raises(NoFinger):
        kiosk.enrollments.capture_finger(demo, eid, 2, timeout=0.2)
    assert kiosk.enrollments.get(eid)["fingers"]["2"]["state"] == "missing"


def test_bad_finger_position(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    for pos in (0, 11, "x", None):
        with pytest.raises(InvalidInput):
            kiosk.enrollments.capture_finger(demo, eid, pos)


def test_second_commit_of_same_draft_is_refused(kiosk, demo):
    eid = complete_enrollment(kiosk, demo)
    results, errors = [], []

    def commit():
        try:
            results.append(kiosk.enrollments.commit(demo, eid))
        except Conflict as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=commit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and errors == ["not_a_draft"] * 3
    assert count(kiosk, "outbox") == 1


def test_same_nik_twice_needs_supervisor_override(kiosk, demo):
    kiosk.enrollments.commit(demo, complete_enrollment(kiosk, demo))
    kiosk.operators.add("budi", "operator", "246810")
    budi = kiosk.operators.verify_pin("budi", "246810")
    eid = complete_enrollment(kiosk, budi)
    assert kiosk.enrollments.get(eid)["already_recorded"]
    with pytest.raises(Conflict) as info:
        kiosk.enrollments.commit(budi, eid)
    assert info.value.code == "already_recorded"
    with pytest.raises(AuthError):
        kiosk.enrollments.commit(budi, eid, {"supervisor": "demo", "pin": "999999", "reason": "kartu hilang"})
    with pytest.raises(AuthError):  # an operator is not a supervisor
        kiosk.enrollments.commit(budi, eid, {"supervisor": "budi", "pin": "246810", "reason": "kartu hilang"})
    assert count(kiosk, "outbox") == 1
    result = kiosk.enrollments.commit(budi, eid, {"supervisor": "demo", "pin": "123456", "reason": "kartu hilang"})
    row = kiosk.store.one("SELECT override FROM enrollments WHERE id = ?", (eid,))
    assert json.loads(row["override"])["supervisor"] == "demo"
    assert result["registration_id"] and count(kiosk, "outbox") == 2


def test_committed_record_cannot_change(kiosk, demo):
    eid = complete_enrollment(kiosk, demo)
    kiosk.enrollments.commit(demo, eid)
    with pytest.raises(Conflict):
        kiosk.enrollments.capture_finger(demo, eid, 2)
    with pytest.raises(Conflict):
        kiosk.enrollments.abandon(demo, eid)


def test_abandon_deletes_biometrics(kiosk, demo):
    eid = kiosk.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    kiosk.enrollments.capture_finger(demo, eid, 2)
    kiosk.enrollments.abandon(demo, eid, "penduduk pulang")
    assert count(kiosk, "enrollment_parts", f"enrollment_id = '{eid}'") == 0
    assert kiosk.enrollments.drafts() == []


def test_unknown_enrollment(kiosk, demo):
    with pytest.raises(NotFound):
        kiosk.enrollments.get("no-such-id")


def test_technician_cannot_enroll(kiosk):
    with pytest.raises(AuthError):
        kiosk.enrollments.create(Operator("tek", "technician"), VALID_NIK, dict(BIODATA))


def test_registration_ids_are_sequential_per_day(kiosk, demo):
    first = kiosk.enrollments.commit(demo, complete_enrollment(kiosk, demo))["registration_id"]
    second = kiosk.enrollments.commit(
        demo, complete_enrollment(kiosk, demo, nik="6403061203850001",
                                  biodata=dict(BIODATA, sex="L", birth_date="1985-03-12")))["registration_id"]
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


def test_no_personal_data_in_logs(kiosk, demo, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    eid = complete_enrollment(kiosk, demo)
    kiosk.enrollments.commit(demo, eid)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert eid in text  # the log does say what happened ...
    for secret in (VALID_NIK, VALID_NIK[6:12], "SITI", "Aminah", "Sultan Agung"):
        assert secret.lower() not in text.lower()  # ... but never to whom
