"""The pure-ASGI middleware in front of every route: trailing slash, auth, body size cap, and
the one unauthenticated route, the identity proof.

``GET /local/identity?nonce=<16-128 of [A-Za-z0-9_-]>`` answers ``{"pid", "proof"}`` with
``proof = HMAC-SHA256(token, "compute-widgets identity " + nonce)`` (hex). A client that holds
the token from the runtime file checks the proof before it sends ``Authorization``; a process
that took over the port of a dead server cannot compute it, and a restarted server (a fresh
token at each start) cannot answer for its predecessor. The proof reveals nothing of the token.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from typing import Any

from compute_widgets.api import identity_proof
from compute_widgets.local.wire import (
    MAX_BODY,
    C,
    Fail,
    error_response,
    new_req_id,
)

IDENTITY_PATH = "/local/identity"
_NONCE = re.compile(rb"(?:^|&)nonce=([A-Za-z0-9_-]{16,128})(?:&|$)")




def key_matches(given: bytes, expected: bytes) -> bool:
    """Is `given` (an ``Authorization`` header or gRPC metadata value) ``Key <token>`` for
    `expected` = ``b"key " + token``? The word in any case, in constant time. Both doors."""
    return given[:4].lower() == b"key " and hmac.compare_digest(
        b"key " + given[4:].strip(), expected
    )


class Guard:
    """Pure-ASGI middleware: trailing slash, `Authorization: Key <token>`, body size cap."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"key {token}".encode()
        self._token = token
        self._pid = os.getpid()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.rstrip("/") == IDENTITY_PATH and scope["method"] in ("GET", "HEAD"):
            await self._identity(scope, receive, send)
            return
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
        auth = b""
        length = 0
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v
            elif k == b"content-length":
                length = int(v) if v.isdigit() else 0
        fail = None
        if not auth:
            fail = Fail(
                C.CONN_KEY_INVALID,
                "Missing Authorization header; send 'Authorization: Key <token>' (the local server's token is in its runtime file).",
                http=401,
            )
        elif not key_matches(auth, self._expected):
            fail = Fail(
                C.CONN_KEY_INVALID,
                "Invalid API key or token in the Authorization header ('Authorization: Key <token>').",
                http=401,
            )
        elif length > MAX_BODY:
            fail = Fail(
                C.CONN_BAD_REQUEST_FORMAT,
                f"The request body is {length} bytes; the limit is {MAX_BODY} bytes. Send smaller batches.",
                http=413,
            )
        if fail is not None:
            await error_response(fail, new_req_id())(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _identity(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = _NONCE.search(scope.get("query_string") or b"")
        if match is None:
            fail = Fail(
                C.BAD_REQUEST,
                "nonce: give 16 to 128 characters of A-Z a-z 0-9 _ - (GET /local/identity?nonce=...).",
                http=400,
            )
            await error_response(fail, new_req_id())(scope, receive, send)
            return
        proof = identity_proof(self._token, match.group(1).decode())
        body = json.dumps({"pid": self._pid, "proof": proof}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
