"""Camera: one RGB frame for the photo, small JPEG frames for the live preview.

Backends: ``picamera2`` (the Pi camera), ``opencv`` (a USB camera), ``sim`` (a synthetic
scene: a face for subject N, or an empty background).

Neither ``picamera2`` nor ``cv2`` is imported when this module is: the kiosk must start on a
machine that has neither, and a missing library becomes a :class:`CameraError` when that
backend is opened, never an import-time crash.

``auto`` picks the first of: picamera2 when the library imports and libcamera lists a camera;
opencv when a ``/dev/video*`` node exists, cv2 imports and a frame can be read from it; sim.
A Pi camera that is listed but fails to start raises (the kiosk shows the fault) rather than
falling back to the simulator: a real kiosk must never record a synthetic face by accident.
"""

from __future__ import annotations

import glob
import io
import logging
import re
import time

import numpy as np

from drivers.base import (Device, DeviceError, DeviceNotFound, DeviceState, Registry, Status,
                          sim_status)

log = logging.getLogger(__name__)

registry = Registry("camera")


class CameraError(DeviceError):
    code = "camera_error"
    default_id = "Kamera bermasalah. Periksa kabel kamera."
    default_en = "The camera failed. Check the camera cable."


class CameraNotFound(CameraError, DeviceNotFound):
    code = "camera_not_found"
    default_id = "Kamera tidak ditemukan. Periksa kabel kamera lalu nyalakan ulang kios."
    default_en = "No camera found. Check the camera cable, then restart the kiosk."


class Camera(Device):
    kind = "camera"

    def capture(self) -> np.ndarray:
        """One full frame, rows x cols x 3, uint8 RGB."""
        raise NotImplementedError

    def preview_jpeg(self, quality: int = 70) -> bytes:
        return encode_jpeg(self.capture(), quality)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@registry.register("sim")
class SimCamera(Camera):
    backend = "sim"
    simulated = True

    def __init__(self, width: int = 640, height: int = 480, **_options):
        super().__init__()
        self.size = (height, width)
        self.subject: int | None = 1

    def show(self, subject: int | None) -> None:
        """What the camera sees: subject N's face, or None for an empty scene."""
        with self._lock:
            self.subject = None if subject is None else int(subject)

    def status(self) -> Status:
        return sim_status("kamera", "camera")

    def capture(self) -> np.ndarray:
        from drivers.sim import faces
        with self._lock:
            subject = self.subject
        return faces.scene(subject, self.size)


class _RealCamera(Camera):
    """What the real backends share: a closed check, the last failure, a status from both."""

    STALE = 5.0  # seconds after which status() checks the camera itself instead of trusting the last frame

    label_id = "kamera"
    label_en = "camera"

    def __init__(self):
        super().__init__()
        self._last_ok = 0.0
        self._last_error: CameraError | None = None

    def capture(self) -> np.ndarray:
        with self._lock:
            if self._closed:
                raise CameraError("The camera is closed.", "Kamera sudah ditutup.")
            try:
                frame = self._read()
            except CameraError as exc:
                self._last_error = exc
                raise
            self._last_ok, self._last_error = time.monotonic(), None
            return frame

    def status(self) -> Status:
        with self._lock:
            if self._closed:
                return Status(DeviceState.ABSENT, "kamera ditutup", "camera closed", self.backend)
            if time.monotonic() - self._last_ok > self.STALE:
                try:
                    self.capture()
                except CameraError:
                    pass
            if self._last_error is not None:
                e = self._last_error
                return Status(DeviceState.FAULT, e.message_id, e.message_en, self.backend)
            return Status(DeviceState.OK, f"{self.label_id} siap ({self._size_text()})",
                          f"{self.label_en} ready ({self._size_text()})", self.backend)

    def _read(self) -> np.ndarray:
        raise NotImplementedError

    def _size_text(self) -> str:
        return ""


@registry.register("opencv")
class OpenCVCamera(_RealCamera):
    """A USB (UVC) camera through OpenCV's VideoCapture."""

    backend = "opencv"
    label_id = "kamera USB"
    label_en = "USB camera"

    def __init__(self, device: int | str = 0, width: int = 640, height: int = 480, **_options):
        super().__init__()
        cv2 = _import_cv2()
        if isinstance(device, str) and device.isdigit():
            device = int(device)  # VideoCapture("0") would look for a file called 0
        self.device = device
        cap = cv2.VideoCapture(device)
        if not cap.isOpened():
            cap.release()
            raise CameraNotFound(f"No camera at {_device_name(device)}.",
                                 f"Tidak ada kamera di {_device_name(device)}. Periksa kabel kamera.",
                                 device=str(device))
        # A request, not a promise: the camera picks its nearest mode, reported by status().
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        self._cap = cap
        self._cv2 = cv2

    def _read(self) -> np.ndarray:
        ok, frame = self._cap.read()
        if not ok or frame is None or frame.size == 0:
            raise CameraError(f"The camera at {_device_name(self.device)} gave no picture.",
                              "Kamera tidak memberi gambar. Periksa kabel kamera.", device=str(self.device))
        if frame.ndim == 2:
            return self._cv2.cvtColor(frame, self._cv2.COLOR_GRAY2RGB)
        return self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)  # OpenCV delivers BGR

    def _size_text(self) -> str:
        w = int(self._cap.get(self._cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._cap.get(self._cv2.CAP_PROP_FRAME_HEIGHT))
        return f"{w}x{h}"

    def _close(self) -> None:
        self._cap.release()


@registry.register("picamera2")
class Picamera2Camera(_RealCamera):
    """The Raspberry Pi camera through picamera2 / libcamera."""

    backend = "picamera2"
    label_id = "kamera Pi"
    label_en = "Pi camera"

    def __init__(self, width: int = 640, height: int = 480, camera_num: int = 0, **_options):
        super().__init__()
        Picamera2 = _import_picamera2()
        try:
            cameras = Picamera2.global_camera_info()
        except Exception as exc:  # noqa: BLE001 - libcamera errors are not typed
            raise CameraError(f"libcamera failed: {exc}", "Kamera Pi tidak dapat dibaca.") from exc
        if len(cameras) <= camera_num:
            raise CameraNotFound("No Pi camera is connected.",
                                 "Kamera Pi tidak terpasang. Periksa kabel pita kamera.")
        self.size = (int(width), int(height))
        cam = None
        try:
            cam = Picamera2(camera_num)
            # A preview configuration streams continuously, so the live preview and the photo
            # read the same running camera without a mode switch.
            config = cam.create_preview_configuration(main={"format": "RGB888", "size": self.size})
            cam.configure(config)
            cam.start()
        except Exception as exc:  # noqa: BLE001
            if cam is not None:
                _quietly(cam.close)
            raise CameraError(f"The Pi camera failed to start: {exc}",
                              "Kamera Pi gagal dinyalakan. Periksa kabel pita kamera.") from exc
        self._cam = cam

    def _read(self) -> np.ndarray:
        try:
            frame = self._cam.capture_array("main")
        except Exception as exc:  # noqa: BLE001
            raise CameraError(f"The Pi camera gave no picture: {exc}",
                              "Kamera Pi tidak memberi gambar. Periksa kabel pita kamera.") from exc
        # libcamera's "RGB888" is stored B, G, R in memory: reverse to the RGB we promise.
        return np.ascontiguousarray(frame[:, :, 2::-1])

    def _size_text(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"

    def _close(self) -> None:
        _quietly(self._cam.stop)
        _quietly(self._cam.close)


def open_camera(backend: str, **options) -> Camera:
    if backend == "auto":
        return _open_auto(options)
    return registry.create(backend, **options)


def _open_auto(options: dict) -> Camera:
    if _picamera2_cameras():
        return registry.create("picamera2", **options)
    for device in _video_devices(options.get("device", 0)):
        try:
            cam = registry.create("opencv", **{**options, "device": device})
        except CameraError as exc:
            log.info("camera auto: %s: %s", _device_name(device), exc)
            continue
        try:
            cam.capture()  # many /dev/video* nodes (codecs, ISP) open fine yet give no picture
            return cam
        except CameraError as exc:
            log.info("camera auto: %s: %s", _device_name(device), exc)
            cam.close()
    return registry.create("sim", **options)


def _picamera2_cameras() -> list:
    try:
        from picamera2 import Picamera2
        return list(Picamera2.global_camera_info())
    except Exception:  # noqa: BLE001 - no library, no libcamera, no camera: all mean "not this one"
        return []


def _video_devices(preferred) -> list[int]:
    """Indices of /dev/videoN nodes, the configured one first; none without cv2."""
    found = sorted(int(m.group(1)) for p in glob.glob("/dev/video*")
                   if (m := re.fullmatch(r"/dev/video(\d+)", p)))
    if not found:
        return []
    try:
        _import_cv2()
    except CameraError:
        return []
    ordered = [preferred] if isinstance(preferred, int) and preferred in found else []
    return (ordered + [n for n in found if n != preferred])[:8]  # each probe costs time at start-up


def _import_cv2():
    try:
        import cv2
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken binary wheel
        raise CameraError(f"OpenCV is not installed: {exc}",
                          "OpenCV belum terpasang; kamera USB tidak dapat dipakai.") from exc
    return cv2


def _import_picamera2():
    try:
        from picamera2 import Picamera2
    except Exception as exc:  # noqa: BLE001
        raise CameraError(f"picamera2 is not installed: {exc}",
                          "picamera2 belum terpasang; kamera Pi tidak dapat dipakai.") from exc
    return Picamera2


def _device_name(device) -> str:
    return f"/dev/video{device}" if isinstance(device, int) else str(device)


def _quietly(fn) -> None:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - closing must not fail the shutdown
        log.warning("camera: %s failed on close: %s", getattr(fn, "__name__", fn), exc)
