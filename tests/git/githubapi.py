# The subset of the GitHub REST API that pull-request mode calls, with state
# in memory; every request is appended to LOG as one JSON line.
# usage: githubapi.py LOG [FAIL_STATUS [CREATE_REFUSAL]]  -> prints the bound port, then serves.
# With CREATE_REFUSAL only creating a pull request fails, with that message
# (GitHub's answer when Actions may not create pull requests).
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

LOG = sys.argv[1]
FAIL = int(sys.argv[2]) if len(sys.argv) > 2 else 0
CREATE_REFUSAL = sys.argv[3] if len(sys.argv) > 3 else None
PULLS = {}  # number -> pull request
LABELS = {}  # number -> [labels]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        url = urlsplit(self.path)
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": url.path,
                                "query": parse_qs(url.query),
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body}) + "\n")
        if FAIL and CREATE_REFUSAL:
            if self.command == "POST" and url.path.endswith("/pulls"):
                return self._send(FAIL, {"message": CREATE_REFUSAL,
                                         "documentation_url": "https://docs.example.test"})
        elif FAIL:
            return self._send(FAIL, {"message": "Resource not accessible by integration",
                                     "documentation_url": "https://docs.example.test"})
        parts = url.path.strip("/").split("/")
        # /repos/{o}/{r}/pulls[/{n}] and /repos/{o}/{r}/issues/{n}/labels
        if len(parts) >= 4 and parts[0] == "repos" and parts[3] == "pulls":
            owner, repo = parts[1], parts[2]
            if len(parts) == 4 and self.command == "GET":
                q = parse_qs(url.query)
                head = q.get("head", [""])[0]
                state = q.get("state", ["open"])[0]
                found = [p for p in PULLS.values()
                         if f"{owner}:{p['head']['ref']}" == head and p["state"] == state]
                return self._send(200, found)
            if len(parts) == 4 and self.command == "POST":
                if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in PULLS.values()):
                    return self._send(422, {"message": "Validation Failed",
                                            "errors": [{"message": "A pull request already exists"}]})
                n = len(PULLS) + 1
                PULLS[n] = {"number": n, "state": "open", "title": body["title"], "body": body.get("body"),
                            "head": {"ref": body["head"]}, "base": {"ref": body["base"]},
                            "html_url": f"https://git.example.test/{owner}/{repo}/pull/{n}"}
                return self._send(201, PULLS[n])
            if len(parts) == 5 and self.command == "PATCH":
                n = int(parts[4])
                if n not in PULLS:
                    return self._send(404, {"message": "Not Found"})
                for k in ("title", "body"):
                    if k in body:
                        PULLS[n][k] = body[k]
                if "base" in body:
                    PULLS[n]["base"] = {"ref": body["base"]}
                return self._send(200, PULLS[n])
        if len(parts) == 6 and parts[3] == "issues" and parts[5] == "labels" and self.command == "POST":
            n = int(parts[4])
            LABELS.setdefault(n, [])
            LABELS[n] += [l for l in body["labels"] if l not in LABELS[n]]
            return self._send(200, [{"name": l} for l in LABELS[n]])
        return self._send(404, {"message": "Not Found"})

    do_GET = do_POST = do_PATCH = _handle


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
