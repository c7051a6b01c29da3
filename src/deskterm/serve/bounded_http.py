"""uvicorn's httptools protocol with a limit on a request's head, which h11 has and
httptools has not (it keeps whatever header bytes come). A module of its own, so that
``serve web --workers N`` can hand the class to its processes (it is pickled by name)."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from deskterm.serve.asgi import HEAD_MAX


class BoundedHead(HttpToolsProtocol):
    """Past :data:`HEAD_MAX` bytes before the headers end: a 400, the connection closed."""

    _head = 0

    def data_received(self, data: bytes) -> None:
        if self._head >= 0:
            self._head += len(data)
        super().data_received(data)
        # Counted after parsing: a chunk that ends the headers may carry the body too.
        if self._head > HEAD_MAX and not self.transport.is_closing():
            self.send_400_response("Request headers too large.")

    def on_headers_complete(self) -> None:
        self._head = -1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head = 0
