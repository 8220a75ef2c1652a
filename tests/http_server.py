"""A real HTTP server on 127.0.0.1 for download tests: serves bytes the test made, counts
requests, and can misbehave on purpose (404, drop the connection mid-file, go slow,
ignore Range requests, lie in its Content-Length or Content-Range, send no Content-Length)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.ranges: list[str] = []
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before the connection is closed
        self.delay_per_chunk = 0.0
        self.support_range = True
        self.content_length: dict[str, int | None] = {}  # path -> Content-Length sent instead (None: no header)
        self.range_start: dict[str, int] = {}  # path -> where a 206 starts, whatever range was asked for
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server.requests[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                range_header = self.headers.get("Range")
                if range_header and server.support_range:
                    server.ranges.append(range_header)
                    start = server.range_start.get(self.path, int(range_header.removeprefix("bytes=").split("-")[0]))
                    if start >= len(body):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                length = server.content_length.get(self.path, len(body) - start)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                limit = server.drop_after.pop(self.path, None)
                payload = body[start:] if limit is None else body[start : start + limit]
                for i in range(0, len(payload), 64 * 1024):
                    self.wfile.write(payload[i : i + 64 * 1024])
                    if server.delay_per_chunk:
                        time.sleep(server.delay_per_chunk)
                if limit is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # a client hanging up is a test's doing
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FileServer:  # noqa: PYI034 - typing.Self needs Python 3.11; modelver runs on 3.10
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
