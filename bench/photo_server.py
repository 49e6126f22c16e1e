"""A photo server on 127.0.0.1 for the download bench and the photo-store tests.

`PhotoServer()` listens on a free port of 127.0.0.1 only (never another address) in a background
thread, and answers every kind of URL a review export meets:

| path                     | answer                                                             |
| ---                      | ---                                                                |
| /photo/NAME.png          | 200, the photo (a PNG of `photo_size` pixels of noise), image/png  |
| /missing.png             | 404                                                                |
| /flaky.png               | 500 the first time, then 200 and the photo                         |
| /always-500.png          | 500, every time                                                    |
| /slow.png                | the photo after `slow_s` seconds                                   |
| /redirect.png            | 302 to /photo/redirected.png                                       |
| /huge.png                | 200, image/png, Content-Length and a body of `huge_bytes`          |
| /huge-unsized.png        | 200, image/png, no Content-Length, a body of `huge_bytes`          |
| /fake.png                | 200, image/png, a body that is text                                |
| /error-page.png          | 200, text/html: a web page where the photo should be               |
| /bomb.png                | 200, image/png, a PNG whose header declares 8,000 x 6,000 pixels   |
| /to/HOST/PATH            | 302 to http://HOST/PATH (a redirect elsewhere, e.g. a private host)  |
| /trickle.png             | 200, image/png, one byte every `trickle_s` seconds, forever        |

`requests` counts the GET requests per path, so a test can tell what was downloaded.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


def noise_png(size: int = 16, seed: int = 0) -> bytes:
    """A `size` x `size` RGB PNG of seeded noise (it compresses as badly as a photo: ~3 bytes a pixel)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 8_000, height: int = 6_000) -> bytes:
    """A PNG whose header declares `width` x `height` pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    ihdr = b"IHDR" + header
    chunk = struct.pack(">I", len(header)) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    data = struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + data + end


class _Listener(ThreadingHTTPServer):
    """A threading server whose listen queue holds a whole burst of parallel connections.

    The standard queue of 5 drops a burst of 16 connects when the accepting thread is slow to run (a
    busy CI machine), and a dropped connect is retried by the kernel only after a second: a client with a
    short connect timeout would then see a timeout the server never meant.
    """

    request_queue_size = 128
    daemon_threads = True


class PhotoServer:
    """The server; use as a context manager or call `close()`. `url(path)` gives a full URL."""

    def __init__(
        self, slow_s: float = 2.0, huge_bytes: int = 300_000, photo_size: int = 16, trickle_s: float = 0.2
    ) -> None:
        self.slow_s = slow_s
        self.trickle_s = trickle_s
        self.huge_bytes = huge_bytes
        self.photo = noise_png(photo_size)  # made once: serving costs the server almost nothing
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = _Listener(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> PhotoServer:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _count(self, path: str) -> int:
        with self._lock:
            self.requests[path] += 1
            return self.requests[path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a photo CDN

            def log_message(self, *_) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:
                try:
                    self._answer(server._count(self.path))
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: as intended
                    pass

            def _answer(self, count: int) -> None:
                path = self.path
                if path.startswith("/photo/"):
                    self._photo()
                elif path == "/missing.png":
                    self._send(404, "text/plain", b"not found")
                elif path == "/flaky.png":
                    self._send(500, "text/plain", b"try again") if count == 1 else self._photo()
                elif path == "/always-500.png":
                    self._send(500, "text/plain", b"broken")
                elif path == "/slow.png":
                    time.sleep(server.slow_s)
                    self._photo()
                elif path == "/redirect.png":
                    self._redirect("/photo/redirected.png")
                elif path.startswith("/to/"):
                    self._redirect("http://" + path.removeprefix("/to/"))
                elif path == "/trickle.png":
                    self._trickle()
                elif path in ("/huge.png", "/huge-unsized.png"):
                    self._send(200, "image/png", b"\x00" * server.huge_bytes, sized=path == "/huge.png")
                elif path == "/fake.png":
                    self._send(200, "image/png", b"this is a text file, not a PNG")
                elif path == "/error-page.png":
                    page = b"<html><body><h1>Sorry, something went wrong</h1></body></html>"
                    self._send(200, "text/html; charset=utf-8", page)
                elif path == "/bomb.png":
                    self._send(200, "image/png", bomb_png())
                else:
                    self._send(404, "text/plain", b"no such path")

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _trickle(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for byte in iter(lambda: server.photo[:1], None):  # until the client hangs up
                    self.wfile.write(byte)
                    self.wfile.flush()
                    time.sleep(server.trickle_s)

            def _photo(self) -> None:
                self._send(200, "image/png", server.photo)

            def _send(self, status: int, content_type: str, body: bytes, sized: bool = True) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if sized:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

        return Handler


def main() -> None:
    """Serve until killed; print the base address (http://127.0.0.1:PORT) on the first line."""
    import argparse

    parser = argparse.ArgumentParser(description="Serve bench/test photos on 127.0.0.1.")
    parser.add_argument("--photo-size", type=int, default=16, help="side of the served PNGs in pixels")
    args = parser.parse_args()
    server = PhotoServer(photo_size=args.photo_size)
    print(server.url(""), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
