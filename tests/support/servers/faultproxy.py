# faultproxy.py UPSTREAM_PORT PLAN [PATH_FILTER]
# A fault-injecting HTTP proxy for tests, in front of any HTTP server (the
# git smart-HTTP server or the registry). Unlike registry_faults.py
# it covers every path (or those containing PATH_FILTER) and also breaks
# connections, not just statuses.
# PLAN is a comma list of faults consumed one per matching request:
#   pass      forward to the upstream
#   drop      close the connection without answering
#   stall     hold the connection open without answering for 600 s
#   500 502 503   answer that status
#   429       429 with "Retry-After: 1"
#   truncate  forward, but send only half of the body (Content-Length is the
#             full size) and close
#   file:PATH answer with the JSON file PATH: {"status": N, "headers":
#             [[name, value], ...], "body": "text"} (a hostile server's answer)
# A trailing "*" on the last item repeats it forever; otherwise requests after
# the plan are forwarded. Each request is logged to stdout as
# "REQ METHOD PATH FAULT STATUS"; the first line is "listening on 127.0.0.1:PORT".
import json, os, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Shared helpers; no __pycache__ left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httputil import fetch_upstream, read_body, send_answer, send_upstream_head

UPSTREAM = int(sys.argv[1])
PLAN = [p for p in sys.argv[2].split(",") if p] if len(sys.argv) > 2 else []
FILTER = sys.argv[3] if len(sys.argv) > 3 else ""
lock = threading.Lock()
state = {"n": 0}


def next_fault(path):
    if FILTER not in path:
        return "pass"
    with lock:
        i = state["n"]
        state["n"] += 1
    if i < len(PLAN):
        return PLAN[i].rstrip("*")
    if PLAN and PLAN[-1].endswith("*"):
        return PLAN[-1].rstrip("*")
    return "pass"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _log(self, fault, status):
        print(f"REQ {self.command} {self.path} {fault} {status}", flush=True)

    def _status(self, fault, status, headers=()):
        self._log(fault, status)
        send_answer(self, status, headers, b"injected fault\n")

    def _handle(self):
        body = read_body(self)
        fault = next_fault(self.path)
        if fault == "drop":
            self._log(fault, 0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "stall":
            self._log(fault, 0)
            time.sleep(600)
            self.close_connection = True
            return
        if fault in ("500", "502", "503"):
            return self._status(fault, int(fault))
        if fault == "429":
            return self._status(fault, 429, [("Retry-After", "1")])
        if fault.startswith("file:"):
            with open(fault[len("file:"):]) as f:
                answer = json.load(f)
            self._log("file", answer["status"])
            headers = [tuple(h) for h in answer.get("headers", [])]
            return send_answer(self, answer["status"], headers, answer.get("body", "").encode())
        resp, data = fetch_upstream(self, UPSTREAM, body, timeout=60)
        self._log(fault, resp.status)
        send_upstream_head(self, resp, data)
        if self.command == "HEAD":
            return
        if fault == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


srv = Server(("127.0.0.1", 0), H)
print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
