"""Bilingual messages: every failure the kiosk reports says it in Bahasa Indonesia and English.

A message carries a stable ``code`` so that scripts and tests match on the code, and
people read the text in their language.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("id", "en")


@dataclass(frozen=True)
class Message:
    code: str
    id: str
    en: str

    def text(self, lang: str = "id") -> str:
        return self.en if lang == "en" else self.id

    def as_dict(self, lang: str = "id") -> dict:
        return {"code": self.code, "message": self.text(lang), "message_id": self.id, "message_en": self.en}
