# HTTP helpers shared by the test servers and proxies written with
# http.server: reading a request body, answering, and forwarding a request
# to an upstream on 127.0.0.1.
# Import with:
#   sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   (from this folder)
#   sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support", "servers"))   (from a target folder)
import http.client
import os
import subprocess

# Headers that describe one connection, not the message: never forwarded.
# Content-Length is recomputed for the body actually sent.
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "content-length"}


def read_body(handler):
    """The request body, whether sent chunked or with a Content-Length."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            n = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if n == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += handler.rfile.read(n)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def send_answer(handler, status, headers, body):
    """A complete answer: status, `headers`, Content-Length, then `body` (not for HEAD)."""
    handler.send_response(status)
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def fetch_upstream(handler, port, body, timeout):
    """Sends the handler's request (minus hop-by-hop headers) to 127.0.0.1:`port`;
    returns the upstream response and its whole body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP}
        conn.request(handler.command, handler.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def send_upstream_head(handler, resp, data):
    """Status and headers of the upstream response `resp` (minus hop-by-hop
    ones) with Content-Length the size of `data` (upstream's for HEAD). The
    caller writes the body."""
    handler.send_response(resp.status)
    for k, v in resp.getheaders():
        if k.lower() not in HOP:
            handler.send_header(k, v)
    if handler.command == "HEAD":
        handler.send_header("Content-Length", resp.getheader("Content-Length") or "0")
    else:
        handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()


def serve_git_http_backend(handler, project_root, path_info, user, body):
    """Answers a smart-HTTP request with `git http-backend` (CGI): `path_info`
    is the repository path under `project_root` plus the service part."""
    query = handler.path.partition("?")[2]
    env = {
        "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": project_root, "GIT_HTTP_EXPORT_ALL": "1",
        "REQUEST_METHOD": handler.command, "PATH_INFO": path_info, "QUERY_STRING": query,
        "CONTENT_TYPE": handler.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": user, "REMOTE_ADDR": handler.client_address[0],
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
    }
    if handler.headers.get("Content-Encoding"):
        env["HTTP_CONTENT_ENCODING"] = handler.headers["Content-Encoding"]
    if handler.headers.get("Git-Protocol"):
        env["GIT_PROTOCOL"] = handler.headers["Git-Protocol"]
    p = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
    head, sep, out = p.stdout.partition(b"\r\n\r\n")
    if not sep:
        head, _, out = p.stdout.partition(b"\n\n")
    status, headers = 200, []
    for line in head.decode("latin-1").splitlines():
        k, _, v = line.partition(":")
        if k.lower() == "status":
            status = int(v.strip().split()[0])
        elif k:
            headers.append((k, v.strip()))
    send_answer(handler, status, headers, out)
