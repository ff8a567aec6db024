"""1:1 fingerprint matching: Minutia Cylinder-Code descriptors, LSS-R global score, calibrated.

Algorithm (Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code", IEEE TPAMI 2010), vectorised
in numpy:

* every minutia gets a *cylinder*: a grid of Ns x Ns cells of side 2R/Ns around it, turned to its
  direction, times Nd direction bins; each cell sums Gaussian contributions of the neighbouring
  minutiae near the cell centre whose direction, relative to the centre minutia's, falls in the
  bin, squashed by a sigmoid. The sigmoid's midpoint MU_PSI sits at about a sixth of one
  neighbour's peak contribution, so a cell lights up only for a neighbour within ~1.9 σS of its
  centre (~23 px). The paper's 0.01 belongs with its normalised Gaussian; with this one it made
  every cell within ~34 px of any neighbour saturate, a crowded print's cylinders filled up with
  ones and looked alike, and true pairs no longer stood out from false ones (the genuine pairs
  that failed had 15-25 true correspondences at similarity ~0.8 each, and as many false
  candidates as similar). Cells outside the print (the minutiae's convex hull grown by Ω) are
  invalid; a cylinder with too few valid cells or neighbours is dropped. Cylinders are
  invariant to rotation and translation, and tolerant to skin distortion because the grid is
  coarse and the Gaussians wide.
* local similarity of two cylinders: 1 - |a - b| / (|a| + |b|) over the cells valid in both
  (0 when the directions differ by more than 90° or they share too few valid cells). For all
  pairs at once this is three matrix products.
* global score, LSS-R: the nR best pairs (one-to-one, greedily: the most similar pair first,
  then the most similar among the minutiae not yet used, and so on) are *relaxed* — each pair's
  similarity is reinforced by the pairs geometrically compatible with it (distances, relative
  directions and radial angles preserved) — and the score is the mean relaxed similarity of
  the nP pairs whose similarity survived relaxation best. Pairs that agree on one rigid-ish
  placement reinforce each other, lone look-alikes do not: that is the geometric check.

Calibrated score: the raw LSS-R value (0..1) is mapped through :data:`CALIBRATION` to
``score = -log10(FMR)``, the false-match rate of a threshold set at that raw value, measured on
the synthetic impostor distribution. So the thresholds read directly:

    score >= 2.0   FMR 1 %        (1 impostor comparison in 100 passes)
    score >= 3.0   FMR 0.1 %      VERIFY_THRESHOLD: 1:1 re-capture check of a claimed finger
    score >= 4.0   FMR 0.01 %
    score >= 5.0   FMR 0.001 %    (extrapolated: the exponential tail fitted to the top impostors)

Scores of different fingers add up as -log10 of the product of their FMRs (independent
fingers), which :mod:`kiosk.biometrics.gallery` uses to fuse a person's fingers.

How :data:`CALIBRATION` was produced: ``python -m kiosk.biometrics.matcher --calibrate`` —
``CALIBRATION_SET`` synthetic fingers (:mod:`drivers.sim.fingers`, subjects 5000+, positions
1..10, good quality) x 2 impressions, every impostor pair across different fingers compared,
the empirical FMR read at the quantiles listed, and beyond the measured range an exponential
tail fitted to the top 1 % of impostor scores. Re-run it when the extractor or the matcher
changes, and paste its output over the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kiosk.biometrics.minutiae import Template

# MCC parameters at 500 dpi (paper values, Ns halved with σS widened to match).
R, NS, ND = 70.0, 8, 6
SIGMA_S, SIGMA_D = 12.0, 2 * math.pi / 9
MU_PSI, TAU_PSI = 0.1, 400.0   # see the module docstring: 0.01 saturated the cylinders
OMEGA = 50.0
MIN_VALID_CELLS, MIN_NEIGHBOURS, MIN_MATCHABLE = 0.75, 2, 0.6
# LSS-R parameters (paper values).
W_R, N_REL = 0.5, 5
RHO = ((5.0, -8 / 5), (math.pi / 12, -30.0), (math.pi / 12, -30.0))
MIN_NP, MAX_NP, MU_P, TAU_P = 4, 12, 20.0, 2 / 5

VERIFY_THRESHOLD = 3.0   # FMR 0.1 %

# raw LSS-R score -> -log10(FMR); see the module docstring for how it was produced.
CALIBRATION_SET = "250 fingers x 2 impressions, 124500 impostor comparisons"
CALIBRATION: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.0237, 0.5), (0.0329, 1.0), (0.0401, 1.5), (0.0463, 2.0),
    (0.0523, 2.5), (0.0582, 3.0), (0.0658, 3.5), (0.073, 4.0),
)
TAIL_SLOPE = 78.49


@dataclass(frozen=True)
class Prepared:
    """A template made ready for matching: minutiae in maths axes and their cylinders."""

    xy: np.ndarray        # (n, 2) x right, y up
    angle: np.ndarray     # (n,) radians
    cyl: np.ndarray       # (n, C) cell values, 0 where invalid
    valid: np.ndarray     # (n, C) 1.0 valid cell, 0.0 invalid
    norm2: np.ndarray     # (n, C) squared values (for the masked norms)

    def __len__(self) -> int:
        return int(self.xy.shape[0])


_ij = (np.arange(NS) - (NS - 1) / 2) * (2 * R / NS)
_CELL_OFFSETS = np.stack(np.meshgrid(_ij, _ij, indexing="ij"), -1).reshape(-1, 2)  # (NS*NS, 2)
_IN_RADIUS = np.hypot(_CELL_OFFSETS[:, 0], _CELL_OFFSETS[:, 1]) <= R
_D_CENTRES = -math.pi + (np.arange(ND) + 0.5) * (2 * math.pi / ND)


def _dphi(a, b):
    """a - b wrapped to [-pi, pi)."""
    return (np.asarray(a) - np.asarray(b) + math.pi) % (2 * math.pi) - math.pi


def prepare(t: Template) -> Prepared:
    """Cylinders of every minutia of ``t`` (the invalid ones dropped)."""
    xy = np.stack([np.asarray(t.x, np.float64), -np.asarray(t.y, np.float64)], 1)
    ang = np.asarray(t.angle, np.float64)
    n = len(xy)
    C = NS * NS * ND
    if n < 2:
        z = np.zeros((0, C), np.float32)
        return Prepared(np.zeros((0, 2)), np.zeros(0), z, z, z)
    c, s = np.cos(ang), np.sin(ang)
    # Cell centres of every cylinder: (n, NS*NS, 2).
    ox, oy = _CELL_OFFSETS[:, 0], _CELL_OFFSETS[:, 1]
    centres = xy[:, None, :] + np.stack([c[:, None] * ox - s[:, None] * oy,
                                         s[:, None] * ox + c[:, None] * oy], -1)
    valid_sp = _IN_RADIUS[None, :] & _inside_hull(xy, centres.reshape(-1, 2)).reshape(n, -1)

    # Spatial part: distance of every neighbour t to every cell centre of every cylinder m,
    # expanded as |c|^2 + |p|^2 - 2 c.p so that it is one matrix product.
    flat = centres.reshape(-1, 2)
    d2 = (flat * flat).sum(1)[:, None] + (xy * xy).sum(1)[None, :] - 2 * (flat @ xy.T)
    gs = np.exp(d2 * (-0.5 / SIGMA_S ** 2)).reshape(n, -1, n)                  # (n, S, n)
    gs[np.arange(n), :, np.arange(n)] = 0                                       # not itself
    # Directional part: relative direction of t w.r.t. m, against each bin centre.
    rel = _dphi(ang[:, None], ang[None, :])                                     # (n, n)
    gd = np.exp(-_dphi(_D_CENTRES[None, None, :], rel[:, :, None]) ** 2 / (2 * SIGMA_D ** 2))
    gd *= (2 * math.pi / ND) / (SIGMA_D * math.sqrt(2 * math.pi))              # bin integral
    contrib = np.matmul(gs, gd)                                                 # (n, S, ND)
    cyl = 1.0 / (1.0 + np.exp(-TAU_PSI * (contrib - MU_PSI)))

    near = (np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) <= R + 3 * SIGMA_S).sum(1) - 1
    ok = (valid_sp.sum(1) >= MIN_VALID_CELLS * _IN_RADIUS.sum()) & (near >= MIN_NEIGHBOURS)
    valid = np.repeat(valid_sp[:, :, None], ND, axis=2).reshape(n, -1)[ok].astype(np.float32)
    cyl = (cyl.reshape(n, -1)[ok] * valid).astype(np.float32)
    return Prepared(xy[ok], ang[ok], cyl, valid, cyl * cyl)


def _inside_hull(xy: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points inside the convex hull of ``xy`` grown by OMEGA (edges pushed out, mitred)."""
    import cv2

    hull = cv2.convexHull(xy.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return np.hypot(*(pts - xy.mean(0)).T) <= OMEGA
    # Signed distance to every edge's line; the hull's orientation decides the inside sign.
    a, b = hull, np.concatenate([hull[1:], hull[:1]])
    e = b - a
    cross = e[None, :, 0] * (pts[:, None, 1] - a[None, :, 1]) - e[None, :, 1] * (pts[:, None, 0] - a[None, :, 0])
    signed = cross / np.hypot(e[:, 0], e[:, 1])[None, :]
    area = np.sum(a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1])
    if area < 0:
        signed = -signed
    return (signed >= -OMEGA).all(axis=1)


def local_similarity(a: Prepared, b: Prepared) -> np.ndarray:
    """(len(a), len(b)) cylinder similarities, 0 for pairs that cannot correspond."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    ab = a.cyl @ b.cyl.T
    na2 = a.norm2 @ b.valid.T
    nb2 = a.valid @ b.norm2.T
    common = a.valid @ b.valid.T
    diff = np.sqrt(np.maximum(na2 + nb2 - 2 * ab, 0))
    den = np.sqrt(na2) + np.sqrt(nb2)
    sim = np.where(den > 0, 1 - diff / np.maximum(den, 1e-9), 0)
    matchable = common >= MIN_MATCHABLE * ND * _IN_RADIUS.sum()
    close_dir = np.abs(_dphi(a.angle[:, None], b.angle[None, :])) <= math.pi / 2
    return np.where(matchable & close_dir, sim, 0).astype(np.float32)


def _sigmoid(v, mu, tau):
    return 1.0 / (1.0 + np.exp(-tau * (v - mu)))


def greedy_pairs(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs (rows, cols) of positive ``sim``, chosen greedily best first.

    Computed in rounds rather than one entry at a time: every pair that is the best of both
    its row and its column among the minutiae still free is taken at once (the greedy order
    would take it too: nothing still free beats it), then its row and column are struck out.
    Unlike keeping only the mutually best pairs of the whole matrix, a true pair whose minutia
    has a look-alike elsewhere still gets in once the look-alike is used up.
    """
    s = np.array(sim, np.float32, copy=True)
    rows = np.arange(s.shape[0])
    ia, ib = [], []
    while s.size:
        best_b, best_a = s.argmax(1), s.argmax(0)
        i = np.nonzero((best_a[best_b] == rows) & (s[rows, best_b] > 0))[0]
        if len(i) == 0:
            break
        j = best_b[i]
        ia.append(i)
        ib.append(j)
        s[i, :] = 0
        s[:, j] = 0
    if not ia:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.concatenate(ia), np.concatenate(ib)


def raw_score(a: Prepared, b: Prepared) -> float:
    """LSS-R global similarity 0..1 (uncalibrated)."""
    sim = local_similarity(a, b)
    n_min = min(len(a), len(b))
    if n_min < 2:
        return 0.0
    n_p = MIN_NP + int(round(_sigmoid(n_min, MU_P, TAU_P) * (MAX_NP - MIN_NP)))
    # nR best pairs, one-to-one, greedily (as the paper's LSS selection, made one-to-one).
    ia, ib = greedy_pairs(sim)
    lam0 = sim[ia, ib].astype(np.float64)
    n_r = len(lam0)
    if n_r < 2:
        return 0.0
    lam = lam0.copy()
    pa, pb = a.xy[ia], b.xy[ib]
    ta, tb = a.angle[ia], b.angle[ib]
    # Compatibility of every pair of pairs: distances, relative directions, radial angles kept.
    da = np.hypot(*(pa[:, None] - pa[None]).transpose(2, 0, 1))
    db = np.hypot(*(pb[:, None] - pb[None]).transpose(2, 0, 1))
    d1 = np.abs(da - db)
    d2 = np.abs(_dphi(_dphi(ta[:, None], ta[None]), _dphi(tb[:, None], tb[None])))
    # Radial angle: direction from one minutia to the other, seen from the first one's direction.
    ra = _dphi(ta[:, None], np.arctan2(pa[None, :, 1] - pa[:, None, 1], pa[None, :, 0] - pa[:, None, 0]))
    rb = _dphi(tb[:, None], np.arctan2(pb[None, :, 1] - pb[:, None, 1], pb[None, :, 0] - pb[:, None, 0]))
    d3 = np.abs(_dphi(ra, rb))
    rho = _sigmoid(d1, *RHO[0]) * _sigmoid(d2, *RHO[1]) * _sigmoid(d3, *RHO[2])
    np.fill_diagonal(rho, 0)
    for _ in range(N_REL):
        lam = W_R * lam + (1 - W_R) * (rho @ lam) / (n_r - 1)
    efficiency = lam / lam0
    top = np.argsort(-efficiency, kind="stable")[:n_p]
    return float(lam[top].sum() / n_p)


def calibrate(raw: float) -> float:
    """-log10(FMR) of a raw score, from :data:`CALIBRATION` and its exponential tail."""
    xs = [p[0] for p in CALIBRATION]
    ys = [p[1] for p in CALIBRATION]
    if raw <= xs[0]:
        return ys[0]
    if raw >= xs[-1]:
        return ys[-1] + TAIL_SLOPE * (raw - xs[-1])
    return float(np.interp(raw, xs, ys))


def score(a, b) -> float:
    """Calibrated similarity of two fingers: -log10 of the FMR at that score."""
    return calibrate(raw_score(_prepared(a), _prepared(b)))


def verify(a, b, *, threshold: float = VERIFY_THRESHOLD) -> tuple[float, bool]:
    """1:1: ``(score, matched)``; ``a`` and ``b`` are Templates, ISO records or Prepared."""
    s = score(a, b)
    return s, s >= threshold


def _prepared(t) -> Prepared:
    if isinstance(t, Prepared):
        return t
    if isinstance(t, (bytes, bytearray, memoryview)):
        from kiosk.biometrics.iso19794 import decode
        t = decode(bytes(t))
    return prepare(t)


def _calibration_table(fingers: int = 250, start_subject: int = 5000) -> str:
    """Measure the impostor distribution on synthetic fingers; return the table as source."""
    from drivers.sim import fingers as synth
    from kiosk.biometrics.minutiae import extract

    prepared = []
    for f in range(fingers):
        subject, position = start_subject + f // 10, f % 10 + 1
        prepared.append([prepare(extract(synth.impression(subject, position, i), position=position))
                         for i in range(2)])
    flat = [(f, p) for f, pair in enumerate(prepared) for p in pair]
    raws = np.array([raw_score(flat[i][1], flat[j][1]) for i in range(len(flat))
                     for j in range(i + 1, len(flat)) if flat[i][0] != flat[j][0]])
    raws.sort()
    n = len(raws)
    levels = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    points = [(0.0, 0.0)]
    for lv in levels:
        above = int(n * 10 ** -lv)
        if above < 5:
            break
        t = float(raws[n - above])
        if t > points[-1][0]:
            points.append((round(t, 4), lv))
    # Exponential tail: log10 FMR linear in the raw score over the top 1 %.
    top = raws[int(n * 0.99):]
    fmr = 1 - (np.arange(int(n * 0.99), n) + 0.5) / n
    slope = -np.polyfit(top, np.log10(fmr), 1)[0]
    rows = [", ".join(f"({a}, {b})" for a, b in points[i:i + 5]) for i in range(0, len(points), 5)]
    table = "".join(f"    {r},\n" for r in rows)
    return (f'CALIBRATION_SET = "{fingers} fingers x 2 impressions, {n} impostor comparisons"\n'
            f"CALIBRATION: tuple[tuple[float, float], ...] = (\n{table})\n"
            f"TAIL_SLOPE = {slope:.2f}\n")


if __name__ == "__main__":
    import sys

    if "--calibrate" in sys.argv:
        print(_calibration_table())
