"""A cap on request bodies, declared or streamed (chunked uploads count too)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.api.errors import envelope
from vidgate.errors import RequestTooLarge


class BodySizeLimit:
    """Pure ASGI middleware: refuses a body over `limit` bytes with the 413 envelope, before the
    route reads it into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    def _error(self) -> RequestTooLarge:
        return RequestTooLarge(f"The request body is larger than {self.limit} bytes.", {"limit": self.limit})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await envelope(self._error())(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit and not refused:
                    # Answer now and tell the app the client is gone, so it stops reading.
                    refused = True
                    await envelope(self._error())(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, whatever the app still says goes nowhere
                await send(message)

        await self.app(scope, counting_receive, guarded_send)
