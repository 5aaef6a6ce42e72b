"""The local control plane proves who it is on every new connection, before the token is sent.

A process that binds the port of a dead local server would otherwise receive the next request's
``Authorization: Key <token>``. So when httpcore opens a TCP connection to a local server, the
client first sends, on that same connection and without the token::

    GET /local/identity?nonce=<random> HTTP/1.1

and checks that the answer's ``proof`` is HMAC-SHA256(token, "compute-widgets identity " +
nonce) (the server side is `compute_widgets.local.guard`; the formula is repeated there because
local/ and api/ do not import each other). Only then does httpcore send the real request on the
connection. A wrong or missing proof fails the connection with `httpcore.ConnectError` (httpx
raises it as `httpx.ConnectError`: nothing was sent, so any call may be retried, and a client
with a rediscover hook looks for the server again). The hook is httpcore's "trace" request
extension, which hands over the new network stream right after ``connect_tcp``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

import httpcore

PATH = "/local/identity"
TIMEOUT = 5.0  # s per read or write of the handshake
MAX_ANSWER = 16384  # bytes: the real answer is ~130
_IO_ERRORS = (httpcore.ReadError, httpcore.ReadTimeout, httpcore.WriteError, httpcore.WriteTimeout)


def identity_proof(token: str, nonce: str) -> str:
    """What the server holding `token` answers to GET /local/identity?nonce=...: the one
    definition, used by the clients here and by the server (local/guard.py) and its runtime."""
    msg = b"compute-widgets identity " + nonce.encode()
    return hmac.new(token.encode(), msg, hashlib.sha256).hexdigest()


class _Handshake:
    """One identity check: the request bytes, then fed the answer's bytes until complete."""

    def __init__(self, host: str, token: str) -> None:
        self.token = token
        self.nonce = secrets.token_urlsafe(24)
        self.request = (
            f"GET {PATH}?nonce={self.nonce} HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()
        self.buf = b""

    def feed(self, data: bytes) -> bool:
        """Add received bytes; True once the whole answer is in (raises if it cannot be)."""
        if not data:
            raise self.failure("it closed the connection")
        self.buf += data
        if len(self.buf) > MAX_ANSWER:
            raise self.failure("its answer is too long")
        head, sep, body = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        if length is None:
            raise self.failure("its answer has no Content-Length")
        if len(body) < length:
            return False
        if len(body) > length:
            raise self.failure("it sent more than one answer")
        self.check(head.split(b"\r\n")[0], body)
        return True

    def check(self, status_line: bytes, body: bytes) -> None:
        parts = status_line.split()
        if len(parts) < 2 or parts[1] != b"200":
            raise self.failure(f"it answered {status_line[:40].decode(errors='replace')!r}")
        try:
            got = json.loads(body).get("proof")
        except (ValueError, AttributeError):
            got = None
        if not isinstance(got, str) or not hmac.compare_digest(got, identity_proof(self.token, self.nonce)):
            raise self.failure(
                "its proof does not match this client's token: another process on the port, "
                "or a wrong token"
            )

    def failure(self, why: str) -> httpcore.ConnectError:
        return httpcore.ConnectError(
            f"the server did not prove it is the local control plane ({why}); the token was "
            "not sent"
        )


def sync_trace(host: str, token: Callable[[], str]) -> Callable[[str, dict[str, Any]], None]:
    """The "trace" extension of a sync request: checks each new connection first."""

    def trace(event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info["return_value"]
        shake = _Handshake(host, token())
        try:
            stream.write(shake.request, timeout=TIMEOUT)
            while not shake.feed(stream.read(4096, timeout=TIMEOUT)):
                pass
        except _IO_ERRORS as e:  # nothing of the request was sent: a connect failure
            raise shake.failure(type(e).__name__) from None

    return trace


def async_trace(host: str, token: Callable[[], str]) -> Callable[[str, dict[str, Any]], Any]:
    """The "trace" extension of an async request (httpcore awaits it)."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info["return_value"]
        shake = _Handshake(host, token())
        try:
            await stream.write(shake.request, timeout=TIMEOUT)
            while not shake.feed(await stream.read(4096, timeout=TIMEOUT)):
                pass
        except _IO_ERRORS as e:
            raise shake.failure(type(e).__name__) from None

    return trace
