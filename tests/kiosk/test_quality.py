"""NFIQ 2-style quality score: good prints score high, spoilt ones low, blank and noise zero."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
from drivers.sim import fingers  # noqa: E402
from kiosk.biometrics import quality as Q  # noqa: E402


@pytest.mark.parametrize("subject,position", [(1, 2), (2, 7), (4, 5)])
def test_score_falls_as_the_capture_is_spoilt(subject, position):
    scores = [Q.assess(fingers.impression(subject, position, 1, quality=q)).score for q in (None, 0.6, 0.1)]
    assert scores[0] >= 70 and scores[0] > scores[1] > scores[2]
    assert scores[2] < Q.UNUSABLE + 10
    assert Q.assess(fingers.impression(subject, position, 1)).usable


def test_features_and_template_come_with_the_score():
    r = Q.assess(fingers.impression(3, 1, 0), position=1)
    assert set(r.features) == {"area", "ocl", "clarity", "frequency", "minutiae"}
    assert 0.3 < r.features["area"] <= 1 and r.features["ocl"] > 0.8 and r.features["clarity"] > 0.7
    assert r.template is not None and len(r.template) == r.features["minutiae"] and r.template.position == 1


@pytest.mark.parametrize("img", [np.full((288, 256), 240, np.uint8),
                                 np.random.default_rng(0).integers(0, 256, (288, 256), dtype=np.uint8),
                                 np.zeros((20, 20), np.uint8)])
def test_blank_noise_and_tiny_score_nothing(img):
    r = Q.assess(img)
    assert r.score < 5 and not r.usable


def test_wrong_input_is_a_value_error():
    with pytest.raises(ValueError):
        Q.assess(np.zeros((288, 256), np.float32))
