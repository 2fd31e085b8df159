# faultproxy.py UPSTREAM_PORT PLAN [PATH_FILTER]
# A fault-injecting HTTP proxy for tests, in front of any HTTP server (the
# git smart-HTTP server or the registry). Unlike tests/registry/faultproxy.py
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
# A trailing "*" on the last item repeats it forever; otherwise requests after
# the plan are forwarded. Each request is logged to stdout as
# "REQ METHOD PATH FAULT STATUS"; the first line is "listening on 127.0.0.1:PORT".
import http.client, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = int(sys.argv[1])
PLAN = [p for p in sys.argv[2].split(",") if p] if len(sys.argv) > 2 else []
FILTER = sys.argv[3] if len(sys.argv) > 3 else ""
lock = threading.Lock()
state = {"n": 0}
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "content-length"}


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

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(n)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _status(self, fault, status, headers=()):
        body = b"injected fault\n"
        self._log(fault, status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        body = self._body()
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
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body if self.command not in ("GET", "HEAD") else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self._log(fault, resp.status)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
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
