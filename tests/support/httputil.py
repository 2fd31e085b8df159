# HTTP helpers shared by the test servers and proxies written with
# http.server: reading a request body, answering, and forwarding a request
# to an upstream on 127.0.0.1.
# Import with:
#   sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import http.client

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
