# hostile.py [OPTIONS]  -> prints "listening on 127.0.0.1:PORT", then serves.
# A server that records every request and misbehaves on purpose, for the
# credential-boundary and hostile-server tests. Every request is logged to
# stdout as "REQ METHOD PATH auth=<the whole Authorization header, or ->"
# before it is answered, so a test can say exactly where a credential went.
#
# Options (first match wins for a request):
#   --tls CERT KEY          serve HTTPS with this certificate
#   --redirect-all BASE     answer everything with 302 to BASE + path
#   --redirect-manifests BASE   302 manifest requests to BASE + path
#   --redirect-push BASE    307 git push requests (git-receive-pack) to BASE + path
#   --big-all N             answer everything 200 with N bytes, streamed
#   --big-manifest N        manifests: HEAD 200 without a digest, GET streams N bytes
#   --bad-config-digest     serve a manifest whose config digest is a path
#   --realm URL             401 Bearer realm=URL on /v2/ and manifests
#   --oidc-claims JSON      GET anything: {"value": <unsigned JWT with these claims>}
#   --upstream PORT         forward anything else to 127.0.0.1:PORT
import base64, hashlib, json, os, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support", "servers"))
from httputil import fetch_upstream, read_body, send_answer, send_upstream_head

args = sys.argv[1:]
opts = {}
while args:
    flag = args.pop(0)
    if flag == "--tls":
        opts["tls"] = (args.pop(0), args.pop(0))
    elif flag == "--bad-config-digest":
        opts["bad-config-digest"] = True
    else:
        opts[flag[2:]] = args.pop(0)

lock = threading.Lock()
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def size(text):
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def bad_manifest():
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "../../../../admin/x?", "size": 2},
                       "layers": []}, sort_keys=True).encode()


def jwt(claims):
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return header + "." + b64(json.dumps(claims).encode()) + ".c2ln"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _log(self):
        with lock:
            sys.stdout.write(f"REQ {self.command} {self.path} auth={self.headers.get('Authorization', '-')}\n")
            sys.stdout.flush()

    def _stream(self, n, content_type):
        # Chunked, so only a cap while reading (not Content-Length) stops it.
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"A" * 65536
        sent = 0
        try:
            while sent < n:
                part = chunk[: min(len(chunk), n - sent)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                sent += len(part)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _handle(self):
        body = read_body(self)
        self._log()
        manifest = "/manifests/" in self.path
        if "redirect-all" in opts:
            return send_answer(self, 302, [("Location", opts["redirect-all"] + self.path)], b"")
        if "redirect-push" in opts and "git-receive-pack" in self.path:
            return send_answer(self, 307, [("Location", opts["redirect-push"] + self.path)], b"")
        if "redirect-manifests" in opts and manifest:
            return send_answer(self, 302, [("Location", opts["redirect-manifests"] + self.path)], b"")
        if "big-all" in opts:
            return self._stream(size(opts["big-all"]), "application/json")
        if "realm" in opts and (self.path == "/v2/" or manifest) and not self.headers.get("Authorization"):
            challenge = f'Bearer realm="{opts["realm"]}",service="hostile"'
            return send_answer(self, 401, [("WWW-Authenticate", challenge)], b"")
        if "realm" in opts and self.path.startswith("/token"):
            return send_answer(self, 200, [("Content-Type", "application/json")],
                               json.dumps({"token": "hostile-token"}).encode())
        if "big-manifest" in opts and manifest:
            if self.command == "HEAD":
                return send_answer(self, 200, [("Content-Type", MANIFEST)], b"")
            return self._stream(size(opts["big-manifest"]), MANIFEST)
        if opts.get("bad-config-digest") and manifest:
            m = bad_manifest()
            digest = "sha256:" + hashlib.sha256(m).hexdigest()
            return send_answer(self, 200, [("Content-Type", MANIFEST), ("Docker-Content-Digest", digest)], m)
        if "oidc-claims" in opts:
            return send_answer(self, 200, [("Content-Type", "application/json")],
                               json.dumps({"value": jwt(json.loads(opts["oidc-claims"]))}).encode())
        if "upstream" in opts:
            resp, data = fetch_upstream(self, int(opts["upstream"]), body, timeout=30)
            send_upstream_head(self, resp, data)
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        if self.path == "/v2/":
            return send_answer(self, 200, [("Content-Type", "application/json")], b"{}")
        send_answer(self, 404, [("Content-Type", "application/json")],
                    b'{"errors":[{"code":"NOT_FOUND","message":"hostile: nothing here"}]}')

    do_GET = do_HEAD = do_POST = do_PUT = _handle


ThreadingHTTPServer.request_queue_size = 64
ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
if "tls" in opts:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*opts["tls"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
