"""The composition root: what a partly simulated kiosk allows and how it marks its records."""

import pytest

from drivers.camera import SimCamera
from drivers.fingerprint import SimFingerprint
from drivers.network import SimNetwork
from kiosk.app import build_kiosk
from kiosk.devices import Devices, FailedDevice
from kiosk.errors import AuthError


def test_auto_fallback_to_a_simulator_marks_records_as_training(config):
    # Real card reader and UPS failed to start; camera and scanner fell back to their simulators.
    devices = Devices(SimCamera(), SimFingerprint(), FailedDevice("smartcard", "pcsc", OSError("no reader")),
                      FailedDevice("power", "x728", OSError("no i2c")), SimNetwork())
    k = build_kiosk(config, devices=devices, start_workers=False)
    try:
        assert not k.simulated                      # not a training kiosk as a whole ...
        with pytest.raises(AuthError):              # ... so no demo login
            k.operators.login("demo", "123456")
        assert k.enrollments.simulated              # but captures from simulators are training data
        assert k.device_status()["power"]["state"] == "fault"
    finally:
        k.close()
