"""Typed errors of the domain.

Each error carries a bilingual :class:`~kiosk.messages.Message`; the web layer maps the
error class to an HTTP status, so the domain never needs to know about HTTP.
Errors inherit the standard category too (``ValueError``, ``LookupError`` ...) so callers
that know nothing of the kiosk can still catch them sensibly.
"""

from __future__ import annotations

from kiosk.messages import Message


class KioskError(Exception):
    """Base of every error the kiosk reports to a person."""

    def __init__(self, code: str, text_id: str, text_en: str, /, **details):
        self.message = Message(code, text_id, text_en)
        self.details = details
        super().__init__(text_en)

    @property
    def code(self) -> str:
        return self.message.code

    def as_dict(self, lang: str = "id") -> dict:
        return {"error": self.code, "message": self.message.text(lang),
                "message_id": self.message.id, "message_en": self.message.en, **self.details}


class InvalidInput(KioskError, ValueError):
    """The request itself is wrong: nothing was changed."""


class NotFound(KioskError, LookupError):
    """The thing asked for does not exist (or is not visible to this user)."""


class Conflict(KioskError):
    """The request is well formed but the record is not in a state that allows it."""


class AuthError(KioskError, PermissionError):
    """Not logged in, wrong PIN, locked out, or not allowed for this role."""


class Forbidden(AuthError):
    """Logged in, but the role may not do this."""


class DeviceUnavailable(KioskError, RuntimeError):
    """A device needed for this step is missing or failed; the rest of the kiosk goes on."""


class StorageError(KioskError, OSError):
    """The database could not be written (full disk, read-only medium): nothing was half-written."""
