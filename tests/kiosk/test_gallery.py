"""1:N gallery: finds the enrolled person among 200, fuses fingers, survives a restart via the store."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("cv2")
from drivers.sim import fingers  # noqa: E402
from kiosk.biometrics import gallery as G  # noqa: E402
from kiosk.biometrics.iso19794 import encode  # noqa: E402
from kiosk.biometrics.minutiae import Template, extract  # noqa: E402
from kiosk.store import Store  # noqa: E402

POSITIONS = (2, 7)                 # the two index fingers (those on the card) keep the test quick
REAL = [800 + i for i in range(5)]   # persons enrolled for real and searched for
POOL = [900 + i for i in range(5)]   # persons whose fingers make up the filler persons
PERSONS = 200


def nik(subject: int) -> str:
    return f"64030641079{subject:05d}"


def jiggle(t: Template, rng) -> Template:
    """A slightly different template of the same finger (so fillers are not exact copies)."""
    a = math.radians(rng.uniform(-8, 8))
    keep = rng.uniform(size=len(t)) > 0.1
    x = (t.x - 128) * math.cos(a) + (t.y - 144) * math.sin(a) + 128 + rng.normal(0, 1.5, len(t))
    y = -(t.x - 128) * math.sin(a) + (t.y - 144) * math.cos(a) + 144 + rng.normal(0, 1.5, len(t))
    x, y = np.clip(np.round(x), 0, t.width - 1), np.clip(np.round(y), 0, t.height - 1)
    return Template.from_arrays(t.width, t.height, x[keep], y[keep], (t.angle + a)[keep], t.kind[keep],
                                t.minutia_quality[keep], position=t.position, quality=t.quality)


@pytest.fixture(scope="module")
def material():
    real = {(s, i): {p: extract(fingers.impression(s, p, i), position=p) for p in POSITIONS}
            for s in REAL for i in (0, 1)}
    pool = {p: [extract(fingers.impression(s, p, 0), position=p) for s in POOL] for p in POSITIONS}
    return real, pool


@pytest.fixture(scope="module")
def gallery(material):
    real, pool = material
    rng = np.random.default_rng(5)
    g = G.Gallery()
    for s in REAL:
        g.add(f"enr-{s}", nik(s), real[s, 0])
    for k in range(PERSONS - len(REAL)):
        g.add(f"filler-{k}", f"99{k:014d}", {p: jiggle(pool[p][rng.integers(len(POOL))], rng) for p in POSITIONS})
    return g


def test_the_enrolled_person_is_found_among_200(gallery, material):
    real, _ = material
    assert len(gallery) == PERSONS and gallery.finger_count == PERSONS * len(POSITIONS)
    for s in REAL:
        suspects = gallery.search(real[s, 1])
        assert [x.nik for x in suspects] == [nik(s)], [x.as_dict() for x in suspects]
        top = suspects[0]
        assert top.person_id == f"enr-{s}" and top.score >= G.SUSPECT_THRESHOLD
        assert set(top.fingers) <= set(POSITIONS) and max(top.fingers.values()) >= 4.0


def test_a_stranger_raises_no_suspect(gallery):
    stranger = {p: extract(fingers.impression(990, p, 0), position=p) for p in POSITIONS}
    assert gallery.search(stranger) == []


def test_one_good_finger_is_enough_when_it_is_very_strong(gallery, material):
    real, _ = material
    s = REAL[2]
    only = gallery.search({7: real[s, 1][7]})
    assert only and only[0].nik == nik(s) and set(only[0].fingers) == {7}
    assert only[0].score == pytest.approx(only[0].fingers[7])


def test_exclude_leaves_out_the_record_being_committed(gallery, material):
    real, _ = material
    s = REAL[0]
    assert gallery.search(real[s, 1], exclude=f"enr-{s}") == []


def test_iso_records_work_as_probes_and_gallery_entries(material):
    real, _ = material
    g = G.Gallery()
    g.add("a", nik(REAL[3]), {p: encode(t) for p, t in real[REAL[3], 0].items()})
    g.add("b", nik(REAL[4]), real[REAL[4], 0])
    found = g.search({p: encode(t) for p, t in real[REAL[3], 1].items()})
    assert [x.person_id for x in found] == ["a"]


def test_remove_and_replace(material):
    real, _ = material
    g = G.Gallery()
    g.add("a", nik(REAL[1]), real[REAL[1], 0])
    g.remove("a")
    assert len(g) == 0 and g.search(real[REAL[1], 1]) == []
    g.add("a", nik(REAL[1]), real[REAL[1], 0])
    g.add("a", nik(REAL[1]), real[REAL[1], 0])  # adding again replaces
    assert len(g) == 1 and [x.person_id for x in g.search(real[REAL[1], 1])] == ["a"]


def test_prefilter_rows_are_bytes_that_score_like_the_float_vectors(gallery, material):
    from kiosk.biometrics import matcher
    from kiosk.biometrics.iso19794 import decode

    real, _ = material
    # One byte per entry and a float32 scale per row: a quarter of float32 rows.
    assert gallery.vector_bytes == gallery.finger_count * (G.DIM + 4)
    q = G.prefilter_vector(matcher.prepare(real[REAL[0], 1][2]))
    rows = [r for r in range(0, gallery.finger_count, 37)]
    exact = np.array([G.prefilter_vector(matcher.prepare(decode(gallery._records[r]))) @ q for r in rows])
    stored = np.array([gallery._row_vector(r) @ q for r in rows])
    assert np.abs(stored - exact).max() <= 0.01 * exact.max()
    # The blockwise product over a whole position's matrix equals the row-by-row one.
    n = gallery._pn[2]
    blocked = G._products(gallery._pvec[2][:n], gallery._pscale[2][:n], q)
    one_by_one = gallery._pvec[2][:n].astype(np.float32) @ q * gallery._pscale[2][:n]
    assert np.allclose(blocked, one_by_one, rtol=1e-5, atol=1e-6)


def test_quantised_vectors_keep_their_largest_entry_and_zeros():
    v = np.zeros(G.DIM, np.float32)
    v[[3, 40, 200]] = [0.6, 0.3, 0.05]
    u, scale = G.quantised(v / np.linalg.norm(v))
    assert u.dtype == np.uint8 and u.max() == 255 and (u[v == 0] == 0).all()
    assert np.allclose(u * scale, v / np.linalg.norm(v), atol=scale / 2 + 1e-7)
    zero, zscale = G.quantised(np.zeros(G.DIM, np.float32))
    assert not zero.any() and zscale == 0


def test_fusion_is_fishers_method():
    assert G.fuse([]) == 0.0
    assert G.fuse([6.0]) == pytest.approx(6.0)
    # Two independent fingers at FMR 1e-5 each: P(a stranger's sum >= theirs) = x e^-x + e^-x.
    x = 10 * math.log(10)
    assert G.fuse([5.0, 5.0]) == pytest.approx(-math.log10(math.exp(-x) * (1 + x)))
    assert G.fuse([5.0, 5.0]) > G.SUSPECT_THRESHOLD > G.fuse([5.0])
    # Weak evidence on many fingers does not add up to a suspect; strong on two does.
    assert G.fuse([1.0] * 10) < G.SUSPECT_THRESHOLD - 4
    assert G.fuse([-2.0, 3.0]) == pytest.approx(G.fuse([0.0, 3.0]))
    assert G.fuse([100.0] * 10) > 900  # no overflow
    assert G.fuse([2.0, 3.0, 4.0]) < G.fuse([2.0, 3.0, 5.0])


def test_rebuild_from_the_store(tmp_path, material):
    real, _ = material
    store = Store(tmp_path / "kiosk.db")
    with store.transaction() as conn:
        conn.execute("INSERT INTO operators(id, role, pin_hash, created_at) VALUES ('op', 'operator', 'x', 0)")
        for s in REAL[:3]:
            conn.execute("INSERT INTO enrollments(id, nik, state, step, operator_id, biodata, created_at, updated_at) "
                         "VALUES (?, ?, 'committed', 'review', 'op', '{}', 0, 0)", (f"enr-{s}", nik(s)))
            G.save_templates(conn, f"enr-{s}", nik(s), real[s, 0], at=1.0)
    row = store.one("SELECT template, algorithm, quality FROM finger_templates WHERE enrollment_id = ? "
                    "AND position = 7", (f"enr-{REAL[0]}",))
    assert bytes(row["template"])[:4] == b"FMR\0" and row["algorithm"] and row["quality"] > 0
    store.close()

    g = G.Gallery()
    g.add("stale", "0" * 16, real[REAL[4], 0])
    assert g.rebuild(Store(tmp_path / "kiosk.db")) == 3       # reopened: what a restart sees
    assert g.finger_count == 3 * len(POSITIONS)
    found = g.search(real[REAL[1], 1])
    assert [(x.person_id, x.nik) for x in found] == [(f"enr-{REAL[1]}", nik(REAL[1]))]
    assert g.search(real[REAL[4], 1]) == []                   # the stale entry is gone
