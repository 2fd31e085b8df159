# registry_faults.py UPSTREAM_PORT PLAN
# A fault-injecting HTTP proxy in front of a real registry, for tests.
# PLAN is a comma list of faults consumed one per proxied /v2/ request:
#   429       -> 429 with "Retry-After: 1"
#   429date   -> 429 with Retry-After as an HTTP date one second ahead
#   503       -> 503 with a distribution error body
#   pass      -> forward to the registry
# A trailing "*" on the last item repeats it forever (e.g. "503*");
# otherwise requests after the plan are forwarded. Every request is logged
# to stdout as "REQ METHOD PATH STATUS"; the first line is
# "listening on 127.0.0.1:PORT" (the proxy binds a free port).
import email.utils, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Shared helpers; no __pycache__ left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httputil import fetch_upstream, read_body, send_answer, send_upstream_head

UPSTREAM = int(sys.argv[1])
PLAN = [p for p in sys.argv[2].split(",") if p] if len(sys.argv) > 2 else []
lock = threading.Lock()
state = {"n": 0}


def next_fault():
    with lock:
        i = state["n"]
        state["n"] += 1
    if not PLAN:
        return "pass"
    if i < len(PLAN):
        return PLAN[i].rstrip("*")
    last = PLAN[-1]
    return last.rstrip("*") if last.endswith("*") else "pass"


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _log(self, status):
        # One write per line under the lock: print() from several threads
        # can interleave a line with the next one's newline.
        with lock:
            sys.stdout.write(f"REQ {self.command} {self.path} {status}\n")
            sys.stdout.flush()

    def _send(self, status, headers, body):
        # Logged before answering, so the log is complete once a client has its answer.
        self._log(status)
        send_answer(self, status, headers, body)

    def _handle(self):
        body = read_body(self)
        fault = next_fault() if self.path.startswith("/v2/") else "pass"
        if fault == "429":
            return self._send(429, [("Retry-After", "1")], b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}')
        if fault == "429date":
            when = email.utils.formatdate(time.time() + 1, usegmt=True)
            return self._send(429, [("Retry-After", when)], b"")
        if fault == "503":
            return self._send(503, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"UNAVAILABLE","message":"injected outage"}]}')
        resp, data = fetch_upstream(self, UPSTREAM, body, timeout=30)
        self._log(resp.status)
        send_upstream_head(self, resp, data)
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


# The default listen backlog (5) drops bursts of concurrent connections.
ThreadingHTTPServer.request_queue_size = 64
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
