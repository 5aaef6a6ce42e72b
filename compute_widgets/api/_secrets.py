"""Tokens: `Secret` holds one so that it never shows itself, `redact` scrubs one (and anything
shaped like an auth header) from a text before it reaches a message, a log line or a repr, and
`refuse_clear_text` keeps one off plain HTTP to another machine."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

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


def is_loopback(host: str) -> bool:
    """Is `host` this machine (localhost or a loopback address)?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_clear_text(base: str, source: str = "base_url") -> None:
    """A PAT goes only over HTTPS, or over plain HTTP to this machine (a local tunnel): raise a
    one-line NotConfigured naming `source` and the https:// form otherwise. The one home of the
    rule: the client checks it whenever it holds a token, `connect()` before any client exists."""
    from compute_widgets.api.errors import NotConfigured

    parts = urlsplit(base)
    host = parts.hostname or ""
    if parts.scheme.lower() == "http" and not is_loopback(host):
        safe = "https://" + base.split("://", 1)[1]
        raise NotConfigured(
            f"{source}={base} would send your PAT unencrypted to {host}; use {safe} "
            "(plain http:// is allowed only for 127.0.0.1 or localhost)"
        )
