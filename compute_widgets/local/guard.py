"""The pure-ASGI middleware in front of every route: trailing slash, auth, body size cap."""

from __future__ import annotations

import hmac
from typing import Any

from compute_widgets.local.wire import (
    MAX_BODY,
    C,
    Fail,
    error_response,
    new_req_id,
)


class Guard:
    """Pure-ASGI middleware: trailing slash, `Authorization: Key <token>`, body size cap."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"key {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
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
        elif not (
            auth[:4].lower() == b"key "
            and hmac.compare_digest(b"key " + auth[4:].strip(), self._expected)
        ):
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
