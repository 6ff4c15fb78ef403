"""Real local receivers for report delivery: an HTTP server recording webhook posts and an SMTP server
(aiosmtpd) recording mails. Each can refuse its first ``failures`` deliveries with a temporary error."""
from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookReceiver:
    """POST /hook/<secret>: answers 503 to the first ``failures`` posts, then 200, and records every body."""

    def __init__(self, failures: int = 0, status_when_failing: int = 503):
        self.failures, self.status_when_failing = failures, status_when_failing
        self.attempts = 0
        self.posts: List[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(receiver.status_when_failing)
                    self.end_headers()
                    return
                receiver.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/T000/B000/s3cr3t-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class MailReceiver:
    """An SMTP server on 127.0.0.1 that answers 451 to the first ``failures`` mails, then records them."""

    def __init__(self, failures: int = 0):
        from aiosmtpd.controller import Controller

        self.failures, self.attempts = failures, 0
        self.mails: List = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    return "451 4.3.0 try again later"
                receiver.mails.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
