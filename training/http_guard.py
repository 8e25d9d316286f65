"""ASGI middleware that turns transport-level bad input into clear 4xx JSON errors.

BentoML validates the JSON body itself (400 on invalid JSON, missing fields, wrong types).
What it does not do: refuse a wrong Content-Type, bound the body size, or reject non-UTF-8 bytes
with a message that names the problem. This guard does, before the body reaches the endpoint.
"""

from __future__ import annotations

import json

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


async def send_json_error(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """For POSTs to ``paths``: JSON content type (415), body size (413), UTF-8 (400)."""

    def __init__(self, app, paths: set[str], max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.paths = paths
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        if ctype.split(";")[0].strip().lower() != "application/json":
            return await send_json_error(
                send, 415, f"Content-Type must be application/json, got {ctype or 'none'!r}"
            )
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit():
            return await send_json_error(send, 400, "invalid Content-Length header")
        if int(declared) > self.max_body_bytes:
            return await send_json_error(
                send, 413, f"request body of {int(declared)} bytes exceeds the limit of {self.max_body_bytes}"
            )
        body = await self._read_body(receive)
        if body is None:
            return await send_json_error(
                send, 413, f"request body exceeds the limit of {self.max_body_bytes} bytes"
            )
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return await send_json_error(send, 400, f"request body is not valid UTF-8 (byte {err.start})")
        return await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive) -> bytes | None:
        """The whole body, or None once it passes the limit (chunked uploads have no Content-Length)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class DocsRedirect:
    """``GET /docs`` → the Swagger UI, which BentoML serves at ``/`` (the spec is ``/docs.json``)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope.get("method") in ("GET", "HEAD")
            and scope.get("path") in ("/docs", "/docs/")
        ):
            await send({"type": "http.response.start", "status": 307, "headers": [(b"location", b"/")]})
            await send({"type": "http.response.body", "body": b""})
            return
        return await self.app(scope, receive, send)
