"""A local webhook receiver: a threaded HTTP server on 127.0.0.1 that verifies signatures.

Modes: "ok" (200), "error" (500), "garbage" (not HTTP), "slow" (answers only when the
test releases it, so a short client timeout expires first: no sleeping). `refused_url`
is a port nobody listens on.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks import signing
from webhooks.models import Endpoint


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    mode: str = "ok"
    secret: str = ""
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = signing.verify(receiver.secret, self.headers.get(signing.HEADER, ""), body,
                                now=time.time())
            receiver.requests.append(Received(dict(self.headers), body, ok))
            if receiver.mode == "garbage":
                self.wfile.write(b"this is not HTTP\r\n\r\n")
                self.close_connection = True
                return
            if receiver.mode == "slow":
                receiver.release.wait(10)  # until the test has seen the client time out
            code = 500 if receiver.mode == "error" else 200
            reply = b'{"error": "boom"}' if code == 500 else b"thanks"
            try:
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:  # the client gave up (slow mode)
                pass

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def receiver():
    recv = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recv))
    server.daemon_threads = True
    recv.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield recv
    recv.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # closed again: connecting is refused


@pytest.fixture
def endpoint_for(db):
    def make(receiver_or_url, *, events=("ticket.created",), timeout=2.0, **fields) -> Endpoint:
        url = receiver_or_url if isinstance(receiver_or_url, str) else receiver_or_url.url
        endpoint = Endpoint.objects.create(name=fields.pop("name", "CRM"), url=url,
                                           events=list(events), timeout_seconds=timeout,
                                           **fields)
        if not isinstance(receiver_or_url, str):
            receiver_or_url.secret = endpoint.secret
        return endpoint
    return make

