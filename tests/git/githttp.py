# Smart-HTTP git server for tests: `git http-backend` behind Basic auth.
# Like GitHub, any user name is accepted with the right token as password.
# A second, read-only token may clone but gets 403 on push, like a GitHub
# token without `contents: write`.
# usage: githttp.py PROJECT_ROOT TOKEN [READ_ONLY_TOKEN]  -> prints the bound port, then serves.
import base64, os, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Shared helpers; no __pycache__ left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from httputil import read_body, send_answer

ROOT, TOKEN = sys.argv[1], sys.argv[2]
READ_ONLY = sys.argv[3] if len(sys.argv) > 3 else None


def user_if_authorized(header):
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    if password == TOKEN:
        return user
    if READ_ONLY and password == READ_ONLY:
        return "read-only"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        user = user_if_authorized(self.headers.get("Authorization", ""))
        if user is None:  # auth on everything, clone too
            return send_answer(self, 401, [("WWW-Authenticate", 'Basic realm="git"')], b"")
        body = read_body(self) if self.command == "POST" else b""
        url = urlsplit(self.path)
        if user == "read-only" and "git-receive-pack" in self.path:
            message = b"Permission to org/gitops.git denied to github-actions[bot]."
            return send_answer(self, 403, [], message)
        env = {
            "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": ROOT, "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command, "PATH_INFO": url.path, "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user, "REMOTE_ADDR": self.client_address[0],
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
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
        send_answer(self, status, headers, out)

    do_GET = do_POST = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
