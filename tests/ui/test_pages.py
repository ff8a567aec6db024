"""The touch pages (ui/pages.py) through Flask's test client: each renders for a logged-in operator,
sends everyone else to /login, speaks both languages, and never breaks the 800×480 screen."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from kiosk.app import build_kiosk
from kiosk.config import load_config
from kiosk.operators import Policy
from ui import create_app
from ui.i18n import WORDS

UI = Path(__file__).resolve().parents[2] / "ui"
NIK = "6403064107900003"  # Kabupaten Berau, Gunung Tabur; a woman born 1 July 1990
BIODATA = {
    "name": "Siti Aminah", "birth_place": "Tanjung Redeb", "birth_date": "1990-07-01", "sex": "P",
    "blood_type": "O", "address": "Jl. Pemuda No. 12", "rt": "3", "rw": "1", "village": "Gunung Tabur",
    "district": "Gunung Tabur", "religion": "Islam", "marital_status": "Kawin", "occupation": "Petani",
    "citizenship": "WNI",
}
STEPS = ("biodata", "photo", "signature", "fingers", "verify", "review")


@pytest.fixture
def kiosk(tmp_path):
    k = build_kiosk(load_config(simulate=True, overrides={"kiosk": {"data_dir": str(tmp_path)}}), start_workers=False)
    yield k
    k.close()


@pytest.fixture
def app(kiosk):
    return create_app(kiosk)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def logged_in(client):
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"})
    assert r.status_code == 200, r.get_json()
    return client


def create(client, **extra) -> str:
    r = client.post("/api/v1/enrollments", json={"nik": NIK, "session_village": "Gunung Tabur", **BIODATA, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def signature_png() -> bytes:
    from PIL import Image, ImageDraw
    img = Image.new("L", (600, 200), 255)
    draw = ImageDraw.Draw(img)
    draw.line([(60, 140), (120, 60), (180, 150), (260, 70), (340, 140), (420, 80), (520, 130)], fill=0, width=4)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def complete(client, eid: str) -> None:
    assert client.post(f"/api/v1/enrollments/{eid}/biodata", json={}).status_code == 200
    r = client.post(f"/api/v1/enrollments/{eid}/photo", json={})
    assert r.status_code == 200 and r.get_json()["accepted"], r.get_json()
    r = client.post(f"/api/v1/enrollments/{eid}/signature", data=signature_png(), content_type="image/png")
    assert r.status_code == 200 and r.get_json()["accepted"], r.get_json()
    for pos in range(1, 11):
        r = client.post(f"/api/v1/enrollments/{eid}/fingers/{pos}", json={})
        assert r.status_code == 200 and r.get_json()["accepted"], r.get_json()
    for pos in (2, 7):  # the index fingers, verified 1:1 before review
        r = client.post(f"/api/v1/enrollments/{eid}/verify/{pos}", json={})
        assert r.status_code == 200 and r.get_json()["matched"], r.get_json()


def text(resp) -> str:
    return resp.get_data(as_text=True)


# --- who may see what ----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/enroll", "/outbox", "/enroll/some-id/biodata", "/enroll/some-id"])
def test_operator_pages_redirect_to_login_when_not_logged_in(client, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


def test_a_bad_token_is_sent_to_login(client):
    client.set_cookie("kiosk_token", "not-a-token")
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_an_idle_session_goes_back_to_login_with_the_reason(kiosk, logged_in):
    kiosk.operators.policy = Policy(5, 300, -1)  # every session is already idle too long
    r = logged_in.get("/enroll")
    assert r.status_code == 302
    assert "reason=session_expired" in r.headers["Location"]
    page = text(logged_in.get(r.headers["Location"]))
    assert "Sesi berakhir karena tidak ada aktivitas" in page


def test_logout_ends_the_session(logged_in):
    r = logged_in.post("/logout")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert logged_in.get("/").status_code == 302


# --- the login screen -----------------------------------------------------------------------
def test_login_page_in_simulated_mode_says_how_to_log_in(client):
    page = text(client.get("/login"))
    assert "Mode simulasi: masuk sebagai demo / PIN 123456" in page
    assert "MODE SIMULASI — perangkat disimulasikan" in page
    assert 'data-key="0"' in page and 'data-key="del"' in page and 'data-key="clear"' in page
    assert 'id="statusbar"' not in page  # nobody is logged in: no operator status bar
    en = text(client.get("/login?lang=en"))
    assert "Simulation mode: log in as demo / PIN 123456" in en and 'lang="en"' in en


def test_login_next_is_only_a_local_path(client):
    assert 'data-next="/"' in text(client.get("/login?next=//evil.example/x"))
    assert 'data-next="/"' in text(client.get("/login?next=http://evil.example/"))
    assert 'data-next="/outbox"' in text(client.get("/login?next=/outbox"))


def test_lang_route_sets_the_cookie_and_goes_back(client):
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert "lang=en" in r.headers.get("Set-Cookie", "")
    assert "Operator log in" in text(client.get("/login"))
    r = client.get("/lang/xx?next=//evil.example")
    assert r.headers["Location"] == "/" and "lang=" not in r.headers.get("Set-Cookie", "")


# --- every page, both languages -------------------------------------------------------------
@pytest.mark.parametrize("lang,words", [("id", ["Rekam data penduduk", "Keluar", "Antrean kirim"]),
                                        ("en", ["Record a resident", "Log out", "Send queue"])])
def test_home_renders_in_both_languages(logged_in, lang, words):
    logged_in.set_cookie("lang", lang)
    r = logged_in.get("/")
    assert r.status_code == 200
    page = text(r)
    for w in words:
        assert w in page
    assert 'id="statusbar"' in page and ">demo<" in page
    assert f'lang="{lang}"' in page
    assert '"idle_seconds": 600' in page  # status.js logs out after the configured idle time


def test_home_offers_drafts_to_resume_and_remembers_the_village(logged_in):
    eid = create(logged_in)
    page = text(logged_in.get("/"))
    assert f"/enroll/{eid}/biodata" in page and "SITI AMINAH" in page
    r = logged_in.post("/village", data={"village": "  Gunung   Tabur "})
    assert r.status_code == 302 and "village=" in r.headers["Set-Cookie"]
    assert 'data-village="Gunung Tabur"' in text(logged_in.get("/enroll"))


def test_home_shows_todays_scheduled_villages(kiosk, logged_in, tmp_path):
    import datetime as dt

    from kiosk import schedule
    today = dt.date.today().isoformat()
    csv = tmp_path / "schedule.csv"
    csv.write_text("start_date,end_date,village_code,village,rt_count,eligible\n"
                   f"{today},{today},6403061001,Gunung Tabur,12,1800\n", encoding="utf-8")
    schedule.import_csv(kiosk.store, csv)
    page = text(logged_in.get("/"))
    assert 'name="village" value="Gunung Tabur"' in page  # a big button for today's village
    assert '<select id="village-select" name="village">' in page
    assert 'data-village="Gunung Tabur"' in text(logged_in.get("/enroll"))  # today's village by default


@pytest.mark.parametrize("lang", ["id", "en"])
def test_nik_page_renders(logged_in, lang):
    logged_in.set_cookie("lang", lang)
    page = text(logged_in.get("/enroll"))
    assert ("Masukkan NIK" if lang == "id" else "Enter the NIK") in page
    assert page.count('class="nik-cell"') == 16
    for name in BIODATA:
        assert f'id="f-{name}"' in page


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("step", STEPS)
def test_each_step_renders_from_the_draft(logged_in, step, lang):
    eid = create(logged_in)
    logged_in.set_cookie("lang", lang)
    r = logged_in.get(f"/enroll/{eid}/{step}")
    assert r.status_code == 200, text(r)[:500]
    page = text(r)
    assert 'class="steps"' in page and 'aria-current="step"' in page
    assert 'class="btn btn-back"' in page and "btn-primary" in page
    assert "MODE SIMULASI" in page or "SIMULATION MODE" in page
    if step == "biodata":
        assert "SITI AMINAH" in page and ("Koreksi" if lang == "id" else "Correct") in page
        assert page.count('class="locked-tag"') == 3  # place/date of birth, blood type
        assert ("perlu dokumen" if lang == "id" else "needs a document") in page
    if step == "photo":
        assert 'id="preview"' in page and 'id="sim-face"' in page
        assert ("latar biru" if lang == "id" else "blue background") in page  # born 1990: even year
    if step == "signature":
        assert 'id="signature-pad"' in page
    if step == "fingers":
        assert page.count('class="finger fs-missing"') == 10
        assert 'id="sim-finger"' in page
        for reason in ("amputated", "injured", "bandaged", "unreadable"):
            assert f'data-exception="{reason}"' in page
        assert ("jari telunjuk kanan" if lang == "id" else "right index finger") in page
    if step == "verify":
        assert 'id="verify-scan"' in page and 'id="verify-list"' in page and 'id="hands"' in page
        assert ("jari telunjuk kiri" if lang == "id" else "left index finger") in page
    if step == "review":
        assert 'id="review-save"' in page and 'id="override-form"' in page
        # Nothing captured yet: what is missing is listed with links to its step.
        missing = page.split('id="missing-list"', 1)[1].split("</ul>", 1)[0]
        for target in ("biodata", "photo", "signature", "fingers"):
            assert f"/enroll/{eid}/{target}" in missing
        assert ("jari kelingking kiri" if lang == "id" else "left little finger") in missing


def test_done_redirects_to_review_until_saved(logged_in):
    eid = create(logged_in)
    r = logged_in.get(f"/enroll/{eid}/done")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/enroll/{eid}/review")
    r = logged_in.get(f"/enroll/{eid}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/enroll/{eid}/biodata")


def test_unknown_step_is_a_page_not_json(logged_in):
    eid = create(logged_in)
    r = logged_in.get(f"/enroll/{eid}/nowhere")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "Detail" in text(r)


def test_unknown_enrollment_is_a_friendly_404(logged_in):
    r = logged_in.get("/enroll/no-such-id/biodata")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "Data perekaman tidak ditemukan." in text(r)


def test_saved_enrollment_shows_done_and_outbox(logged_in):
    eid = create(logged_in)
    complete(logged_in, eid)
    page = text(logged_in.get(f"/enroll/{eid}/review"))
    assert page.count('class="fchip fs-captured"') == 10
    assert '<ul id="missing-list" class="missing-list" hidden>' in page
    r = logged_in.post(f"/api/v1/enrollments/{eid}/commit", json={})
    assert r.status_code == 200, r.get_json()
    reg = r.get_json()["registration_id"]
    for step in STEPS:
        r = logged_in.get(f"/enroll/{eid}/{step}")
        assert r.status_code == 302 and r.headers["Location"].endswith("/done")
    done = text(logged_in.get(f"/enroll/{eid}/done"))
    assert reg in done and "Selesai: perekaman tersimpan" in done
    assert f"/api/v1/enrollments/{eid}/receipt.svg" in done
    outbox = text(logged_in.get("/outbox"))
    assert reg in outbox and NIK not in outbox and "SITI" not in outbox
    assert re.search(r'data-count="queued">1<', outbox)
    assert ">1<" in text(logged_in.get("/")).split('id="tally"', 1)[1][:10]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_outbox_renders_empty(logged_in, lang):
    logged_in.set_cookie("lang", lang)
    page = text(logged_in.get("/outbox"))
    assert ("Antrean kosong." if lang == "id" else "The queue is empty.") in page


def test_biodata_is_escaped(logged_in):
    eid = create(logged_in, name="<script>alert(1)</script>")
    for step in ("biodata", "review"):
        page = text(logged_in.get(f"/enroll/{eid}/{step}"))
        assert "<SCRIPT>ALERT(1)</SCRIPT>" not in page
        assert "&lt;SCRIPT&gt;" in page
    assert "<SCRIPT>" not in text(logged_in.get("/"))


def test_status_bar_words_never_colour_alone(kiosk, logged_in):
    kiosk.devices.power.set(mains=False, battery_percent=20)
    page = text(logged_in.get("/"))
    bar = page.split('id="statusbar"', 1)[1].split("</header>", 1)[0]
    assert "baterai lemah 20%" in bar
    chips = dict(re.findall(r'data-status="(\w+)">.*?class="chip-word">([^<]+)<', bar, re.S))
    assert chips["power"] == "baterai lemah 20%"
    assert chips["camera"] == chips["fingerprint"] == chips["smartcard"] == "sim"
    assert chips["queue"] == "0"
    assert chips["network"] in ("terhubung", "terputus", "belum tahu")


# --- words and manners ---------------------------------------------------------------------
def test_every_word_used_is_in_the_dictionary():
    used = set()
    for path in (UI / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_]+)['"]""", path.read_text(encoding="utf-8")))
    for path in (UI / "static").glob("*.js"):
        used |= set(re.findall(r"""\bt\(\s*"([a-z0-9_]+)["]""", path.read_text(encoding="utf-8")))
    used |= {f"step_{s}" for s in STEPS + ("done", "nik")}
    used |= {f"fs_{s}" for s in ("missing", "captured", "rejected", "exception")}
    used |= {f"ex_{r}" for r in ("amputated", "injured", "bandaged", "unreadable")}
    used |= {f"state_{s}" for s in ("ok", "warning", "fault", "absent", "sim")}
    used |= {f"ob_{s}" for s in ("queued", "sending", "sent", "failed")}
    missing = sorted(k for k in used if k not in WORDS and not k.endswith("_"))
    assert not missing, missing
    assert all(len(pair) == 2 and all(pair) for pair in WORDS.values())


def test_ui_md_words_are_used():
    from kiosk.enrollment import FINGER_NAMES
    words = {v[0].lower() for v in WORDS.values()} | {v[0] for v in FINGER_NAMES.values()}
    for phrase in ("rekam data penduduk", "masukkan nik", "periksa biodata", "ambil ulang", "sidik jari",
                   "ibu jari kanan", "angkat jari anda", "kualitas kurang baik, ulangi", "periksa kembali",
                   "selesai: perekaman tersimpan", "antrean kirim", "terkirim ke pusat",
                   "tidak terhubung ke pusat", "memakai baterai", "baterai lemah", "kemungkinan data ganda"):
        assert any(phrase in w for w in words), phrase


def test_no_fixed_widths_that_could_overflow_800px():
    css = (UI / "static" / "style.css").read_text(encoding="utf-8")
    css = re.sub(r"@media[^{]*", "", css)  # breakpoints are not widths
    for prop, value in re.findall(r"(?<![-\w])((?:min-)?width)\s*:\s*(\d+)px", css):
        assert int(value) <= 400, f"{prop}: {value}px"
    for path in (UI / "templates").glob("*.html"):
        for value in re.findall(r'style="[^"]*width:\s*(\d+)px', path.read_text(encoding="utf-8")):
            assert int(value) <= 400, (path.name, value)


def test_static_files_are_served_locally(client):
    for name in ("style.css", "api.js", "keypad.js", "signature.js", "fingers.js", "photo.js", "status.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        r.close()
    for path in list((UI / "templates").glob("*.html")) + list((UI / "static").glob("*")):
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", path.read_text(encoding="utf-8")), path.name


def test_language_of_pages_and_api(app, kiosk):
    from ui.i18n import lang
    with app.test_request_context("/", headers={"Accept-Language": "en-US,en;q=0.9"}):
        assert lang() == kiosk.config.language == "id"  # the browser's locale does not choose for pages
    with app.test_request_context("/api/v1/status", headers={"Accept-Language": "en-US,en;q=0.9"}):
        assert lang() == "en"  # scripts may ask
    with app.test_request_context("/?lang=en", headers={"Cookie": "lang=id"}):
        assert lang() == "en"
    with app.test_request_context("/api/v1/status", headers={"Cookie": "lang=id", "Accept-Language": "en"}):
        assert lang() == "id"  # the page's choice travels with its API calls
    with app.test_request_context("/?lang=fr", headers={"Cookie": "lang=de"}):
        assert lang() == "id"


# --- exceptions, verification and the duplicate review (issue #3 "Flow") ---------------------
def test_pending_exception_is_listed_until_approved(logged_in):
    eid = create(logged_in)
    r = logged_in.post(f"/api/v1/enrollments/{eid}/fingers/4/exception", json={"reason": "bandaged"})
    assert r.status_code == 200
    page = text(logged_in.get(f"/enroll/{eid}/fingers"))
    assert 'id="approval-panel"' in page and 'id="approval-dialog"' in page and 'id="approval-keypad"' in page
    assert '"exception_pending": true' in page
    review = text(logged_in.get(f"/enroll/{eid}/review"))
    missing = review.split('id="missing-list"', 1)[1].split("</ul>", 1)[0]
    assert "persetujuan supervisor untuk pengecualian: jari manis kanan" in missing
    assert f"/enroll/{eid}/fingers" in missing
    logged_in.post(f"/api/v1/enrollments/{eid}/fingers/4/exception/approve", json={})
    review = text(logged_in.get(f"/enroll/{eid}/review"))
    missing = review.split('id="missing-list"', 1)[1].split("</ul>", 1)[0]
    assert "persetujuan supervisor" not in missing and "jari manis kanan" not in missing
    assert "diperban" in review.split('class="finger-chips"', 1)[1].split("</ul>", 1)[0]


def test_done_page_shows_possible_duplicate_and_supervisor_review_page(kiosk, logged_in):
    first = create(logged_in)
    complete(logged_in, first)
    assert logged_in.post(f"/api/v1/enrollments/{first}/commit", json={}).status_code == 200
    other = dict(BIODATA, name="Budi", sex="L", birth_date="1985-03-12")
    r = logged_in.post("/api/v1/enrollments", json={"nik": "6403061203850001", **{k: v for k, v in other.items()}})
    second = r.get_json()["id"]
    complete(logged_in, second)  # the same simulated person under another NIK
    body = logged_in.post(f"/api/v1/enrollments/{second}/commit", json={}).get_json()
    assert [s["nik"] for s in body["duplicate_suspects"]] == [NIK]
    done = text(logged_in.get(f"/enroll/{second}/done"))
    assert "Kemungkinan data ganda" in done and "Supervisor akan memeriksa" in done
    assert body["registration_id"] in done
    home = text(logged_in.get("/"))
    assert 'id="review-link"' in home and "Pemeriksaan data ganda (1)" in home
    page = text(logged_in.get("/review"))
    assert body["duplicate_suspects"][0]["registration_id"] in page and 'data-decision="same_person"' in page
    assert f'data-eid="{second}"' in page

    # An operator sees neither the link nor the page.
    kiosk.operators.add("budi", "operator", "246810")
    logged_in.post("/api/v1/auth/login", json={"operator": "budi", "pin": "246810"})
    assert 'id="review-link"' not in text(logged_in.get("/"))
    r = logged_in.get("/review")
    assert r.status_code != 200 and 'data-decision' not in text(r)
    done = text(logged_in.get(f"/enroll/{second}/done"))
    assert "Kemungkinan data ganda" in done and NIK not in done  # masked for an operator
