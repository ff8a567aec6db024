"""The real R30x driver against the simulated module on a pseudo-terminal, through real pyserial."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import BIODATA, VALID_NIK
from drivers import r30x
from drivers.fingerprint import (BadChecksum, CaptureCancelled, Disconnected, ImagingFailed, ModuleError, NoFinger,
                                 R30xReader, SensorTimeout, SimFingerprint, TooFewFeatures, WrongAddress,
                                 WrongPassword, open_fingerprint, probe)
from drivers.sim import fingers
from drivers.sim.r30x_module import R30xModule

BAUD = 921_600  # fast enough for many captures, slow enough that pacing is real


@pytest.fixture
def module():
    m = R30xModule(baudrate=BAUD)
    yield m
    m.close()


@pytest.fixture
def reader(module):
    r = R30xReader(port=module.port, baudrate=BAUD, command_timeout=0.5)
    yield r
    r.close()


def expected_image(subject, position, impression, quality=None):
    """What the driver must return: the simulator's image as 4 bits a pixel, spread to 0..255."""
    return (fingers.impression(subject, position, impression, quality=quality) >> 4) * 17


# --- opening: what the module says about itself ----------------------------------------------
@pytest.mark.parametrize("capacity,packet_size", [(300, 64), (1000, 128), (162, 32)])
def test_sys_para_is_read_from_the_module(capacity, packet_size):
    with R30xModule(baudrate=115_200, capacity=capacity, packet_size=packet_size) as m:
        with R30xReader(port=m.port, baudrate=115_200) as r:
            assert r.capacity == capacity and r.packet_size == packet_size
            assert r.sys_para.baudrate == 115_200 and r.sys_para.address == 0xFFFFFFFF
            assert r.status().state == "ok" and str(capacity) in r.status().detail_en


def test_wrong_password_is_refused(module):
    module.password = 0x0BADF00D
    with pytest.raises(WrongPassword) as info:
        R30xReader(port=module.port, baudrate=BAUD, password="00000000", command_timeout=0.3)
    assert "password" in info.value.message_en and "sandi" in info.value.message_id
    R30xReader(port=module.port, baudrate=BAUD, password="0BADF00D").close()


def test_module_answering_with_another_address_is_wrong_address():
    with R30xModule(baudrate=BAUD, reply_address=0x12345678) as m:
        with pytest.raises(WrongAddress):
            R30xReader(port=m.port, baudrate=BAUD, command_timeout=0.3)


def test_bad_settings_are_typed_errors():
    from drivers.fingerprint import BadSetting
    for kwargs in ({"address": "not-hex"}, {"address": "-1"}, {"password": "123456789"}, {"baudrate": 0}):
        with pytest.raises(BadSetting) as info:
            R30xReader(port="/nonexistent/tty", **kwargs)
        assert info.value.message_id != info.value.message_en


def test_absent_port_leaves_a_reader_that_says_disconnected(tmp_path):
    r = R30xReader(port=str(tmp_path / "ttyNone"), command_timeout=0.2)
    assert r.status().state == "fault" and not r.connected
    with pytest.raises(Disconnected) as info:
        r.template_count()
    assert isinstance(info.value, ConnectionError) and "kabel" in info.value.message_id
    r.close()


# --- capture ---------------------------------------------------------------------------------
def test_capture_returns_the_simulators_image_with_progress(module, reader):
    module.place(5, position=3)
    seen = []
    reader.on_progress = seen.append
    image = reader.capture(2.0)
    assert image.pixels.shape == (288, 256) and image.dpi == 500
    assert np.array_equal(image.pixels, expected_image(5, 3, 0))
    phases = [p.phase for p in seen]
    assert phases[0] == "waiting_for_finger" and "imaging" in phases and phases[-1] == "done"
    uploads = [p.done for p in seen if p.phase == "uploading"]
    assert uploads == sorted(uploads) and uploads[-1] == 36864 and len(uploads) > 200  # 288 packets of 128
    assert reader.progress.phase == "done" and reader.progress.as_dict()["fraction"] == 1.0
    # The next placement is the next impression of the same finger.
    assert np.array_equal(reader.capture(2.0).pixels, expected_image(5, 3, 1))


def test_no_finger_times_out_with_no_finger(module, reader):
    module.place(present=False)
    before = module.stats["commands"]
    with pytest.raises(NoFinger):
        reader.capture(0.5)
    assert module.stats["commands"] - before >= 2  # it kept polling GenImg until the timeout
    assert reader.progress.phase == "failed" and reader.progress.error == "no_finger"


def test_cancel_stops_the_wait(module, reader):
    module.place(present=False)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CaptureCancelled):
        reader.capture(5.0, cancel=cancel)


def test_finger_lifted_while_imaging_is_imaging_failed_then_retry_works(module, reader):
    module.place(8, position=2)
    module.imaging_hook = lambda: module.place(present=False)
    with pytest.raises(ImagingFailed) as info:
        reader.capture(2.0)
    assert info.value.details["confirmation"] == r30x.IMAGING_FAIL
    module.imaging_hook = None
    module.place(8, position=2)
    assert np.array_equal(reader.capture(2.0).pixels, expected_image(8, 2, 0))  # the failed one did not count


@pytest.mark.parametrize("value", [0, 255])
def test_an_all_black_or_empty_image_is_imaging_failed(module, reader, value):
    module.next_image = np.full((288, 256), value, np.uint8)
    with pytest.raises(ImagingFailed):
        reader.capture(2.0)
    assert reader.capture(2.0).pixels.std() > 10


# --- faults ----------------------------------------------------------------------------------
def test_bad_checksum_then_recovery(module, reader):
    module.inject("bad_checksum", 1)
    with pytest.raises(BadChecksum) as info:
        reader.template_count()
    assert info.value.message_id and info.value.message_en
    assert reader.template_count() == 0


def test_bad_checksum_mid_upload_then_recovery(module, reader):
    module.place(3, position=4)

    def spoil(progress):  # ten packets into the upload, the module's next frame is damaged
        if progress.phase == "uploading" and progress.done == 1280:
            module.inject("bad_checksum", 1)
    reader.on_progress = spoil
    with pytest.raises(BadChecksum):
        reader.capture(2.0)
    reader.on_progress = None
    assert reader.progress.phase == "failed" and reader.progress.error == "bad_checksum"
    image = reader.capture(2.0)  # the rest of the cut upload is drained, then all is well
    assert np.array_equal(image.pixels, expected_image(3, 4, 1))


def test_garbage_on_the_line_is_skipped(module, reader):
    module.place(4, position=6)
    module.inject("garbage", 40)
    image = reader.capture(2.0)
    assert np.array_equal(image.pixels, expected_image(4, 6, 0))
    assert reader._parser.skipped > 0


def test_silence_is_a_timeout_then_disconnected_then_back(module, reader):
    module.inject("silence")
    with pytest.raises(SensorTimeout) as info:
        reader.template_count()
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(Disconnected):
        reader.template_count()  # still silent after a timeout: treated as unplugged
    assert reader.status().state == "fault"
    module.clear_faults()
    assert reader.template_count() == 0
    assert reader.status().state == "ok" and reader.stats["connects"] == 2


def test_silence_mid_upload_is_a_timeout(module, reader):
    module.place(2, position=2)
    module.inject("silence", after_frames=20)
    with pytest.raises(SensorTimeout):
        reader.capture(2.0)
    assert reader.progress.phase == "failed" and 0 < reader.progress.done < 36864


def test_disconnect_then_reconnect(module, reader):
    module.inject("disconnect")
    with pytest.raises(Disconnected):
        reader.template_count()
    assert not reader.connected
    with pytest.raises(Disconnected):
        reader.template_count()  # still unplugged: the re-open fails
    module.reconnect()
    assert reader.template_count() == 0
    assert reader.connected and reader.stats["lost"] >= 1 and reader.stats["connects"] == 2
    module.place(6, position=1)
    assert np.array_equal(reader.capture(2.0).pixels, expected_image(6, 1, 0))


def test_messy_image_is_imaging_failed(module, reader):
    module.inject("messy_image")
    with pytest.raises(ImagingFailed) as info:
        reader.capture(2.0)
    assert info.value.details["confirmation"] == r30x.TOO_MESSY
    assert "Bersihkan" in info.value.message_id and "Clean" in info.value.message_en
    reader.capture(2.0)


# --- templates in the module -----------------------------------------------------------------
def enroll(reader, module, subject, position, page):
    module.place(subject, position=position)
    reader.capture(2.0)
    reader.img2tz(1)
    reader.capture(2.0)
    reader.img2tz(2)
    reader.reg_model()
    reader.store(page)


def test_store_search_match_count_index_delete_empty(module, reader):
    enroll(reader, module, 11, 2, 7)
    enroll(reader, module, 12, 2, 300)
    assert reader.template_count() == 2
    assert reader.index_table() == [7, 300]
    module.place(11, position=2)
    reader.capture(2.0)
    reader.img2tz(1)
    found = reader.search(1)
    assert found is not None and found[0] == 7 and found[1] >= 280
    module.place(13, position=2)  # nobody stored
    reader.capture(2.0)
    reader.img2tz(2)
    assert reader.search(2) is None
    matched, _ = reader.match()
    assert not matched
    reader.delete(7)
    assert reader.index_table() == [300] and reader.template_count() == 1
    with pytest.raises(ModuleError) as info:
        reader.store(5000)
    assert info.value.details["confirmation"] == r30x.BAD_LOCATION
    reader.empty()
    assert reader.template_count() == 0 and reader.index_table() == []


def test_match_same_finger_and_reg_model_refuses_two_fingers(module, reader):
    module.place(21, position=7)
    reader.capture(2.0)
    reader.img2tz(1)
    reader.capture(2.0)
    reader.img2tz(2)
    matched, score = reader.match()
    assert matched and score >= 280
    module.place(22, position=7)
    reader.capture(2.0)
    reader.img2tz(2)
    with pytest.raises(ModuleError) as info:
        reader.reg_model()
    assert info.value.details["confirmation"] == r30x.MERGE_FAIL


def test_up_char_down_char_round_trip(module, reader):
    module.place(31, position=2)
    reader.capture(2.0)
    reader.img2tz(1)
    tpl = reader.up_char(1)
    assert tpl == module.buffers[1] and len(tpl) > 128  # several data packets
    reader.down_char(tpl, 2)
    assert reader.match() == (True, 1000)


def test_too_few_features(module, reader):
    module.place(1, position=2, quality=0.02)
    reader.capture(2.0)
    with pytest.raises(TooFewFeatures):
        reader.img2tz(1)


# --- probing and backends --------------------------------------------------------------------
def test_probe_and_handshake_fallback(tmp_path):
    with R30xModule(baudrate=BAUD, supports_handshake=False) as m:
        assert probe(m.port, BAUD, timeout=1.0)
        with R30xReader(port=m.port, baudrate=BAUD) as r:
            assert r.handshake()
        m.inject("silence")
        assert not probe(m.port, BAUD, timeout=0.2)
    assert not probe(str(tmp_path / "nothing"), BAUD)


def test_auto_uses_r30x_when_a_module_answers_else_sim(module, tmp_path):
    dev = open_fingerprint("auto", port=module.port, baudrate=BAUD, address="FFFFFFFF", password="00000000")
    try:
        assert dev.backend == "r30x" and not dev.simulated
    finally:
        dev.close()
    dev = open_fingerprint("auto", port=str(tmp_path / "none"), baudrate=57600, address="FFFFFFFF",
                           password="00000000")
    try:
        assert dev.backend == "sim" and dev.simulated
    finally:
        dev.close()


def test_sim_backend_runs_the_real_driver_and_honours_the_position():
    with SimFingerprint(sim_baudrate=BAUD) as dev:
        assert isinstance(dev, R30xReader) and dev.sys_para.baudrate == BAUD
        dev.place(9, quality=0.8)
        assert (dev.present, dev.subject, dev.quality) == (True, 9, 0.8)
        image = dev.capture(2.0, position=7)
        assert np.array_equal(image.pixels, expected_image(9, 7, 0, quality=0.8))
        assert dev.status().state == "warning" and dev.status().simulated
        dev.inject("disconnect")
        with pytest.raises(Disconnected):
            dev.capture(0.5, position=7)
        assert dev.status().state == "fault"  # training shows an unplug as the real fault
        dev.inject(None)
        assert np.array_equal(dev.capture(2.0, position=7).pixels, expected_image(9, 7, 1, quality=0.8))


# --- through the kiosk's API -----------------------------------------------------------------
def _new_enrollment(client, auth) -> str:
    r = client.post("/api/v1/enrollments", json=dict(BIODATA, nik=VALID_NIK), headers=auth)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_sensor_dying_mid_upload_leaves_other_fingers_untouched(client, auth, kiosk):
    eid = _new_enrollment(client, auth)
    for pos in (1, 2):
        assert client.post(f"/api/v1/enrollments/{eid}/fingers/{pos}", headers=auth).get_json()["accepted"]
    before = {pos: kiosk.enrollments.part_data(eid, "finger", pos) for pos in (1, 2)}
    kiosk.devices.fingerprint.module.inject("silence", after_frames=40)
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/3", headers=auth)
    assert r.status_code == 503 and r.get_json()["error"] == "sensor_timeout"
    assert r.get_json()["message_id"] != r.get_json()["message_en"]
    progress = client.get("/api/v1/fingerprint/progress", headers=auth).get_json()
    assert progress["phase"] == "failed" and progress["error"] == "sensor_timeout" and 0 < progress["done"] < 36864
    e = client.get(f"/api/v1/enrollments/{eid}", headers=auth).get_json()
    assert e["fingers"]["1"]["state"] == e["fingers"]["2"]["state"] == "captured"
    assert e["fingers"]["3"]["state"] == "missing" and "finger:3" in e["missing"]
    assert {pos: kiosk.enrollments.part_data(eid, "finger", pos) for pos in (1, 2)} == before
    # The technician plugs it back in (the sim API clears the fault): capture works again.
    assert client.post("/api/v1/sim/finger", json={"fault": None}).get_json()["faults"]["silence"] is False
    assert client.post(f"/api/v1/enrollments/{eid}/fingers/3", headers=auth).get_json()["accepted"]


def test_sim_api_fault_switches(client, auth):
    assert client.post("/api/v1/sim/finger", json={"fault": "bogus"}).status_code == 422
    state = client.post("/api/v1/sim/finger", json={"subject": 4, "quality": 0.7}).get_json()
    r = client.post("/api/v1/sim/finger", json={"fault": "messy_image"})
    assert r.status_code == 200 and r.get_json()["faults"]["messy_image"] == 1
    assert (r.get_json()["subject"], r.get_json()["quality"]) == (state["subject"], state["quality"])  # unchanged
    eid = _new_enrollment(client, auth)
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/2", headers=auth)
    # a bad impression is a retake (422), not a broken scanner (503)
    assert r.status_code == 422 and r.get_json()["error"] == "imaging_failed" and r.get_json()["retake"]
    assert client.post("/api/v1/sim/finger", json={"fault": "disconnect"}).get_json()["faults"]["disconnect"]
    r = client.post(f"/api/v1/enrollments/{eid}/fingers/2", headers=auth)
    assert r.status_code == 503 and r.get_json()["error"] == "fingerprint_disconnected"
    client.post("/api/v1/sim/finger", json={"fault": None})
    assert client.post(f"/api/v1/enrollments/{eid}/fingers/2", headers=auth).status_code == 200


def test_progress_answers_while_a_capture_waits(client, auth, kiosk):
    eid = _new_enrollment(client, auth)
    client.post("/api/v1/sim/finger", json={"present": False})
    result = {}

    def capture():
        result["r"] = client.post(f"/api/v1/enrollments/{eid}/fingers/2", json={"timeout": 10}, headers=auth)
    worker = threading.Thread(target=capture)
    worker.start()
    try:
        seen = None
        for _ in range(2000):  # until the capture is waiting; no timing asserted
            seen = client.get("/api/v1/fingerprint/progress", headers=auth).get_json()
            if seen["phase"] == "waiting_for_finger":
                break
            threading.Event().wait(0.005)
        assert seen["phase"] == "waiting_for_finger" and seen["position"] == 2 and worker.is_alive()
        assert client.get("/api/v1/devices", headers=auth).status_code == 200  # other requests go on
    finally:
        client.post("/api/v1/sim/finger", json={"present": True})
        worker.join()
    assert result["r"].status_code == 200 and result["r"].get_json()["accepted"]
    done = client.get("/api/v1/fingerprint/progress", headers=auth).get_json()
    assert done["phase"] == "done" and done["done"] == done["total"] == 36864


def test_truncated_reply_is_a_timeout_and_the_line_recovers(tmp_path):
    """The test plays the module by hand: good answers, then half a frame, then good answers again."""
    import os
    import select
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    port = tmp_path / "ttyHand"
    os.symlink(os.ttyname(slave), port)
    para = r30x.SysPara(0, 9, 500, 3, 0xFFFFFFFF, 1, 6).encode()
    stop = threading.Event()
    truncated = []

    def serve():
        parser = r30x.FrameParser()
        while not stop.is_set():
            if not select.select([master], [], [], 0.05)[0]:
                continue
            parser.feed(os.read(master, 4096))
            for frame in parser:
                if frame.code == r30x.READ_SYS_PARA:
                    os.write(master, r30x.ack(r30x.OK, para))
                elif frame.code == r30x.TEMPLATE_NUM and not truncated:
                    truncated.append(True)
                    os.write(master, r30x.ack(r30x.OK, b"\x00\x05")[:7])  # the cable drops mid-frame
                else:
                    os.write(master, r30x.ack(r30x.OK, b"\x00\x05"))
    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        with R30xReader(port=str(port), baudrate=57600, command_timeout=0.3) as reader:
            assert reader.capacity == 500 and reader.packet_size == 64  # whatever this module says
            with pytest.raises(SensorTimeout):
                reader.template_count()
            assert reader.template_count() == 5  # the half frame was drained, not mistaken for an answer
    finally:
        stop.set()
        worker.join()
        os.close(master)
        os.close(slave)
