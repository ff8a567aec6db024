"""Who is calling: a Bearer token (scripts) or the ``kiosk_token`` cookie (the touch UI)."""

from __future__ import annotations

from flask import current_app, g, request

from kiosk.operators import Operator

COOKIE = "kiosk_token"


def kiosk():
    return current_app.extensions["kiosk"]


def token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE)


def operator(*, touch: bool = True) -> Operator:
    """The logged-in operator, or AuthError (401); ``touch=False`` for polls that must not keep it alive."""
    if "operator" not in g:
        g.operator = kiosk().operators.session(token(), touch=touch)
    return g.operator


def optional_operator() -> Operator | None:
    try:
        return operator(touch=False)
    except Exception:  # noqa: BLE001 - any auth failure simply means "nobody"
        return None
