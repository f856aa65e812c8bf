#!/usr/bin/env python3
"""A local HTTP server for benchmarks: every request is answered after
DELAY_MS milliseconds (default 200), concurrently (one thread per request).
Usage: slow_server.py PORT [DELAY_MS]"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class H(BaseHTTPRequestHandler):
    delay = 0.2

    def do_GET(self):
        time.sleep(self.delay)
        body = b'{"status":"healthy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1])
    H.delay = (int(sys.argv[2]) if len(sys.argv) > 2 else 200) / 1000.0
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
