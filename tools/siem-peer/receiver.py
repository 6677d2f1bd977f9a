"""A SIEM's two HTTP front doors, for Ward's tests: an OpenTelemetry logs endpoint (OTLP/HTTP,
JSON encoding, parsed with OpenTelemetry's own protobuf definitions) and a webhook that takes
batches of events.

    receiver.py [--fail-first N]

Prints `ready 127.0.0.1:PORT` once it serves. It answers the first N posts with 503, so that
the sender has to retry. What it accepted is at GET /_peer/otlp and GET /_peer/hook: every
event, in the order received, each with the headers of its post.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

FAIL_FIRST = int(sys.argv[sys.argv.index("--fail-first") + 1]) if "--fail-first" in sys.argv else 0
lock = threading.Lock()
received = {"otlp": [], "hook": []}
posts = {"n": 0}


def attribute(kv):
    """An OTLP attribute's value as plain JSON."""
    v = kv.value
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        name = self.path.removeprefix("/_peer/")
        with lock:
            self.answer(200, received.get(name, []))

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            posts["n"] += 1
            if posts["n"] <= FAIL_FIRST:
                return self.answer(503, {"error": "try again"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path == "/v1/logs":
            if headers.get("content-type") != "application/json":
                return self.answer(415, {"error": "OTLP/HTTP JSON wants application/json"})
            request = ExportLogsServiceRequest()
            try:
                json_format.Parse(body, request)
            except json_format.ParseError as e:
                return self.answer(400, {"error": str(e)})
            got = []
            for rl in request.resource_logs:
                resource = {kv.key: attribute(kv) for kv in rl.resource.attributes}
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        got.append({
                            "resource": resource,
                            "scope": sl.scope.name,
                            "time_unix_nano": r.time_unix_nano,
                            "severity_number": r.severity_number,
                            "severity_text": r.severity_text,
                            "event_name": r.event_name,
                            "attributes": {kv.key: attribute(kv) for kv in r.attributes},
                            "event": json.loads(r.body.string_value),
                        })
            with lock:
                received["otlp"].extend(got)
            return self.answer(200, {})
        if self.path == "/hook":
            batch = json.loads(body)
            with lock:
                for e in batch["events"]:
                    received["hook"].append({"headers": headers, "event": e})
            return self.answer(200, {"accepted": len(batch["events"])})
        self.answer(404, {"error": "no such path"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"ready 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
