"""The power policy: transitions with hysteresis, and what each state does to a real kiosk.

The kiosk is the real one from conftest (real SQLite, real Enrollments service) with the simulated
power backend, so a state change is driven exactly as an operator in training would drive it. Only
the power-off itself is replaced (by a recorder): nobody wants the test machine switched off.
"""

from __future__ import annotations

import threading

import pytest

from drivers.power import NutPower, PowerReading, SimPower
from kiosk import audit
from kiosk.errors import Conflict, InvalidInput
from kiosk.power import PowerPolicy, PowerState, PowerWatcher, Thresholds, build_power, simulated_poweroff

from conftest import BIODATA, VALID_NIK, signature_png

OTHER_NIK = "6403061203850001"
OTHER = dict(BIODATA, sex="L", birth_date="1985-03-12")


def battery(pct, **kw):
    return PowerReading(mains=False, battery_percent=pct, **kw)


MAINS = PowerReading(mains=True, battery_percent=100.0)


def run(policy, readings):
    return [policy.update(r).value for r in readings]


# --- the pure policy -------------------------------------------------------------------------------

def test_battery_runs_down_through_every_state():
    p = PowerPolicy()
    assert run(p, [MAINS, battery(90), battery(26), battery(25), battery(11), battery(10), battery(3)]) == [
        "mains", "on_battery", "on_battery", "low", "low", "critical", "critical"]


def test_wobble_around_the_low_threshold_does_not_flap():
    p = PowerPolicy(Thresholds(low_percent=25, critical_percent=10, hysteresis_percent=5))
    # Voltage-estimated charge jumps about as the load changes.
    states = run(p, [battery(40), battery(24.5), battery(26), battery(27.9), battery(24), battery(29.9)])
    assert states == ["on_battery", "low", "low", "low", "low", "low"]
    assert p.update(battery(30)) is PowerState.ON_BATTERY  # clear of the threshold by the margin
    assert p.update(battery(27)) is PowerState.ON_BATTERY  # and stays: 27 is above 25


def test_critical_is_sticky_on_battery_and_mains_resumes():
    p = PowerPolicy()
    assert run(p, [battery(9), battery(14), battery(40), PowerReading(mains=False)]) == ["critical"] * 4
    assert p.update(MAINS) is PowerState.MAINS
    assert p.update(battery(60)) is PowerState.ON_BATTERY


def test_shutdown_request_is_critical_even_on_mains():
    p = PowerPolicy()
    assert p.update(PowerReading(mains=True, battery_percent=80, shutdown_requested=True)) is PowerState.CRITICAL
    assert p.update(MAINS) is PowerState.MAINS


def test_unknown_level_on_battery_keeps_the_worse_state():
    p = PowerPolicy()
    assert p.update(PowerReading(mains=False)) is PowerState.ON_BATTERY
    p.update(battery(20))
    assert p.update(PowerReading(mains=False)) is PowerState.LOW


def test_since_changes_only_on_a_transition():
    ticks = iter(range(100, 200))
    p = PowerPolicy(clock=lambda: next(ticks))
    assert p.since == 100
    p.update(MAINS)
    assert p.since == 100
    p.update(battery(50))
    assert p.since == 101
    p.update(battery(45))
    assert p.since == 101
    s = p.status()
    assert (s["state"], s["message_id"], s["message_en"], s["since"]) == ("on_battery", "memakai baterai",
                                                                          "on battery", 101)
    assert s["battery_percent"] == 45 and s["new_enrollments"] is True


@pytest.mark.parametrize("low,critical,hyst", [(10, 25, 5), (25, 25, 5), (25, 10, -1), (98, 10, 5), (25, -1, 5)])
def test_bad_thresholds_are_refused(low, critical, hyst):
    with pytest.raises(InvalidInput) as info:
        Thresholds(low, critical, hyst)
    assert "critical_percent" in info.value.message.id and "critical_percent" in info.value.message.en
    assert info.value.message.id != info.value.message.en


# --- the watcher on a real kiosk -----------------------------------------------------------------

@pytest.fixture
def powered(kiosk):
    """The kiosk's own watcher with the power-off replaced by a recorder of what the disk looked like."""
    calls = []
    wal = kiosk.store.path.with_name(kiosk.store.path.name + "-wal")

    def shutdown():
        calls.append(wal.stat().st_size if wal.exists() else 0)

    kiosk.power.shutdown = shutdown
    kiosk.power.calls = calls
    return kiosk


def set_power(kiosk, mains, pct):
    kiosk.devices.power.set(mains=mains, battery_percent=pct)
    return kiosk.power.check()


def power_audit(kiosk):
    rows = [e for e in audit.entries(kiosk.store, limit=1000) if e["action"].startswith("power.")]
    return [(e["action"], e["detail"].get("previous"), e["detail"].get("state")) for e in reversed(rows)]


def test_low_refuses_a_new_enrollment_but_the_one_in_hand_completes(powered, demo):
    k = powered
    eid = k.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    k.enrollments.confirm_biodata(demo, eid)
    assert k.enrollments.capture_photo(demo, eid)["accepted"]
    assert set_power(k, False, 20) is PowerState.LOW
    drafts = len(k.enrollments.drafts())
    with pytest.raises(Conflict) as info:
        k.enrollments.create(demo, OTHER_NIK, dict(OTHER))
    assert info.value.code == "power_low"
    assert info.value.message.id.startswith("Baterai lemah: selesaikan perekaman yang sedang berjalan")
    assert info.value.message.en.startswith("Battery low")
    assert len(k.enrollments.drafts()) == drafts  # nothing was written
    # The enrollment in hand goes on to the end.
    assert k.enrollments.set_signature(demo, eid, signature_png())["accepted"]
    for pos in range(1, 11):
        assert k.enrollments.capture_finger(demo, eid, pos)["accepted"]
    for pos in (2, 7):  # the index-finger verification the commit requires
        assert k.enrollments.verify_finger(demo, eid, pos)["matched"]
    assert k.enrollments.commit(demo, eid)["registration_id"]
    assert k.power.calls == []


def test_the_gate_reads_the_battery_afresh(powered, demo):
    # No poll has happened since the battery dropped: the gate must not start a recording on a stale "ok".
    powered.devices.power.set(mains=False, battery_percent=22)
    assert powered.power.policy.state is PowerState.MAINS
    with pytest.raises(Conflict):
        powered.enrollments.create(demo, VALID_NIK, dict(BIODATA))
    assert powered.power.policy.state is PowerState.LOW


def test_critical_closes_the_store_and_powers_off_exactly_once_then_mains_resumes(powered, demo):
    k = powered
    eid = k.enrollments.create(demo, VALID_NIK, dict(BIODATA))["id"]
    k.enrollments.confirm_biodata(demo, eid)
    assert set_power(k, False, 60) is PowerState.ON_BATTERY
    assert set_power(k, False, 9) is PowerState.CRITICAL
    # The store was closed (WAL checkpointed into the database file) before the power-off was asked for.
    assert k.power.calls == [0]
    assert set_power(k, False, 7) is PowerState.CRITICAL
    assert set_power(k, False, 12) is PowerState.CRITICAL
    assert k.power.calls == [0]  # exactly once per CRITICAL episode
    with pytest.raises(Conflict, match="Battery low"):
        k.enrollments.create(demo, OTHER_NIK, dict(OTHER))
    assert k.store.integrity_ok()
    assert k.enrollments.get(eid)["step"] == "photo"  # the draft survived, resumable at its next step
    # Mains back: resume, and new recordings are allowed again.
    assert set_power(k, True, 12) is PowerState.MAINS
    assert k.enrollments.create(demo, OTHER_NIK, dict(OTHER))["state"] == "draft"
    assert power_audit(k) == [("power.state", "mains", "on_battery"), ("power.state", "on_battery", "critical"),
                              ("power.shutdown", None, None), ("power.state", "critical", "mains")]
    # A second outage is a new episode: the power-off is asked for again.
    set_power(k, False, 5)
    assert k.power.calls == [0, 0]


def test_ups_shutdown_request_goes_critical(kiosk):
    calls = []
    watcher = PowerWatcher(kiosk.devices.power, kiosk.store, shutdown=lambda: calls.append(1))
    assert watcher.apply(PowerReading(mains=True, battery_percent=95, shutdown_requested=True)) is PowerState.CRITICAL
    assert calls == [1]
    entry = [e for e in audit.entries(kiosk.store) if e["action"] == "power.state"][0]
    assert entry["actor"] == "power" and entry["detail"]["reason"] == "shutdown_requested"


def test_a_failed_read_keeps_the_state_and_says_why(kiosk):
    import socket
    with socket.socket() as s:  # a port nothing listens on: upsd is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls = []
    watcher = PowerWatcher(NutPower(nut_port=port), kiosk.store, shutdown=lambda: calls.append(1))
    watcher.apply(battery(20))
    assert watcher.check() is PowerState.LOW
    fault = watcher.status()["fault"]
    assert "upsd" in fault["message_id"] and "upsd" in fault["message_en"]
    assert watcher.allows_new_enrollment() is False
    assert calls == []
    watcher.monitor.close()


def test_status_messages_use_the_ui_words(powered):
    words = {}
    for mains, pct in ((True, 100), (False, 50), (False, 20), (False, 5)):
        set_power(powered, mains, pct)
        s = powered.power.status()
        words[s["state"]] = (s["message_id"], s["message_en"])
    assert words == {"mains": ("listrik PLN", "mains power"), "on_battery": ("memakai baterai", "on battery"),
                     "low": ("baterai lemah", "battery low"),
                     "critical": ("kios akan dimatikan dengan aman", "the kiosk will shut down safely")}


def test_the_watcher_thread_polls_the_driver(kiosk):
    sim = SimPower()
    changed = threading.Event()
    watcher = PowerWatcher(sim, kiosk.store, poll_seconds=0.01, shutdown=lambda: None)
    original = watcher._transition

    def transition(*args):
        original(*args)
        changed.set()

    watcher._transition = transition
    watcher.start()
    try:
        sim.set(mains=False, battery_percent=50)
        assert changed.wait(30), "the watcher never applied the new reading"
        assert watcher.policy.state is PowerState.ON_BATTERY
    finally:
        watcher.stop()
    assert watcher._thread is None


def test_build_power_never_powers_off_a_simulated_kiosk(kiosk):
    watcher = build_power(SimPower(), kiosk.store, kiosk.config.section("power"))
    assert watcher.shutdown is simulated_poweroff
    assert watcher.policy.thresholds == Thresholds(25.0, 10.0, 5.0)
    assert kiosk.power.shutdown is simulated_poweroff  # the composition root wires it the same way


# --- through the HTTP API with the simulated backend ---------------------------------------------

def test_api_status_shows_the_power_state_and_refuses_enrollment_at_8_percent(client, auth, kiosk):
    r = client.get("/api/v1/status")
    assert r.get_json()["power_state"]["state"] == "mains"
    assert client.post("/api/v1/sim/power", json={"mains": False, "battery_percent": 40}).status_code == 200
    kiosk.power.check()  # what the watcher thread does every poll_seconds (workers are off in tests)
    s = client.get("/api/v1/status").get_json()["power_state"]
    assert (s["state"], s["message_id"], s["message_en"]) == ("on_battery", "memakai baterai", "on battery")
    client.post("/api/v1/sim/power", json={"mains": False, "battery_percent": 8})
    r = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth)
    assert r.status_code == 409
    body = r.get_json()
    assert body["error"] == "power_low"
    assert body["message_id"].startswith("Baterai lemah") and body["message_en"].startswith("Battery low")
    s = client.get("/api/v1/status").get_json()["power_state"]
    assert (s["state"], s["message_id"]) == ("critical", "kios akan dimatikan dengan aman")
    assert kiosk.enrollments.drafts() == []
    # Mains back: the same request now records.
    client.post("/api/v1/sim/power", json={"mains": True})
    r = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth)
    assert r.status_code == 201, r.get_json()
    assert client.get("/api/v1/status").get_json()["power_state"]["state"] == "mains"
