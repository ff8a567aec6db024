"""Camera driver: the simulated scene, backend selection, and the real backends on fakes."""

from __future__ import annotations

import glob
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from drivers import camera
from drivers.base import DeviceState
from drivers.camera import CameraError, CameraNotFound, OpenCVCamera, Picamera2Camera, SimCamera, open_camera
from drivers.sim import faces

cv2 = pytest.importorskip("cv2")

ROOT = Path(__file__).resolve().parents[2]


def _faces(rgb: np.ndarray) -> list:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    side = int(0.1 * min(gray.shape))
    return list(cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)))


# --- the simulated scene ---------------------------------------------------------------------

@pytest.mark.parametrize("subject", [1, 2, 3, 4, 5])
def test_sim_scene_has_one_face_the_cascade_finds(subject):
    frame = faces.scene(subject, (480, 640))
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert len(_faces(frame)) == 1


@pytest.mark.parametrize("size", [(240, 320), (720, 1280), (972, 1296)])
def test_sim_face_found_at_other_sizes(size):
    frame = faces.scene(3, size)
    assert frame.shape == (*size, 3)
    assert len(_faces(frame)) == 1


def test_empty_scene_has_no_face():
    frame = faces.scene(None, (480, 640))
    assert frame.shape == (480, 640, 3)
    assert _faces(frame) == []
    assert frame.std() < 20  # a plain wall: only light fall-off, grain and noise


def test_scene_is_deterministic_per_subject_apart_from_noise():
    a = faces.scene(7, (480, 640), seed=1)
    b = faces.scene(7, (480, 640), seed=1)
    c = faces.scene(7, (480, 640), seed=2)
    assert np.array_equal(a, b)
    diff = np.abs(a.astype(int) - c.astype(int))
    assert 0 < diff.mean() < 3  # only the sensor noise differs


def test_subjects_look_different():
    frames = [faces.scene(s, (480, 640), seed=0).astype(float) for s in (1, 2, 3)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(frames[i] - frames[j]).mean() > 10


def test_sim_camera_capture_and_show():
    cam = SimCamera(width=320, height=240)
    assert cam.capture().shape == (240, 320, 3)
    cam.show(None)
    assert _faces(cam.capture()) == []
    cam.show(4)
    assert len(_faces(cam.capture())) == 1
    assert cam.preview_jpeg().startswith(b"\xff\xd8")
    assert cam.status().simulated and cam.status().state == DeviceState.WARNING


def test_sim_close_is_idempotent():
    cam = SimCamera()
    cam.close()
    cam.close()
    assert cam.closed


# --- backend selection -----------------------------------------------------------------------

def test_module_import_loads_neither_cv2_nor_picamera2():
    code = ("import sys, drivers.camera; "
            "print(int('cv2' in sys.modules), int('picamera2' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.split() == ["0", "0"]


@pytest.mark.skipif(bool(glob.glob("/dev/video*")), reason="this machine has a video device")
def test_auto_is_sim_without_a_camera():
    try:
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is installed here")
    except ImportError:
        pass
    cam = open_camera("auto", device=0, width=640, height=480)
    assert cam.backend == "sim" and cam.simulated
    cam.close()


def test_auto_prefers_a_listed_pi_camera(monkeypatch):
    _install_fake_picamera2(monkeypatch, cameras=[{"Model": "imx708"}])
    cam = open_camera("auto", device=0, width=320, height=240)
    assert cam.backend == "picamera2"
    cam.close()


def test_auto_uses_a_usb_camera_that_gives_frames(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails
    monkeypatch.setattr(camera.glob, "glob", lambda pattern: ["/dev/video0", "/dev/video10"])
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture.factory(openable={10}))
    cam = open_camera("auto", device=0, width=320, height=240)
    assert cam.backend == "opencv" and cam.device == 10
    cam.close()


def test_auto_falls_back_to_sim_when_video_nodes_give_no_frame(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setattr(camera.glob, "glob", lambda pattern: ["/dev/video0", "/dev/video1"])
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture.factory(openable={0, 1}, readable=False))
    cam = open_camera("auto", device=0)
    assert cam.backend == "sim"
    assert all(c.released == 1 for c in FakeCapture.made)  # probes do not leak the device


def test_unknown_backend_is_a_typed_error():
    with pytest.raises(camera.DeviceError):
        open_camera("webcam9000")


# --- the OpenCV backend ----------------------------------------------------------------------

def test_opencv_bad_device_index_raises_camera_error_not_a_crash():
    with pytest.raises(CameraError) as info:
        open_camera("opencv", device=97, width=640, height=480)
    assert isinstance(info.value, CameraNotFound) and isinstance(info.value, FileNotFoundError)
    assert info.value.code == "camera_not_found"
    assert "kamera" in info.value.message_id.lower()


def test_opencv_without_cv2_is_a_typed_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(CameraError):
        OpenCVCamera(device=0)


def test_opencv_converts_bgr_to_rgb_and_reports_ok(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture.factory(openable={0}))
    cam = OpenCVCamera(device=0, width=320, height=240)
    frame = cam.capture()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert tuple(frame[0, 0]) == (30, 20, 10)  # the fake delivers B=10, G=20, R=30
    status = cam.status()
    assert status.state == DeviceState.OK and "320x240" in status.detail_en and status.detail_id
    assert FakeCapture.made[0].requested == (320, 240)


def test_opencv_read_failure_is_camera_error_and_fault(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture.factory(openable={0}, readable=False))
    cam = OpenCVCamera(device=0)
    with pytest.raises(CameraError):
        cam.capture()
    assert cam.status().state == DeviceState.FAULT


def test_opencv_close_releases_once_and_is_idempotent(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture.factory(openable={0}))
    with OpenCVCamera(device=0) as cam:
        cam.capture()
    cam.close()
    cam.close()
    assert FakeCapture.made[0].released == 1
    assert cam.status().state == DeviceState.ABSENT
    with pytest.raises(CameraError):
        cam.capture()


# --- the picamera2 backend -------------------------------------------------------------------

def test_picamera2_missing_is_a_typed_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraError):
        open_camera("picamera2")


def test_picamera2_without_a_camera_is_not_found(monkeypatch):
    _install_fake_picamera2(monkeypatch, cameras=[])
    with pytest.raises(CameraNotFound):
        Picamera2Camera()


def test_picamera2_start_failure_is_typed_and_closes(monkeypatch):
    fake = _install_fake_picamera2(monkeypatch, cameras=[{}], fail_start=True)
    with pytest.raises(CameraError):
        Picamera2Camera()
    assert fake.instances[0].closed == 1


def test_picamera2_rgb888_main_stream_and_close(monkeypatch):
    fake = _install_fake_picamera2(monkeypatch, cameras=[{}])
    cam = Picamera2Camera(width=320, height=240)
    pi = fake.instances[0]
    assert pi.config["main"] == {"format": "RGB888", "size": (320, 240)}
    frame = cam.capture()
    assert frame.shape == (240, 320, 3)
    assert tuple(frame[0, 0]) == (30, 20, 10)  # libcamera's RGB888 is B, G, R in memory
    assert cam.status().state == DeviceState.OK
    cam.close()
    cam.close()
    assert (pi.stopped, pi.closed) == (1, 1)


# --- fakes -----------------------------------------------------------------------------------

class FakeCapture:
    """Stands in for cv2.VideoCapture: frames are solid B=10, G=20, R=30."""

    made: list["FakeCapture"] = []

    @classmethod
    def factory(cls, openable: set, readable: bool = True):
        cls.made = []

        def make(device, *args):
            cap = cls(device, device in openable, readable)
            cls.made.append(cap)
            return cap
        return make

    def __init__(self, device, opened, readable):
        self.device, self.opened, self.readable = device, opened, readable
        self.size = [640, 480]
        self.requested = (None, None)
        self.released = 0

    def isOpened(self):
        return self.opened and not self.released

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            self.size[0] = int(value)
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            self.size[1] = int(value)
        self.requested = tuple(self.size)
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1]}.get(prop, 0)

    def read(self):
        if not (self.readable and self.isOpened()):
            return False, None
        frame = np.empty((self.size[1], self.size[0], 3), np.uint8)
        frame[:] = (10, 20, 30)
        return True, frame

    def release(self):
        self.released += 1


def _install_fake_picamera2(monkeypatch, cameras, fail_start=False):
    class FakePicamera2:
        instances: list = []

        @staticmethod
        def global_camera_info():
            return list(cameras)

        def __init__(self, num=0):
            self.num, self.config, self.started, self.stopped, self.closed = num, None, 0, 0, 0
            FakePicamera2.instances.append(self)

        def create_preview_configuration(self, main):
            return {"main": dict(main)}

        def configure(self, config):
            self.config = config

        def start(self):
            if fail_start:
                raise RuntimeError("Camera __init__ sequence did not complete")
            self.started += 1

        def capture_array(self, name="main"):
            w, h = self.config["main"]["size"]
            frame = np.empty((h, w, 3), np.uint8)
            frame[:] = (10, 20, 30)
            return frame

        def stop(self):
            self.stopped += 1

        def close(self):
            self.closed += 1

    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return FakePicamera2
