# Smart-HTTP git server for tests: `git http-backend` behind Basic auth.
# Like GitHub, any user name is accepted with the right token as password.
# A second, read-only token may clone but gets 403 on push, like a GitHub
# token without `contents: write`.
# usage: githttp.py PROJECT_ROOT TOKEN [READ_ONLY_TOKEN]  -> prints the bound port, then serves.
import base64, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Shared helpers; no __pycache__ left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httputil import read_body, send_answer, serve_git_http_backend

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
    # Headers and body leave in two writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK (about 40 ms per response on
    # loopback), a stall real git servers do not have and that would weigh
    # on whichever client reads responses in the pattern that triggers it.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _handle(self):
        user = user_if_authorized(self.headers.get("Authorization", ""))
        if user is None:  # auth on everything, clone too
            return send_answer(self, 401, [("WWW-Authenticate", 'Basic realm="git"')], b"")
        body = read_body(self) if self.command == "POST" else b""
        if user == "read-only" and "git-receive-pack" in self.path:
            message = b"Permission to org/gitops.git denied to github-actions[bot]."
            return send_answer(self, 403, [], message)
        serve_git_http_backend(self, ROOT, urlsplit(self.path).path, user, body)

    do_GET = do_POST = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
