"""The operator's touch pages: server-rendered Jinja; the pages' JavaScript calls the JSON API.

Pages only read through the :class:`kiosk.app.Kiosk` facade; every change goes through
``/api/v1`` (so the touch UI and scripts share one set of rules). A page that needs a
logged-in operator redirects to ``/login`` when there is none (or the session went idle).
"""

from __future__ import annotations

import functools
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from kiosk import outbox, schedule
from kiosk.enrollment import EXCEPTION_REASONS, FINGER_NAMES, FINGERS, STEPS, VERIFY_POSITIONS
from kiosk.errors import AuthError, KioskError, NotFound
from ui.i18n import COOKIE as LANG_COOKIE
from ui.i18n import LANGS, lang, t, words

bp = Blueprint("pages", __name__)

TOKEN_COOKIE = "kiosk_token"
VILLAGE_COOKIE = "village"
YEAR = 365 * 24 * 3600
PAGE_STEPS = STEPS + ("done",)
SEX = (("M", "sex_L_opt"), ("F", "sex_P_opt"))


def kiosk():
    return current_app.extensions["kiosk"]


def _safe_next(target: str | None) -> str:
    """Only a path on this kiosk: never an open redirect to another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_redirect(reason: str = ""):
    args = {"next": request.full_path.rstrip("?")}
    if reason:
        args["reason"] = reason
    return redirect(url_for("pages.login", **args))


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            g.page_operator = kiosk().operators.session(request.cookies.get(TOKEN_COOKIE))
        except AuthError as exc:
            return _login_redirect(exc.code if exc.code == "session_expired" else "")
        return view(*args, **kwargs)
    return wrapper


# --- what every page shows -------------------------------------------------------------------
def _power_summary(k) -> dict:
    try:
        r = k.devices.power.read()
        return {"mains": r.mains, "battery_percent": r.battery_percent}
    except Exception:  # noqa: BLE001 - the bar shows the device fault instead
        return {"mains": None, "battery_percent": None}


def status_items(devices: dict, counts: dict, power: dict | None, language: str) -> list[dict]:
    """The chips of the status bar; ``static/status.js`` computes the same from ``GET /api/v1/status``."""
    items = []
    power = power or {}
    pct = power.get("battery_percent")
    pct_text = "" if pct is None else f" {pct:.0f}%"
    mains = power.get("mains")
    if mains is None:
        pstate = (devices.get("power") or {}).get("state", "absent")
        items.append({"key": "power", "state": pstate, "label": "", "word": t("power_unknown", language)})
    elif mains:
        items.append({"key": "power", "state": "ok", "label": "", "word": t("power_mains_short", language) + pct_text})
    else:
        low = pct is not None and pct < 25
        items.append({"key": "power", "state": "fault" if low else "warning", "label": "",
                      "word": t("power_low" if low else "power_battery_short", language) + pct_text})
    net = devices.get("network") or {}
    if str(net.get("detail_en", "")).startswith("connected"):
        nstate, nword = "ok", "link_up"
    elif net.get("state") == "fault":
        nstate, nword = "fault", "link_down"
    else:
        nstate, nword = "warning", "link_unknown"
    items.append({"key": "network", "state": nstate, "label": t("centre", language), "word": t(nword, language)})
    waiting = sum(int(counts.get(s) or 0) for s in ("queued", "sending", "failed"))
    items.append({"key": "queue", "state": "warning" if counts.get("failed") else "ok",
                  "label": t("queue_short", language), "word": str(waiting)})
    for name in ("camera", "fingerprint", "smartcard"):
        d = devices.get(name) or {}
        state = d.get("state", "absent")
        word = "state_sim" if d.get("simulated") and state == "warning" else f"state_{state}"
        items.append({"key": name, "state": state, "label": t(f"dev_{name}", language), "word": t(word, language)})
    return items


def _status_context() -> dict:
    k = kiosk()
    language = lang()
    try:
        devices = k.device_status(language)
    except Exception:  # noqa: BLE001 - the bar must never take the page down
        devices = {}
    try:
        counts = k.outbox_counts()
    except Exception:  # noqa: BLE001
        counts = {}
    power = _power_summary(k)
    return {"devices": devices, "outbox": counts, "power": power,
            "status_items": status_items(devices, counts, power, language)}


@bp.app_context_processor
def _page_context():
    k = current_app.extensions.get("kiosk")
    if k is None:
        return {}
    op = g.get("page_operator")
    return {
        "simulated": bool(k.simulated),
        "operator": op,
        "kiosk_id": k.config.kiosk_id,
        "idle_seconds": k.config.get("operators", "idle_logout_seconds"),
        "kiosk_js": {"lang": lang(), "t": words(), "simulated": bool(k.simulated),
                     "idle_seconds": k.config.get("operators", "idle_logout_seconds"),
                     "operator": {"id": op.id, "role": op.role} if op else None},
    }


@bp.errorhandler(KioskError)
def _kiosk_error(exc: KioskError):
    if isinstance(exc, AuthError) and not g.get("page_operator"):
        return _login_redirect()
    status = 404 if isinstance(exc, NotFound) else 409 if exc.code == "not_a_draft" else 400
    return render_template("error.html", error=exc.as_dict(lang()), status=status,
                           **_status_context()), status


# --- language --------------------------------------------------------------------------------
@bp.get("/lang/<code>")
def set_lang(code: str):
    target = _safe_next(request.args.get("next") or _referrer_path())
    resp = redirect(target)
    if code in LANGS:
        resp.set_cookie(LANG_COOKIE, code, max_age=YEAR, samesite="Strict", path="/")
    return resp


def _referrer_path() -> str:
    ref = request.referrer
    if not ref:
        return "/"
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.host:
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- login -----------------------------------------------------------------------------------
@bp.get("/login")
def login():
    reason = request.args.get("reason", "")
    notice = t("login_idle") if reason in ("idle", "session_expired") else ""
    return render_template("login.html", next=_safe_next(request.args.get("next")), notice=notice,
                           demo=bool(kiosk().simulated))


@bp.post("/logout")
def logout():
    kiosk().operators.logout(request.cookies.get(TOKEN_COOKIE))
    resp = redirect(url_for("pages.login"))
    resp.delete_cookie(TOKEN_COOKIE, path="/")
    return resp


# --- home ------------------------------------------------------------------------------------
def _villages() -> tuple[list[dict], list[dict]]:
    k = kiosk()
    try:
        today = k.today()["villages"]
    except Exception:  # noqa: BLE001 - no schedule imported is normal
        today = []
    try:
        everything = schedule.villages(k.store)
    except Exception:  # noqa: BLE001
        everything = []
    return today, everything


def current_village() -> str:
    chosen = (request.cookies.get(VILLAGE_COOKIE) or "").strip()
    if chosen:
        return chosen
    today, _ = _villages()
    return today[0]["village"] if today else ""


@bp.get("/")
@login_required
def home():
    k = kiosk()
    info = k.today()
    today, everything = _villages()
    names = sorted({v["village"] for v in everything} | {v["village"] for v in today})
    drafts = k.enrollments.drafts()
    op = g.get("page_operator")
    review_open = k.reviews.open_count() if op and op.can("supervisor") else None
    return render_template("home.html", info=info, today_villages=today, village_names=names,
                           village=current_village(), drafts=drafts, review_open=review_open,
                           page_steps=PAGE_STEPS, **_status_context())


@bp.post("/village")
@login_required
def set_village():
    name = " ".join((request.form.get("village") or "").split())[:120]
    resp = redirect(url_for("pages.home"))
    if name:
        resp.set_cookie(VILLAGE_COOKIE, name, max_age=2 * 24 * 3600, samesite="Strict", path="/")
    else:
        resp.delete_cookie(VILLAGE_COOKIE, path="/")
    return resp


# --- enrollment ------------------------------------------------------------------------------
def _choices():
    from kiosk import biodata
    return {"religions": biodata.RELIGIONS, "marital": biodata.MARITAL, "blood": biodata.BLOOD,
            "citizenship": biodata.CITIZENSHIP, "sex": SEX, "fields": biodata.FIELDS, "locked": biodata.LOCKED}


@bp.get("/enroll")
@login_required
def enroll():
    return render_template("enroll_nik.html", village=current_village(), **_choices(), **_status_context())


@bp.get("/enroll/<eid>")
@login_required
def enroll_resume(eid: str):
    e = kiosk().enrollments.get(eid)
    step = "done" if e["state"] == "committed" else (e["step"] if e["step"] in PAGE_STEPS else "biodata")
    return redirect(url_for("pages.enroll_step", eid=eid, step=step))


def _step_states(e: dict) -> list[dict]:
    missing = set(e["missing"])
    committed = e["state"] == "committed"
    done = {
        "biodata": committed or "biodata" not in missing,
        "photo": committed or "photo" not in missing,
        "signature": committed or "signature" not in missing,
        "fingers": committed or not any(m.startswith(("finger:", "approval:")) for m in missing),
        # Nothing to verify before the fingers are in: don't tick a step that could not have happened.
        "verify": committed or not any(m.startswith(("verify:", "finger:", "approval:")) for m in missing),
        "review": committed,
        "done": committed,
    }
    return [{"name": s, "done": done[s]} for s in PAGE_STEPS]


def _finger_view(e: dict, language: str) -> list[dict]:
    out = []
    for pos in FINGERS:
        f = dict(e["fingers"][str(pos)])
        f["name"] = FINGER_NAMES[pos][1 if language == "en" else 0]
        out.append(f)
    return out


@bp.get("/enroll/<eid>/<step>")
@login_required
def enroll_step(eid: str, step: str):
    if step not in PAGE_STEPS:
        raise NotFound("step_not_found", "Langkah tidak dikenal.", "Unknown step.", step=step)
    k = kiosk()
    e = k.enrollments.get(eid)
    if e["state"] == "committed" and step != "done":
        return redirect(url_for("pages.enroll_step", eid=eid, step="done"))
    if e["state"] != "committed" and step == "done":
        return redirect(url_for("pages.enroll_step", eid=eid, step="review"))
    if e["state"] not in ("draft", "committed"):
        from kiosk.errors import Conflict
        raise Conflict("not_a_draft", "Perekaman ini sudah dibatalkan.", "This enrollment was abandoned.",
                       state=e["state"])
    language = lang()
    born = e["biodata"].get("birth_date") or ""
    background = ""
    if born[:4].isdigit():
        background = "bg_red" if int(born[:4]) % 2 else "bg_blue"
    names = {str(p): FINGER_NAMES[p][1 if language == "en" else 0] for p in FINGERS}
    missing_fingers = [names.get(m[7:], m) for m in e["missing"] if m.startswith("finger:")]
    missing_view = [{"step": m, "label": t(f"missing_{m}")} for m in e["missing"] if ":" not in m]
    if missing_fingers:
        missing_view.append({"step": "fingers", "label": f"{t('step_fingers')}: {', '.join(missing_fingers)}"})
    # "approval:N" / "verify:N": a supervisor's approval of an exception, an index finger to verify.
    for kind, target in (("approval", "fingers"), ("verify", "verify")):
        which = [names.get(m.split(":", 1)[1], m) for m in e["missing"] if m.startswith(kind + ":")]
        if which:
            missing_view.append({"step": target, "label": f"{t('missing_' + kind)}: {', '.join(which)}"})
    op = g.get("page_operator")
    supervisor = bool(op and op.can("supervisor"))
    flag = k.reviews.of(eid, full=supervisor) if step == "done" else None
    index = PAGE_STEPS.index(step)
    context = {
        "e": e, "step": step, "steps": _step_states(e),
        "prev_step": PAGE_STEPS[index - 1] if index > 0 else None,
        "next_step": PAGE_STEPS[index + 1] if index + 1 < len(PAGE_STEPS) else None,
        "fingers": _finger_view(e, language),
        "exception_reasons": list(EXCEPTION_REASONS),
        "background": background,
        "finger_names": names,
        "missing_view": missing_view,
        "cache_bust": int(time.time() * 1000),
        "duplicate_flag": flag,
        "verify_positions": VERIFY_POSITIONS,
    }
    return render_template(f"enroll_{step}.html", **context, **_choices(), **_status_context())


# --- the supervisor's duplicate review ---------------------------------------------------------
@bp.get("/review")
@login_required
def review_page():
    """Records flagged as possible duplicates; supervisors only (the NIKs are shown in full)."""
    k = kiosk()
    op = g.page_operator
    k.operators.require(op, "supervisor")
    return render_template("supervisor_review.html", items=k.reviews.queue(op),
                           recent=k.reviews.queue(op, decided=True, limit=10), **_status_context())


# --- outbox ----------------------------------------------------------------------------------
def age_text(seconds: float | None, language: str | None = None) -> str:
    if seconds is None:
        return t("ob_never", language)
    s = max(0, int(seconds))
    if s < 120:
        return t("age_s", language, n=s)
    if s < 2 * 3600:
        return t("age_m", language, n=s // 60)
    if s < 2 * 86400:
        return t("age_h", language, n=s // 3600)
    return t("age_d", language, n=s // 86400)


@bp.get("/outbox")
@login_required
def outbox_page():
    k = kiosk()
    now = time.time()
    rows = [{"registration_id": r["registration_id"], "state": r["state"], "attempts": r["attempts"],
             "age": age_text(now - r["created_at"]), "last_error": r["last_error"]}
            for r in outbox.entries(k.store)]
    counts = k.outbox_counts()
    last_sent = counts.get("last_sent_at")
    return render_template("outbox.html", counts=counts, rows=rows,
                           oldest=age_text(counts.get("oldest_unsent_age_seconds")),
                           last_sent=age_text(now - last_sent) if last_sent else t("ob_never"),
                           **_status_context())
