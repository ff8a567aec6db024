"""Photo quality gate on simulated camera frames, spoilt in the ways real photos go wrong."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivers.sim import faces

cv2 = pytest.importorskip("cv2")
from kiosk.biometrics.photo import PhotoQuality, assess_photo, crop_portrait  # noqa: E402

SIZE = (480, 640)


def codes(result) -> list[str]:
    return [r.code for r in result.reasons]


@pytest.mark.parametrize("subject", [1, 2, 3, 4, 5, 11, 23])
def test_simulated_residents_are_accepted(subject):
    result = assess_photo(faces.scene(subject, SIZE))
    assert result.accepted, codes(result)
    assert 50 <= result.quality <= 100
    assert result.reasons == ()
    x, y, w, h = result.face_box
    assert 0 <= x < x + w <= SIZE[1] and 0 <= y < y + h <= SIZE[0]


def test_empty_scene_says_no_face_in_both_languages():
    result = assess_photo(faces.scene(None, SIZE))
    assert not result.accepted and result.quality == 0 and result.face_box is None
    (reason,) = result.reasons
    assert reason.code == "no_face"
    assert reason.id == "Wajah tidak terlihat. Minta penduduk menghadap kamera."
    assert reason.en == "No face visible. Ask the resident to face the camera."


def test_as_dict():
    result = assess_photo(faces.scene(None, SIZE))
    assert result.as_dict("en") == {"accepted": False, "quality": 0, "reasons": [
        {"code": "no_face", "message": "No face visible. Ask the resident to face the camera.",
         "message_id": "Wajah tidak terlihat. Minta penduduk menghadap kamera.",
         "message_en": "No face visible. Ask the resident to face the camera."}]}
    assert result.as_dict()["reasons"][0]["message"].startswith("Wajah")
    good = assess_photo(faces.scene(1, SIZE)).as_dict()
    assert good["accepted"] is True and good["reasons"] == [] and isinstance(good["quality"], int)


def test_result_is_frozen():
    result = assess_photo(faces.scene(1, SIZE))
    assert isinstance(result, PhotoQuality)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.accepted = False


def test_two_people_are_several_faces():
    frame = faces.scene(2, SIZE)
    two = np.ascontiguousarray(np.hstack([frame[:, 100:420], frame[:, 180:500]]))
    assert codes(assess_photo(two)) == ["several_faces"]


def test_blurred_photo():
    blurred = cv2.GaussianBlur(faces.scene(3, SIZE), (0, 0), 3)
    result = assess_photo(blurred)
    assert not result.accepted and "blurred" in codes(result)
    assert result.quality < assess_photo(faces.scene(3, SIZE)).quality


def test_dark_and_bright_photos():
    frame = faces.scene(3, SIZE).astype(np.float32)
    dark = assess_photo((frame * 0.3).astype(np.uint8))
    bright = assess_photo(np.clip(frame * 1.6, 0, 255).astype(np.uint8))
    assert not dark.accepted and "too_dark" in codes(dark)
    assert not bright.accepted and "too_bright" in codes(bright)


def test_far_away_resident_is_too_small():
    frame = faces.scene(4, SIZE)
    canvas = faces.scene(None, SIZE).copy()
    small = cv2.resize(frame, (200, 150), interpolation=cv2.INTER_AREA)
    canvas[200:350, 220:420] = small
    result = assess_photo(canvas)
    assert not result.accepted and "face_too_small" in codes(result)


def test_resident_at_the_edge_is_off_centre():
    shifted = np.ascontiguousarray(np.roll(faces.scene(1, SIZE), 200, axis=1))
    result = assess_photo(shifted)
    assert not result.accepted and codes(result) == ["face_off_centre"]


def test_min_quality_gates_on_the_score_alone():
    frame = faces.scene(1, SIZE)
    result = assess_photo(frame, min_quality=101)
    assert not result.accepted and codes(result) == ["quality_low"]


def test_grey_frame_is_accepted_as_input():
    gray = cv2.cvtColor(faces.scene(1, SIZE), cv2.COLOR_RGB2GRAY)
    assert assess_photo(gray).accepted


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 2), np.uint8), np.zeros((48, 64, 3), np.float32)])
def test_wrong_input_is_a_value_error(bad):
    with pytest.raises(ValueError):
        assess_photo(bad)


@pytest.mark.parametrize("size", [(480, 640), (720, 1280), (972, 1296)])
def test_crop_portrait_is_three_by_four_around_the_face(size):
    frame = faces.scene(5, size)
    box = assess_photo(frame).face_box
    crop = crop_portrait(frame, box)
    h, w = crop.shape[:2]
    assert crop.dtype == np.uint8 and crop.shape[2] == 3
    assert w * 4 == h * 3
    assert w >= 1.5 * box[2]  # head and shoulders, not just the face
    assert len(_faces_in(crop)) == 1
    crop[:] = 0  # a copy: the frame is untouched
    assert frame.any()


def test_crop_portrait_near_the_edge_and_without_a_box():
    frame = faces.scene(1, SIZE)
    crop = crop_portrait(frame, (0, 0, 300, 300))  # a box so big the crop must shrink
    assert crop.shape[0] <= SIZE[0] and crop.shape[1] * 4 == crop.shape[0] * 3
    centre = crop_portrait(frame, None)
    assert centre.shape[1] * 4 == centre.shape[0] * 3 and centre.shape[0] <= SIZE[0]


def _faces_in(rgb):
    from kiosk.biometrics.photo import detect_faces
    return detect_faces(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))
