"""The touch UI in a real browser against the real kiosk server (DESIGN §3 "browser tests").

Starts ``python -m kiosk.cli run --simulate`` on a free port with its own data directory and drives
Debian's Chromium with Playwright (never a downloaded browser). One resident is recorded end to
end at the 7" screen's 800×480; every screen is checked for horizontal scrolling and saved as a
screenshot under ``$KIOSK_ARTIFACTS/screenshots`` (default ``<repo>/test-artifacts/screenshots``).
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kiosk.nik import parse_nik

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
NIK = "6403064107900003"  # Kabupaten Berau, Gunung Tabur; a woman born 1 July 1990
SMALL = {"width": 800, "height": 480}
LARGE = {"width": 1280, "height": 800}
BIODATA = {
    "name": "Siti Aminah", "birth_place": "Tanjung Redeb", "blood_type": "O", "address": "Jl. Pemuda No. 12",
    "rt": "3", "rw": "1", "religion": "Islam", "marital_status": "Kawin", "occupation": "Petani",
}


def artifacts() -> Path:
    base = Path(os.environ.get("KIOSK_ARTIFACTS") or REPO / "test-artifacts")
    out = base / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    data = tmp_path_factory.mktemp("kiosk-data")
    config = data / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{data.as_posix()}"\n', encoding="utf-8")
    port = free_port()
    env = dict(os.environ, KIOSK_CONFIG=str(config), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    log = open(data / "server.log", "w+b")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--simulate", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"kiosk server exited with {proc.returncode}:\n{log.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("kiosk server did not answer /healthz within 60 s")
        time.sleep(0.2)
    yield {"url": url, "data": data, "log": data / "server.log"}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


class Screen:
    """One browser page; checks every screen for horizontal scroll and JS errors, saves screenshots."""

    def __init__(self, browser, base: str, viewport: dict, prefix: str = ""):
        self.context = browser.new_context(viewport=viewport, base_url=base, locale="id-ID")
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.prefix = prefix
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def check(self, step: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        page.screenshot(path=str(artifacts() / f"{self.prefix}{step}.png"))
        assert scroll <= inner, f"{step}: horizontal scroll ({scroll} > {inner})"
        assert not self.errors, f"{step}: JavaScript errors: {self.errors}"

    def keypad(self, digits: str, keypad: str = "#keypad") -> None:
        for d in digits:
            self.page.click(f'{keypad} [data-key="{d}"]')

    def login(self, operator: str = "demo", pin: str = "123456") -> None:
        page = self.page
        page.goto("/login")
        page.fill("#operator", operator)
        page.click("#pin")
        self.keypad(pin)
        page.click("#login-submit")

    def close(self) -> None:
        self.context.close()


def count_enrollments(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'kiosk.db'}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM enrollments").fetchone()[0]


def test_nik_is_the_one_the_test_expects():
    info = parse_nik(NIK)
    assert info.valid and info.regency == "Kabupaten Berau" and info.sex == "F"
    assert info.birth_date.isoformat() == "1990-07-01" and info.district == "Gunung Tabur"


def test_record_a_resident_end_to_end_at_800x480(server, browser):
    s = Screen(browser, server["url"], SMALL)
    page = s.page
    try:
        # Log in: the simulated kiosk says how.
        page.goto("/")
        assert "/login" in page.url
        assert "Mode simulasi: masuk sebagai demo / PIN 123456" in page.inner_text("#demo-note")
        assert page.is_visible(".sim-banner")
        s.check("01-login")
        page.fill("#operator", "demo")
        page.click("#pin")
        s.keypad("123456")
        page.click("#login-submit")
        page.wait_for_url(re.compile(r"/$"))

        # Home: choose today's village, see the tally, the status bar and the primary button.
        page.fill("#village-input", "Gunung Tabur")
        page.click("#village-free button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        assert page.inner_text("#village-now").strip() == "Gunung Tabur"
        assert page.inner_text("#tally").strip() == "0"
        assert page.is_visible("#statusbar") and "demo" in page.inner_text("#statusbar")
        s.check("02-home")

        # NIK on the keypad, decoded live.
        page.click("#enroll-start")
        page.wait_for_url(re.compile(r"/enroll$"))
        s.keypad(NIK[:6])
        page.wait_for_function("document.querySelector('[data-nik=regency]').textContent.includes('Berau')")
        s.keypad(NIK[6:])
        page.wait_for_function("document.querySelector('[data-nik=sex]').textContent.trim() === 'Perempuan'")
        assert "1 Juli 1990" in page.inner_text("[data-nik=birth_date]")
        assert "Gunung Tabur" in page.inner_text("[data-nik=district]")
        assert "".join(page.locator(".nik-cell").all_inner_texts()) == NIK
        s.check("03-nik")

        # The register is empty: the kiosk asks for the biodata from the documents.
        page.click("#nik-next")
        page.wait_for_selector("#biodata-form:not([hidden])")
        assert page.input_value("#f-birth_date") == "1990-07-01"
        assert page.input_value("#f-sex") == "F"
        assert page.input_value("#f-village") == "Gunung Tabur"
        for name, value in BIODATA.items():
            if page.eval_on_selector(f"#f-{name}", "e => e.tagName") == "SELECT":
                page.select_option(f"#f-{name}", value)
            else:
                page.fill(f"#f-{name}", value)
        s.check("04-biodata-entry")
        page.click("#nik-next")
        page.wait_for_url(re.compile(r"/enroll/[0-9a-f-]+/biodata$"))
        eid = page.url.rsplit("/", 2)[-2]

        # Check the biodata, then confirm it.
        assert page.input_value("#f-name") == "SITI AMINAH"
        assert page.get_attribute("#f-name", "readonly") is not None
        assert "current" in page.get_attribute(".steps li:nth-child(1)", "class")
        s.check("05-biodata-check")
        page.click("#correct-toggle")
        assert page.get_attribute("#f-name", "readonly") is None
        assert page.is_visible("#c-reason")
        page.click("#correct-toggle")
        page.click("#biodata-ok")
        page.wait_for_url(re.compile(r"/photo$"))

        # Photo: live preview, capture, the stored portrait.
        page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
        assert "done" in page.get_attribute(".steps li:nth-child(1)", "class")
        s.check("06-photo")
        page.click("#photo-take")
        page.wait_for_selector("#photo-next:not([hidden]), #photo-messages .msg-error", timeout=30_000)
        assert page.is_visible("#photo-next"), page.inner_text("#photo-messages")
        page.wait_for_function("document.getElementById('stored').naturalWidth > 0")
        assert page.is_visible("#photo-take-secondary")
        s.check("07-photo-accepted")
        page.click("#photo-next")
        page.wait_for_url(re.compile(r"/signature$"))

        # Signature with the mouse on the canvas.
        box = page.locator("#signature-pad").bounding_box()
        x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
        page.mouse.move(x0 + 0.15 * w, y0 + 0.6 * h)
        page.mouse.down()
        for i in range(1, 41):
            x = x0 + (0.15 + 0.7 * i / 40) * w
            y = y0 + (0.6 - 0.25 * ((i % 10) / 10) + 0.1 * (i % 3)) * h
            page.mouse.move(x, y, steps=2)
        page.mouse.up()
        page.mouse.move(x0 + 0.3 * w, y0 + 0.3 * h)
        page.mouse.down()
        page.mouse.move(x0 + 0.45 * w, y0 + 0.75 * h, steps=10)
        page.mouse.move(x0 + 0.6 * w, y0 + 0.35 * h, steps=10)
        page.mouse.up()
        s.check("08-signature")
        page.click("#signature-save")
        page.wait_for_url(re.compile(r"/fingers$"), timeout=30_000)

        # Ten fingers: the prompt names the finger, each capture advances to the next one.
        assert "Letakkan ibu jari kanan pada pemindai" in page.inner_text("#finger-prompt")
        assert page.get_attribute('.finger[data-pos="1"]', "class").split().count("current") == 1
        s.check("09-fingers")

        # Training controls: a smudged finger is refused with the reason and offered again ...
        page.click("#sim-finger summary")
        page.click("#sim-low")
        page.wait_for_selector("#sim-state:has-text('buram')")
        page.click("#finger-scan")
        page.wait_for_selector("#finger-messages .msg-error", timeout=30_000)
        assert "Kualitas kurang baik, ulangi" in page.inner_text("#finger-messages")
        assert page.text_content('.finger[data-pos="1"] .f-sym') == "✗"
        assert "Ulangi" in page.inner_text("#finger-scan")
        s.check("09a-finger-rejected")
        # ... and no finger at all ends in plain words, not a frozen screen.
        page.click("#sim-none")
        page.wait_for_selector("#sim-state:has-text('Tanpa jari')")
        page.click("#finger-scan")
        assert page.is_visible("#finger-progress") and page.is_disabled("#finger-scan")
        s.check("09b-finger-scanning")
        page.wait_for_selector("#finger-messages .msg-warn", timeout=30_000)
        assert "Tidak ada jari pada pemindai" in page.inner_text("#finger-messages")
        page.fill("#sim-subject", "1")
        page.click("#sim-apply")
        page.wait_for_selector("#sim-state:has-text('Orang simulasi: 1')")
        page.click("#sim-finger summary")

        for attempt in range(30):
            if page.is_visible("#fingers-next"):
                break
            before = page.inner_text("#finger-prompt")
            page.click("#finger-scan")
            page.wait_for_selector("#finger-scan[aria-busy]", state="detached", timeout=30_000)
            if attempt == 0:
                assert "Letakkan jari telunjuk kanan pada pemindai" in page.inner_text("#finger-prompt"), before
                assert page.text_content('.finger[data-pos="1"] .f-sym') == "✓"
                s.check("10-fingers-two-done")
        assert page.is_visible("#fingers-next"), page.inner_text("#finger-messages")
        assert page.locator(".finger.fs-captured").count() == 10
        s.check("11-fingers-done")
        page.click("#fingers-next")
        page.wait_for_url(re.compile(r"/verify$"))

        # Verification: the right index finger again, then the left; someone else's finger does not match.
        assert "Letakkan lagi jari telunjuk kanan pada pemindai" in page.inner_text("#verify-prompt")
        assert "current" in page.get_attribute('.finger[data-pos="2"]', "class").split()
        s.check("11a-verify")
        page.click("#sim-finger summary")
        page.fill("#sim-subject", "2")
        page.click("#sim-apply")
        page.wait_for_selector("#sim-state:has-text('Orang simulasi: 2')")
        page.click("#verify-scan")
        page.wait_for_selector("#verify-messages .msg-error", timeout=30_000)
        assert "Tidak cocok: jari telunjuk kanan" in page.inner_text("#verify-messages")
        assert page.text_content('#verify-list li[data-pos="2"] .vsym') == "✗"
        assert "Ulangi" in page.inner_text("#verify-scan")
        s.check("11b-verify-not-matched")
        page.fill("#sim-subject", "1")
        page.click("#sim-apply")
        page.wait_for_selector("#sim-state:has-text('Orang simulasi: 1')")
        page.click("#sim-finger summary")
        page.click("#verify-scan")
        page.wait_for_selector("#verify-messages .msg-ok", timeout=30_000)
        assert "Letakkan lagi jari telunjuk kiri pada pemindai" in page.inner_text("#verify-prompt")
        assert page.text_content('#verify-list li[data-pos="2"] .vsym') == "✓"
        page.click("#verify-scan")
        page.wait_for_selector("#verify-next:not([hidden])", timeout=30_000)
        assert "Kedua jari telunjuk cocok" in page.inner_text("#verify-prompt")
        assert page.text_content('#verify-list li[data-pos="7"] .vsym') == "✓"
        s.check("11c-verify-done")
        page.click("#verify-next")
        page.wait_for_url(re.compile(r"/review$"))

        # Review and save.
        assert "SITI AMINAH" in page.inner_text(".review-bio")
        assert page.locator(".fchip.fs-captured").count() == 10
        page.wait_for_function("document.querySelector('.review-photo').naturalWidth > 0")
        s.check("12-review")
        page.click("#review-save")
        page.wait_for_url(re.compile(r"/done$"), timeout=30_000)
        reg = page.inner_text("#registration-id").strip()
        assert re.fullmatch(r"[A-Za-z0-9-]+-\d{8}-\d{4}", reg), reg
        assert "Selesai: perekaman tersimpan" in page.inner_text(".done-title")
        page.wait_for_function("document.getElementById('receipt-qr').naturalWidth > 0")
        s.check("13-done")

        # The send queue holds the one record, shown without personal data.
        page.goto("/outbox")
        assert page.inner_text('[data-count="queued"]').strip() == "1"
        table = page.inner_text("#outbox-table")
        assert reg in table and NIK not in table and "SITI" not in table
        s.check("14-outbox")

        # Home: the tally counts it; the draft is gone.
        page.goto("/")
        assert page.inner_text("#tally").strip() == "1"
        assert page.locator(".btn-draft").count() == 0
        assert eid not in page.content()
        s.check("15-home-after")
    finally:
        s.close()


def test_login_and_home_at_1280x800(server, browser):
    s = Screen(browser, server["url"], LARGE, prefix="large-")
    try:
        s.page.goto("/login")
        s.check("01-login")
        s.login()
        s.page.wait_for_url(re.compile(r"/$"))
        s.check("02-home")
        s.page.goto("/enroll")
        s.check("03-nik")
    finally:
        s.close()


def test_wrong_pin_and_invalid_nik(server, browser):
    s = Screen(browser, server["url"], SMALL, prefix="neg-")
    page = s.page
    try:
        s.login(pin="999999")
        page.wait_for_selector("#login-error .msg-error")
        assert "ID petugas atau PIN salah." in page.inner_text("#login-error")
        assert "/login" in page.url
        page.click("#login-error .btn-small")  # the technical detail is one tap away
        assert page.is_visible("#login-error .detail")
        s.check("01-wrong-pin")

        # Repeated wrong PINs lock the account; the screen says for how many minutes.
        env = dict(os.environ, KIOSK_CONFIG=str(server["data"] / "kiosk.toml"), PYTHONPATH=str(REPO))
        subprocess.run([sys.executable, "-m", "kiosk.cli", "operator", "add", "trainee", "--role", "operator",
                        "--pin", "111111"], cwd=REPO, env=env, check=True, capture_output=True, timeout=60)
        for _ in range(5):
            s.login("trainee", "222222")
            page.wait_for_selector("#login-error .msg-error")
        assert "5 menit" in page.inner_text("#login-error")
        s.check("01b-locked-out")
        s.login("trainee", "111111")  # even the right PIN waits for the lock to end
        page.wait_for_selector("#login-error .msg-error")
        assert "Akun dikunci" in page.inner_text("#login-error") and "/login" in page.url

        before = count_enrollments(server["data"])
        s.login()
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/enroll")
        s.keypad("640306410790000")  # 15 digits
        page.click("#nik-next")
        page.wait_for_selector("#nik-messages .msg-error")
        assert "16 angka" in page.inner_text("#nik-messages")
        assert "/enroll" in page.url and page.is_hidden("#biodata-form")
        s.check("02-invalid-nik")
        assert count_enrollments(server["data"]) == before

        # The same screen in English.
        page.goto("/lang/en?next=/enroll")
        assert "Enter the NIK" in page.inner_text("h1")
        s.keypad("6403069907900003")  # day 99: not a date for anyone
        page.wait_for_selector("#nik-messages .msg-error")
        s.check("03-invalid-nik-en")
        page.click("#nik-next")
        page.wait_for_selector("#nik-messages .msg-error .btn-small")
        assert count_enrollments(server["data"]) == before
    finally:
        s.close()


def signature_png() -> bytes:
    import io

    from PIL import Image, ImageDraw
    img = Image.new("L", (600, 200), 255)
    ImageDraw.Draw(img).line([(60, 140), (120, 60), (180, 150), (260, 70), (340, 140), (420, 80), (520, 130)],
                             fill=0, width=4)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_draft_exists_and_already_recorded_with_supervisor_override(server, browser):
    """A second recording of a NIK: an open draft is offered for resuming; a NIK already saved here
    is flagged on the NIK and biodata screens, and saving it needs a supervisor's approval."""
    nik = "6403064107900004"
    bio = {"nik": nik, "session_village": "Gunung Tabur", "name": "Rina", "birth_place": "Berau",
           "birth_date": "1990-07-01", "sex": "P", "blood_type": "A", "address": "Jl. Merdeka 3", "rt": "1",
           "rw": "1", "village": "Gunung Tabur", "district": "Gunung Tabur", "religion": "Islam",
           "marital_status": "Belum Kawin", "occupation": "Pelajar", "citizenship": "WNI"}
    s = Screen(browser, server["url"], SMALL, prefix="dup-")
    page, api = s.page, s.page.request
    try:
        s.login()
        page.wait_for_url(re.compile(r"/$"))
        # A first recording, saved through the API (the same rules as the screens).
        first = api.post("/api/v1/enrollments", data=bio)
        assert first.status == 201, first.text()
        eid = first.json()["id"]
        assert api.post(f"/api/v1/enrollments/{eid}/biodata", data={}).ok
        assert api.post(f"/api/v1/enrollments/{eid}/photo", data={}).json()["accepted"]
        r = api.post(f"/api/v1/enrollments/{eid}/signature", data=signature_png(),
                     headers={"Content-Type": "image/png"})
        assert r.json()["accepted"], r.text()
        for pos in range(1, 11):
            assert api.post(f"/api/v1/enrollments/{eid}/fingers/{pos}", data={}).json()["accepted"]
        for pos in (2, 7):
            assert api.post(f"/api/v1/enrollments/{eid}/verify/{pos}", data={}).json()["matched"]
        assert api.post(f"/api/v1/enrollments/{eid}/commit", data={}).ok

        # Typing it again: the kiosk says it was recorded here already.
        page.goto("/enroll")
        s.keypad(nik)
        page.click("#nik-next")
        page.wait_for_selector("#biodata-form:not([hidden])")  # the register is empty
        for name in ("name", "birth_place", "address", "rt", "rw", "occupation", "village"):
            page.fill(f"#f-{name}", bio[name])
        for name in ("blood_type", "religion", "marital_status"):
            page.select_option(f"#f-{name}", bio[name])
        page.wait_for_function("document.getElementById('f-district').value === 'Gunung Tabur'")
        page.click("#nik-next")
        page.wait_for_selector("#biodata-messages .msg-warn")
        assert "NIK ini sudah direkam di kios ini" in page.inner_text("#biodata-messages")
        s.check("01-already-recorded")
        page.click("#nik-next")
        page.wait_for_url(re.compile(r"/biodata$"))
        second = page.url.rsplit("/", 2)[-2]
        assert "NIK ini sudah direkam di kios ini" in page.inner_text("main")

        # Typing it a third time: the open draft is offered instead of a new one.
        page.goto("/enroll")
        s.keypad(nik)
        page.click("#nik-next")
        page.wait_for_selector("#draft-panel:not([hidden])")
        s.check("02-draft-exists")
        page.click("#draft-resume")
        page.wait_for_url(re.compile(rf"/enroll/{second}/biodata$"))

        # A correction needs a reason; a birth place also needs a document.
        page.click("#correct-toggle")
        page.fill("#f-occupation", "Guru")
        page.fill("#f-birth_place", "Tanjung Redeb")
        page.click("#biodata-ok")
        page.wait_for_selector("#biodata-messages .msg-error")
        assert "alasan" in page.inner_text("#biodata-messages")
        page.fill("#c-reason", "Salah ketik saat impor")
        page.click("#biodata-ok")
        page.wait_for_selector("#biodata-messages .msg-error >> text=dokumen")
        assert page.get_attribute('[data-field="birth_place"]', "class").split().count("invalid") == 1
        s.check("03a-correction-needs-document")
        page.fill("#c-document", "Akta kelahiran 1234/1990")
        page.click("#biodata-ok")
        page.wait_for_url(re.compile(r"/photo$"))

        # Complete the second recording through the API, then save on the review screen.
        assert api.post(f"/api/v1/enrollments/{second}/photo", data={}).json()["accepted"]
        assert api.post(f"/api/v1/enrollments/{second}/signature", data=signature_png(),
                        headers={"Content-Type": "image/png"}).json()["accepted"]
        for pos in range(1, 10):
            assert api.post(f"/api/v1/enrollments/{second}/fingers/{pos}", data={}).json()["accepted"]

        # One finger short: the review lists it straight away, with a link to the step.
        page.goto(f"/enroll/{second}/review")
        assert page.is_visible("#missing-list")
        assert "Guru" in page.inner_text(".review-bio") and "Akta kelahiran" in page.inner_text(".review-fingers")
        assert "jari kelingking kiri" in page.inner_text("#missing-list")
        s.check("03-incomplete")
        page.click("#missing-list a")
        page.wait_for_url(re.compile(r"/fingers$"))
        assert "Letakkan jari kelingking kiri pada pemindai" in page.inner_text("#finger-prompt")
        # An exception instead of a capture, with its reason; it waits for a supervisor's approval.
        page.click("#exception-toggle")
        page.click('[data-exception="bandaged"]')
        page.wait_for_selector("#fingers-next:not([hidden])")
        assert page.text_content('.finger[data-pos="10"] .f-sym') == "⊘"
        page.wait_for_selector("#approval-panel:not([hidden])")
        assert "jari kelingking kiri" in page.inner_text("#approval-list")
        s.check("04-exception")
        page.click("#approval-open")
        page.wait_for_selector("#approval-dialog[open]")
        assert page.input_value("#ap-supervisor") == "demo"  # the logged-in supervisor, PIN still asked
        s.keypad("000000", "#approval-keypad")
        page.click("#approval-submit")
        page.wait_for_selector("#approval-messages .msg-error")
        assert "ID petugas atau PIN salah." in page.inner_text("#approval-messages")
        s.check("04a-approval-wrong-pin")
        s.keypad("123456", "#approval-keypad")
        page.click("#approval-submit")
        page.wait_for_selector("#approval-panel", state="hidden")
        assert "Pengecualian disetujui oleh demo" in page.inner_text("#finger-messages")
        assert "/fingers" in page.url  # a wrong supervisor PIN does not log the operator out
        for pos in (2, 7):
            assert api.post(f"/api/v1/enrollments/{second}/verify/{pos}", data={}).json()["matched"]
        page.click("#fingers-next")
        page.wait_for_url(re.compile(r"/verify$"))
        assert "Kedua jari telunjuk cocok" in page.inner_text("#verify-prompt")
        page.click("#verify-next")
        page.wait_for_url(re.compile(r"/review$"))

        page.click("#review-save")
        page.wait_for_selector("#override-form:not([hidden])")
        s.check("05-override")
        page.fill("#ov-supervisor", "demo")
        page.fill("#ov-pin", "000000")
        page.fill("#ov-reason", "Kartu lama rusak, rekam ulang")
        page.click("#override-submit")
        page.wait_for_selector("#review-messages .msg-error")
        assert "ID petugas atau PIN salah." in page.inner_text("#review-messages")
        assert "/review" in page.url  # a wrong supervisor PIN does not log the operator out
        page.fill("#ov-pin", "123456")
        page.click("#override-submit")
        page.wait_for_url(re.compile(r"/done$"))
        assert re.fullmatch(r"[A-Za-z0-9-]+-\d{8}-\d{4}", page.inner_text("#registration-id").strip())
        s.check("06-done-after-override")
    finally:
        s.close()


def record_via_api(api, bio: dict, subject: int) -> str:
    """One resident through the API up to the review step, as synthetic person ``subject``."""
    assert api.post("/api/v1/sim/finger", data={"subject": subject, "present": True}).ok
    assert api.post("/api/v1/sim/face", data={"subject": subject}).ok
    r = api.post("/api/v1/enrollments", data=bio)
    assert r.status == 201, r.text()
    eid = r.json()["id"]
    assert api.post(f"/api/v1/enrollments/{eid}/biodata", data={}).ok
    assert api.post(f"/api/v1/enrollments/{eid}/photo", data={}).json()["accepted"]
    assert api.post(f"/api/v1/enrollments/{eid}/signature", data=signature_png(),
                    headers={"Content-Type": "image/png"}).json()["accepted"]
    for pos in range(1, 11):
        assert api.post(f"/api/v1/enrollments/{eid}/fingers/{pos}", data={}).json()["accepted"]
    for pos in (2, 7):
        assert api.post(f"/api/v1/enrollments/{eid}/verify/{pos}", data={}).json()["matched"]
    return eid


def test_possible_duplicate_is_shown_and_a_supervisor_decides(server, browser):
    """The same (simulated) person under a second NIK: saved, shown as "kemungkinan data ganda" on the
    done screen, and decided by the supervisor on the review page linked from home."""
    common = {"session_village": "Gunung Tabur", "birth_place": "Berau", "blood_type": "B", "address": "Jl. Damai 7",
              "rt": "2", "rw": "4", "village": "Gunung Tabur", "district": "Gunung Tabur", "religion": "Islam",
              "marital_status": "Kawin", "occupation": "Nelayan", "citizenship": "WNI"}
    a = dict(common, nik="6403061203850007", name="Ahmad", sex="L", birth_date="1985-03-12")
    b = dict(common, nik="6403061203850008", name="Ahmad Y", sex="L", birth_date="1985-03-12")
    s = Screen(browser, server["url"], SMALL, prefix="ganda-")
    page, api = s.page, s.page.request
    try:
        s.login()
        page.wait_for_url(re.compile(r"/$"))
        first = api.post(f"/api/v1/enrollments/{record_via_api(api, a, 731)}/commit", data={})
        assert first.ok, first.text()
        first_reg = first.json()["registration_id"]
        second = record_via_api(api, b, 731)

        page.goto(f"/enroll/{second}/review")
        page.click("#review-save")
        page.wait_for_url(re.compile(r"/done$"), timeout=30_000)
        warning = page.inner_text("#duplicate-warning")
        assert "Kemungkinan data ganda" in warning and first_reg in warning
        assert "Supervisor akan memeriksa" in warning
        assert "Selesai: perekaman tersimpan" in page.inner_text(".done-title")  # saved all the same
        s.check("01-done-possible-duplicate")

        page.goto("/")
        assert "Pemeriksaan data ganda" in page.inner_text("#review-link")
        page.click("#review-link")
        page.wait_for_url(re.compile(r"/review$"))
        item = page.locator(f'.review-item[data-eid="{second}"]')
        assert first_reg in item.inner_text() and a["nik"] in item.inner_text()
        s.check("02-review-queue")
        item.locator('[data-decision="different_person"]').click()
        item.locator(".item-messages .msg-error").wait_for()
        assert "alasan" in item.locator(".item-messages").inner_text()
        item.locator(".review-reason").fill("Kembar identik, KK berbeda")
        item.locator('[data-decision="different_person"]').click()
        item.locator(".item-messages .msg-ok").wait_for()
        assert "Keputusan tersimpan: Orang berbeda" in item.locator(".item-messages").inner_text()
        s.check("03-review-decided")
        page.reload()
        assert page.locator(f'.review-item[data-eid="{second}"]').count() == 0
    finally:
        s.close()
