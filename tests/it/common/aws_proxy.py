"""A small HTTP proxy the AWS tests put between opsrun and moto's server.

It does two narrow things and passes everything else to moto unchanged:

1. CloudWatch: the Rust SDK speaks Smithy RPC v2 CBOR to CloudWatch
   (POST /service/GraniteServiceVersion20100801/operation/<Op>, CBOR
   bodies), which moto 5.2.5's server does not route; moto does serve
   CloudWatch's JSON protocol (what boto3 sends). The proxy decodes the
   CBOR request, sends the same operation to moto as JSON, and encodes
   moto's JSON answer (or error) back as CBOR. Only the encoding changes:
   moto computes every answer. (tests/it/aws.rs says why a translator and
   not an older SDK.)

2. Throttling: moto cannot throttle on demand. `POST /__throttle` with a
   body `N` makes the proxy answer the next N AWS requests itself with a
   throttling error in the protocol of the request (JSON, CBOR or query
   XML); `POST /__throttle` with `-1` throttles every request. `GET
   /__count` says how many AWS requests the proxy has seen.

Usage: python aws_proxy.py LISTEN_PORT MOTO_URL
"""

import datetime
import http.client
import http.server
import json
import sys
import threading
import urllib.parse

import cbor2

LOCK = threading.Lock()
STATE = {"throttle": 0, "seen": 0}

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
TARGET_PREFIX = "GraniteServiceVersion20100801."


def to_json(v):
    """CBOR-decoded values to JSON ones: timestamps as epoch seconds."""
    if isinstance(v, datetime.datetime):
        return v.timestamp()
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def to_cbor(v, key=""):
    """moto's JSON answer to CBOR values: members named like timestamps
    (epoch numbers or ISO strings in JSON) become datetimes (CBOR tag 1)."""
    if isinstance(v, dict):
        return {k: to_cbor(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [to_cbor(x, key) for x in v]
    if key.endswith("Timestamp") or key.endswith("Timestamps") or key in (
        "StartTime",
        "EndTime",
    ):
        if isinstance(v, (int, float)):
            return datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
        if isinstance(v, str):
            t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            if t.tzinfo is None:
                t = t.replace(tzinfo=datetime.timezone.utc)
            return t
    return v


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("proxy: " + (fmt % args) + "\n")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def handle_any(self, method):
        body = self.body()
        if self.path == "/__throttle":
            with LOCK:
                STATE["throttle"] = int(body.decode().strip())
            return self.reply(200, [], b"ok")
        if self.path == "/__count":
            with LOCK:
                n = STATE["seen"]
            return self.reply(200, [], str(n).encode())
        with LOCK:
            STATE["seen"] += 1
            throttle = STATE["throttle"] != 0
            if STATE["throttle"] > 0:
                STATE["throttle"] -= 1
        if throttle:
            return self.throttled()
        if self.path.startswith(CBOR_PREFIX):
            return self.cbor(body)
        self.forward(method, self.path, dict(self.headers), body, raw=True)

    def throttled(self):
        message = "Rate exceeded"
        if self.path.startswith(CBOR_PREFIX):
            body = cbor2.dumps({"__type": "Throttling", "message": message})
            return self.reply(
                400,
                [
                    ("Content-Type", "application/cbor"),
                    ("smithy-protocol", "rpc-v2-cbor"),
                    ("x-amzn-query-error", "Throttling;Sender"),
                ],
                body,
            )
        if self.headers.get("X-Amz-Target"):
            body = json.dumps(
                {"__type": "ThrottlingException", "message": message}
            ).encode()
            return self.reply(
                400, [("Content-Type", "application/x-amz-json-1.1")], body
            )
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            f"<Message>{message}</Message></Error><RequestId>proxy</RequestId>"
            "</ErrorResponse>"
        ).encode()
        return self.reply(400, [("Content-Type", "text/xml")], body)

    def forward(self, method, path, headers, body, raw):
        u = urllib.parse.urlsplit(MOTO)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(len(body))
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if not raw:
            return resp.status, data
        skip = {"content-length", "transfer-encoding", "connection", "server", "date"}
        self.reply(
            resp.status,
            [(k, v) for k, v in resp.getheaders() if k.lower() not in skip],
            data,
        )

    def cbor(self, body):
        op = self.path[len(CBOR_PREFIX):]
        params = to_json(cbor2.loads(body)) if body else {}
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() in ("authorization", "x-amz-date", "x-amz-security-token", "host")
        }
        headers["X-Amz-Target"] = TARGET_PREFIX + op
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-query-mode"] = "true"
        status, data = self.forward(
            "POST", "/", headers, json.dumps(params).encode(), raw=False
        )
        try:
            answer = json.loads(data) if data else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": data.decode("utf-8", "replace")}
        if status >= 400 and "__type" in answer:
            # JSON errors may be `prefix#Code`; CBOR clients read `__type` too.
            answer["__type"] = answer["__type"].split("#")[-1]
        self.reply(
            status,
            [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")],
            cbor2.dumps(to_cbor(answer), datetime_as_timestamp=True),
        )


if __name__ == "__main__":
    port = int(sys.argv[1])
    MOTO = sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"listening on {port}", flush=True)
    server.serve_forever()
