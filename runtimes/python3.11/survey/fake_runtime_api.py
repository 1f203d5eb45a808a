"""A tiny stand-in for Lambda's Runtime API, for the survey of the python3.11 runtime (run by survey.sh).

    python3 fake_runtime_api.py PORT EVENTS LOG

Serves EVENTS invocations on 127.0.0.1:PORT (GET /2018-06-01/runtime/invocation/next), records every
request line and body in LOG (one JSON object per line), and answers the next /next after the last event
by closing the connection, which ends the bootstrap (it exits when the Runtime API fails).
"""
import http.server
import json
import sys
import threading

port, events, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
served = 0
log = open(log_path, "a", buffering=1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, body):
        log.write(json.dumps({"method": self.command, "path": self.path, "body": body.decode("utf-8", "replace"),
                              "error_type": self.headers.get("Lambda-Runtime-Function-Error-Type")}) + "\n")

    def do_GET(self):
        global served
        self.record(b"")
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.send_error(404)
            return
        if served == events:
            self.close_connection = True
            threading.Thread(target=self.server.shutdown).start()
            return
        served += 1
        body = json.dumps({"name": f"event-{served}", "n": served}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{served}")
        self.send_header("Lambda-Runtime-Deadline-Ms", "4102444800000")
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:000000000000:function:survey")
        self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-00000000-{served:024x}")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.record(body)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
