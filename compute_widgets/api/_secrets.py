"""Tokens: `Secret` holds one so that it never shows itself, `redact` scrubs one (and anything
shaped like an auth header) from a text before it reaches a message, a log line or a repr."""

from __future__ import annotations

import re
from collections.abc import Iterable

# "Key abc123", "Bearer abc", "Authorization: ...", "token=..." -> scrubbed.
_SECRET_PATTERNS = re.compile(
    r"(?i)\b(key|bearer)\s+[A-Za-z0-9._\-]{6,}"
    r"|(?i:authorization)\s*[:=]\s*\S+(\s+\S+)?"
    r"|(?i:(pat|token|api_key|session_token))([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove tokens from `text`: the given secrets, and anything shaped like an auth header."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")

    def _sub(m: re.Match[str]) -> str:
        if m.group(1):
            return f"{m.group(1)} ****"
        if m.group(3):
            return f"{m.group(3)}{m.group(4)}****"
        return "Authorization: ****"

    return _SECRET_PATTERNS.sub(_sub, text)


class Secret:
    """A token that never shows itself (repr, str, f-strings, logging)."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or ""

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "'****'" if self._value else "None"

    __str__ = __repr__

    def redact(self, text: str) -> str:
        """`text` without the token (and anything shaped like an auth header)."""
        return redact(text, [self._value])
