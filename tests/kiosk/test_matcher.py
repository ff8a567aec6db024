"""1:1 matcher on synthetic fingers: same finger matches, other fingers do not, at the stated FMRs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

pytest.importorskip("cv2")
from drivers.sim import fingers  # noqa: E402
from kiosk.biometrics import matcher  # noqa: E402
from kiosk.biometrics.iso19794 import encode  # noqa: E402
from kiosk.biometrics.minutiae import Template, extract  # noqa: E402

FINGERS = [(700 + f // 10, f % 10 + 1) for f in range(10)]  # one synthetic person's ten fingers
IMPRESSIONS = 3


@pytest.fixture(scope="module")
def templates():
    return {(f, i): extract(fingers.impression(s, p, i), position=p)
            for f, (s, p) in enumerate(FINGERS) for i in range(IMPRESSIONS)}


@pytest.fixture(scope="module")
def prepared(templates):
    return {k: matcher.prepare(t) for k, t in templates.items()}


@pytest.fixture(scope="module")
def scores(prepared):
    keys = sorted(prepared)
    genuine, impostor = [], []
    for a, b in itertools.combinations(keys, 2):
        s = matcher.score(prepared[a], prepared[b])
        (genuine if a[0] == b[0] else impostor).append(s)
    return np.array(genuine), np.array(impostor)


def test_same_finger_matches_at_the_verify_threshold(scores):
    genuine, _ = scores
    assert len(genuine) == 30
    # FNMR at FMR 0.1 % on this set is a few per cent at most: allow one miss in 30.
    assert (genuine >= matcher.VERIFY_THRESHOLD).sum() >= 29, np.sort(genuine)[:5]
    assert np.median(genuine) >= 8.0  # most genuine pairs are far beyond FMR 1e-8


def test_different_fingers_do_not_match(scores):
    _, impostor = scores
    assert len(impostor) == 405
    # 405 impostor pairs: at FMR 0.01 % none is expected above 4, at 1 % about four above 2.
    assert (impostor >= 4.0).sum() == 0, np.sort(impostor)[-5:]
    assert (impostor >= matcher.VERIFY_THRESHOLD).sum() <= 1
    assert (impostor >= 2.0).sum() <= 12


def test_score_is_symmetric_and_verify_agrees(prepared):
    a, b = prepared[0, 0], prepared[0, 1]
    assert matcher.score(a, b) == pytest.approx(matcher.score(b, a), rel=1e-6)
    s, ok = matcher.verify(a, b)
    assert ok and s == pytest.approx(matcher.score(a, b))
    s2, ok2 = matcher.verify(a, b, threshold=s + 1)
    assert not ok2 and s2 == pytest.approx(s)


def test_iso_records_are_accepted_and_score_like_templates(templates):
    a, b = templates[3, 0], templates[3, 2]
    direct = matcher.score(a, b)
    via_iso = matcher.score(encode(a), encode(b))
    assert via_iso >= matcher.VERIFY_THRESHOLD
    assert abs(via_iso - direct) < 0.25 * direct  # angles quantised to 1.4 degrees only


def moved(t: Template, degrees: float, dx: float, dy: float) -> Template:
    """The same minutiae turned about the image centre and shifted (a rigid re-placement)."""
    a = math.radians(degrees)
    cx, cy = t.width / 2, t.height / 2
    # On screen, counter-clockwise; in array rows (y down) that is a clockwise matrix.
    x = cx + (t.x - cx) * math.cos(a) + (t.y - cy) * math.sin(a) + dx
    y = cy - (t.x - cx) * math.sin(a) + (t.y - cy) * math.cos(a) + dy
    return Template.from_arrays(t.width + 200, t.height + 200, np.round(x + 100), np.round(y + 100),
                                t.angle + a, t.kind, t.minutia_quality)


@pytest.mark.parametrize("degrees,dx,dy", [(0, 0, 0), (30, 10, -20), (-45, -40, 35), (60, 0, 0)])
def test_rotation_and_translation_do_not_matter(templates, degrees, dx, dy):
    t = templates[5, 0]
    s = matcher.score(t, moved(t, degrees, dx, dy))
    assert s >= 15.0  # an exact copy moved rigidly: far beyond any impostor


def test_a_print_turned_upside_down_is_not_a_placement():
    # MCC pairs only minutiae whose directions differ by under 90 degrees: the sensor's guide
    # keeps real placements within ~15 degrees, and the restriction halves chance pairings.
    t = templates_upside = extract(fingers.impression(700, 6, 0))
    assert matcher.score(t, moved(templates_upside, 180, 0, 0)) < matcher.VERIFY_THRESHOLD


def test_calibration_maps_raw_scores_to_minus_log10_fmr():
    xs = [p[0] for p in matcher.CALIBRATION]
    ys = [p[1] for p in matcher.CALIBRATION]
    assert xs == sorted(xs) and ys == sorted(ys) and ys[0] == 0.0
    for x, y in matcher.CALIBRATION:
        assert matcher.calibrate(x) == pytest.approx(y)
    # The documented thresholds are on the table: 2 = FMR 1 %, 3 = 0.1 %, 4 = 0.01 %.
    assert {2.0, 3.0, 4.0} <= set(ys)
    assert matcher.calibrate(-1.0) == 0.0
    tail = [matcher.calibrate(xs[-1] + d) for d in (0.0, 0.05, 0.1)]
    assert tail == sorted(tail) and tail[-1] > tail[0]


def test_too_few_minutiae_score_zero():
    empty = Template.from_arrays(256, 288, [], [], [], [], [])
    one = Template.from_arrays(256, 288, [100], [100], [0.5], [1], [80])
    full = extract(fingers.impression(700, 1, 0))
    assert matcher.score(empty, full) == 0.0
    assert matcher.score(one, full) == 0.0
    assert matcher.verify(empty, empty) == (0.0, False)


def test_greedy_pairs_keep_a_pair_whose_best_match_was_taken():
    # Row 0's most similar column (0) is taken by the stronger row 1; row 0 still pairs with
    # column 1. Keeping only pairs that are each other's best in the whole matrix lost it.
    sim = np.array([[0.80, 0.70],
                    [0.90, 0.00]], np.float32)
    ia, ib = matcher.greedy_pairs(sim)
    assert sorted(zip(ia.tolist(), ib.tolist())) == [(0, 1), (1, 0)]


def test_greedy_pairs_follow_the_best_first_order():
    rng = np.random.default_rng(7)
    for _ in range(50):
        sim = rng.uniform(0, 1, (9, 7)).astype(np.float32)
        sim[sim < 0.4] = 0
        ia, ib = matcher.greedy_pairs(sim)
        # Reference: one entry at a time, best first, skipping used rows and columns.
        used_a, used_b, ref = set(), set(), []
        for k in np.argsort(-sim, axis=None, kind="stable"):
            i, j = divmod(int(k), sim.shape[1])
            if sim[i, j] > 0 and i not in used_a and j not in used_b:
                used_a.add(i)
                used_b.add(j)
                ref.append((i, j))
        assert sorted(zip(ia.tolist(), ib.tolist())) == sorted(ref)
    empty_a, empty_b = matcher.greedy_pairs(np.zeros((3, 4), np.float32))
    assert len(empty_a) == len(empty_b) == 0


def test_a_cylinder_cell_lights_up_only_near_a_neighbour():
    # A ring of minutiae around a centre one, all pointing the same way: the centre's cylinder
    # lights the cells over its neighbours and stays dark where no neighbour is near. (With
    # the sigmoid set too low, every cell within ~34 px of any neighbour saturated, and
    # crowded prints' cylinders all looked alike.)
    ang = np.linspace(0, 2 * math.pi, 5)[:-1]
    xs = np.concatenate([[128], 128 + 25 * np.cos(ang)])
    ys = np.concatenate([[144], 144 + 25 * np.sin(ang)])
    t = Template.from_arrays(256, 288, np.round(xs), np.round(ys), np.zeros(5), np.ones(5), np.full(5, 80))
    p = matcher.prepare(t)
    centre = int(np.argmin(np.hypot(p.xy[:, 0] - 128, p.xy[:, 1] + 144)))
    cells = p.cyl[centre].reshape(matcher.NS * matcher.NS, matcher.ND).max(axis=1)
    valid = p.valid[centre].reshape(matcher.NS * matcher.NS, matcher.ND)[:, 0] > 0
    # Cell centres relative to the centre minutia (angle 0: the cylinder is not turned).
    offsets = matcher._CELL_OFFSETS
    nearest = np.min(np.hypot(offsets[:, None, 0] - 25 * np.cos(ang)[None],
                              offsets[:, None, 1] + 25 * np.sin(ang)[None]), axis=1)
    assert cells[valid & (nearest < 12)].min() > 0.9
    assert cells[valid & (nearest > 35)].max() < 0.05
    assert (valid & (nearest > 35)).sum() >= 4  # the dark cells exist and were checked
