#!/usr/bin/env python3
# The one local stand-in for the subset of the GitHub API that gitops-bump
# uses, BACKED BY A REAL BARE GIT REPOSITORY: refs, trees, blobs and history
# are read with git, and createCommitOnBranch builds real commits with
# plumbing and moves the branch with `git update-ref NEW OLD` (git's own
# compare-and-swap). Pull requests and labels are kept in memory.
#
# usage: fake_github.py CONFIG.json
# CONFIG: {"owner": "org", "repo": "gitops", "state": path,
#          "bare": path, "app_id": "123", "public_key": pem path,
#          "installation_id": 42, "installed": true,
#          "granted": {"contents": "write"},
#          "static_token": "...", "read_only_token": "...",
#          "foreign_token": "...",
#          "html_base": "https://github.com",
#          "fail_status": 403, "create_refusal": "message"}
# Only owner, repo and state are required. Without `bare` only the
# pull-request and label calls answer (for a repository served elsewhere).
# It also serves the repository over git smart HTTP at /{owner}/{repo}.git,
# like GitHub: user `x-access-token`, an installation token (or the static
# one) as password. `foreign_token` plays a workflow's GITHUB_TOKEN for
# another repository: valid, but this repository is "not found" (404).
# With `fail_status` every API call answers that status and "Resource not
# accessible by integration"; with `create_refusal` too, only creating a
# pull request fails, with that message.
# Every API request is recorded in STATE["requests"] (method, path, query,
# status, headers, JSON body) and the state file rewritten.
# Each token carries permissions, like GitHub's: an installation token has
# the ones it was minted with, `read_only_token` (optional) may only read,
# the static one may do everything. Pushing (git receive-pack,
# createCommitOnBranch, creating refs) needs `contents: write`, opening a
# pull request `pull_requests: write`; otherwise 403. Reading commit
# statuses needs `statuses: read`, check runs `checks: read`.
# Prints the listening port on stdout, then serves until killed.
import base64, json, os, subprocess, sys, tempfile, threading, time, uuid
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httputil import read_body, send_answer, serve_git_http_backend
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs, unquote

CFG = json.load(open(sys.argv[1]))
BARE = CFG.get("bare")
HTML = CFG.get("html_base", "https://github.com")
FAIL = int(CFG.get("fail_status") or 0)
CREATE_REFUSAL = CFG.get("create_refusal")
FULL = f'{CFG["owner"]}/{CFG["repo"]}'
LOCK = threading.Lock()
STATE = {"tokens": [], "requests": [], "pulls": [], "git": []}
GIT_PREFIX = f"/{FULL}.git/"


def save_state():
    tmp = CFG["state"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATE, f)
    os.replace(tmp, CFG["state"])


def git(*args, input=None, env=None, check=True):
    e = dict(os.environ, GIT_DIR=BARE)
    if env:
        e.update(env)
    p = subprocess.run(["git", *args], input=input, capture_output=True, env=e)
    if check and p.returncode != 0:
        raise RuntimeError(f"git {args}: {p.stderr.decode()}")
    return p


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_jwt(jwt):
    """The App JWT: RS256 signature by the App key, iss = app id, <= 10 min."""
    try:
        h, c, s = jwt.split(".")
        header = json.loads(b64u_decode(h))
        claims = json.loads(b64u_decode(c))
        sig = b64u_decode(s)
    except Exception as e:
        return f"malformed JWT: {e}"
    if header.get("alg") != "RS256":
        return "alg must be RS256"
    with tempfile.NamedTemporaryFile() as sf:
        sf.write(sig)
        sf.flush()
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", CFG["public_key"], "-signature", sf.name],
                           input=f"{h}.{c}".encode(), capture_output=True)
    if p.returncode != 0:
        return "A JSON web token could not be decoded"
    now = int(time.time())
    if str(claims.get("iss")) != str(CFG["app_id"]):
        return "'Issuer' claim ('iss') must be an Integer"
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        return "iat/exp missing"
    if exp - iat > 600 or iat > now + 5 or exp <= now:
        return "'Expiration time' claim ('exp') is too far in the future"
    return None


def token_ok(auth):
    tok = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
    if tok is None:
        return None
    if CFG.get("static_token") and tok == CFG["static_token"]:
        return {"token": tok, "static": True}
    if CFG.get("read_only_token") and tok == CFG["read_only_token"]:
        return {"token": tok, "static": True, "permissions": {"contents": "read"}}
    for t in STATE["tokens"]:
        if t["token"] == tok and not t["revoked"]:
            return t
    return None


def may_write(t, permission):
    """Whether the token record `t` holds `permission: write`."""
    if t.get("static") and "permissions" not in t:
        return True
    return t.get("permissions", {}).get(permission) == "write"


def may_read(t, permission):
    """Whether the token record `t` may read `permission` (statuses, checks):
    a token minted with permissions has only those, as on GitHub."""
    if t.get("static") and "permissions" not in t:
        return True
    return t.get("permissions", {}).get(permission) in ("read", "write")


DENIED = {"message": "Resource not accessible by integration"}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one_request(self):
        # One handler serves every request of a kept-alive connection.
        self.__dict__.pop("_json", None)
        super().handle_one_request()

    def send(self, code, obj=None):
        # Record first: a test reads the state as soon as it has the answer.
        with LOCK:
            auth = self.headers.get("Authorization", "")
            url = urlparse(self.path)
            STATE["requests"].append({"method": self.command, "path": url.path,
                                      "query": parse_qs(url.query), "status": code,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": getattr(self, "_json", None),
                                      "api_version": self.headers.get("X-GitHub-Api-Version"),
                                      "accept": self.headers.get("Accept"),
                                      "user_agent": self.headers.get("User-Agent"),
                                      "bearer": auth.startswith("Bearer ")})
            save_state()
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        if not hasattr(self, "_json"):
            n = int(self.headers.get("Content-Length") or 0)
            self._json = json.loads(self.rfile.read(n) or b"null")
        return self._json

    def refused(self):
        """Answers as `fail_status`/`create_refusal` ask; False when the
        request is to be served."""
        if not FAIL:
            return False
        if self.command in ("POST", "PATCH"):
            self.body()
        doc = "https://docs.example.test"
        if CREATE_REFUSAL:
            if self.command == "POST" and urlparse(self.path).path.endswith("/pulls"):
                self.send(FAIL, {"message": CREATE_REFUSAL, "documentation_url": doc})
                return True
            return False
        self.send(FAIL, {"message": "Resource not accessible by integration", "documentation_url": doc})
        return True

    def no_repository(self):
        """Without a bare repository only pull requests and labels answer."""
        if BARE is not None:
            return False
        self.send(404, {"message": "Not Found"})
        return True

    def auth(self):
        return self.headers.get("Authorization", "")

    def smart_http(self):
        """git http-backend behind GitHub-style Basic auth."""
        body = read_body(self) if self.command == "POST" else b""
        user, password = "", ""
        auth = self.auth()
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        record = token_ok("Bearer " + password) if password else None
        if password and password == CFG.get("foreign_token"):
            status = 404
        elif record is not None and "git-receive-pack" in self.path and not may_write(record, "contents"):
            status = 403
        elif record is not None:
            status = 200
        else:
            status = 401
        with LOCK:
            STATE["git"].append({"method": self.command, "path": self.path, "user": user,
                                 "token": password, "status": status})
            save_state()
        if status == 401:
            return send_answer(self, 401, [("WWW-Authenticate", 'Basic realm="GitHub"')], b"")
        if status == 404:
            return send_answer(self, 404, [], b"Repository not found.")
        if status == 403:
            return send_answer(self, 403, [], f"Permission to {FULL}.git denied to github-actions[bot].".encode())
        path = urlparse(self.path).path
        serve_git_http_backend(self, os.path.dirname(BARE),
                               "/" + os.path.basename(BARE) + "/" + path[len(GIT_PREFIX):], user, body)

    def do_GET(self):
        if BARE and self.path.startswith(GIT_PREFIX):
            return self.smart_http()
        if self.refused():
            return
        u = urlparse(self.path)
        q = parse_qs(u.query)
        parts = [unquote(p) for p in u.path.strip("/").split("/")]
        if parts[:1] == ["repos"] and parts[3:] == ["installation"]:
            if self.no_repository():
                return
            err = verify_jwt(self.auth()[len("Bearer "):])
            if err:
                return self.send(401, {"message": err})
            if f"{parts[1]}/{parts[2]}" != FULL or not CFG["installed"]:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, {"id": CFG["installation_id"], "app_id": int(CFG["app_id"])})
        if parts[:3] != ["repos", CFG["owner"], CFG["repo"]]:
            return self.send(404, {"message": "Not Found"})
        if token_ok(self.auth()) is None:
            return self.send(401, {"message": "Bad credentials"})
        rest = parts[3:]
        if rest != ["pulls"] and self.no_repository():
            return
        if rest == []:
            return self.send(200, {"full_name": FULL, "default_branch": "main"})
        if rest[:1] == ["commits"] and len(rest) == 3 and rest[2] in ("status", "statuses", "check-runs"):
            if not may_read(token_ok(self.auth()), "checks" if rest[2] == "check-runs" else "statuses"):
                return self.send(403, DENIED)
            return self.commit_checks_get(rest[1], rest[2])
        if rest[:3] == ["git", "ref", "heads"]:
            ref = "refs/heads/" + "/".join(rest[3:])
            p = git("rev-parse", "--verify", "-q", ref, check=False)
            if p.returncode != 0:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, {"ref": ref, "object": {"type": "commit", "sha": p.stdout.decode().strip()}})
        if rest[:2] == ["git", "trees"] and len(rest) == 3:
            args = ["ls-tree", "-l", "--full-tree"]
            if q.get("recursive"):
                args += ["-r", "-t"]
            p = git(*args, rest[2], check=False)
            if p.returncode != 0:
                return self.send(404, {"message": "Not Found"})
            tree = []
            for line in p.stdout.decode().splitlines():
                meta, path = line.split("\t", 1)
                mode, typ, sha, size = meta.split()
                e = {"path": path, "mode": mode, "type": typ, "sha": sha}
                if typ == "blob":
                    e["size"] = int(size)
                tree.append(e)
            return self.send(200, {"sha": rest[2], "tree": tree, "truncated": False})
        if rest[:2] == ["git", "blobs"] and len(rest) == 3:
            p = git("cat-file", "blob", rest[2], check=False)
            if p.returncode != 0:
                return self.send(404, {"message": "Not Found"})
            enc = base64.encodebytes(p.stdout).decode()  # wrapped lines, like GitHub
            return self.send(200, {"sha": rest[2], "size": len(p.stdout), "encoding": "base64", "content": enc})
        if rest[:1] == ["pulls"] and len(rest) == 2:
            return self.pull_get(rest[1])
        if rest == ["pulls"]:
            head = q.get("head", [""])[0]
            base = q.get("base", [""])[0]
            state = q.get("state", ["open"])[0]
            found = [p for p in STATE["pulls"] if f'{CFG["owner"]}:{p["head"]["ref"]}' == head
                     and (not base or p["base"]["ref"] == base) and p["state"] == state]
            return self.send(200, found)
        if rest == ["commits"]:
            sha = q.get("sha", ["HEAD"])[0]
            n = int(q.get("per_page", ["30"])[0])
            args = ["log", f"-n{n}", "--format=%H%x00%B%x1e", sha]
            if q.get("path"):
                args += ["--", q["path"][0]]
            p = git(*args, check=False)
            out = []
            for rec in p.stdout.decode().split("\x1e"):
                rec = rec.strip("\n")
                if not rec:
                    continue
                h, msg = rec.split("\x00", 1)
                out.append({"sha": h, "commit": {"message": msg.rstrip("\n")}})
            return self.send(200, out)
        return self.send(404, {"message": "Not Found"})

    def do_POST(self):
        if BARE and self.path.startswith(GIT_PREFIX):
            return self.smart_http()
        if self.refused():
            return
        u = urlparse(self.path)
        parts = u.path.strip("/").split("/")
        if parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]:
            if self.no_repository():
                return
            err = verify_jwt(self.auth()[len("Bearer "):])
            if err:
                return self.send(401, {"message": err})
            if parts[2] != str(CFG["installation_id"]) or not CFG["installed"]:
                return self.send(404, {"message": "Not Found"})
            req = self.body() or {}
            perms = req.get("permissions", {})
            granted = CFG["granted"]
            rank = {"read": 1, "write": 2}
            for k, v in perms.items():
                if rank.get(granted.get(k), 0) < rank.get(v, 3):
                    return self.send(422, {"message": f"The permissions requested are not granted to this installation."})
            if req.get("repositories") not in (None, [CFG["repo"]]):
                return self.send(422, {"message": "There is at least one repository that does not exist or is not accessible to the parent installation."})
            tok = "ghs_" + uuid.uuid4().hex
            with LOCK:
                STATE["tokens"].append({"token": tok, "revoked": False, "permissions": perms,
                                        "repositories": req.get("repositories")})
            return self.send(201, {"token": tok, "expires_at": "2099-01-01T00:00:00Z", "permissions": perms})
        if parts[:3] == ["repos", CFG["owner"], CFG["repo"]] and len(parts) == 6 \
                and parts[3] == "issues" and parts[5] == "labels":
            if token_ok(self.auth()) is None:
                return self.send(401, {"message": "Bad credentials"})
            req = self.body() or {}
            labels = None
            with LOCK:
                for pr in STATE["pulls"]:
                    if str(pr["number"]) == parts[4]:
                        pr.setdefault("labels", [])
                        pr["labels"] += [l for l in req.get("labels", []) if l not in pr["labels"]]
                        labels = list(pr["labels"])
            if labels is None:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, [{"name": l} for l in labels])
        if parts[:3] == ["repos", CFG["owner"], CFG["repo"]] and parts[3:] in (["git", "refs"], ["pulls"]):
            record = token_ok(self.auth())
            if record is None:
                return self.send(401, {"message": "Bad credentials"})
            if not may_write(record, "contents" if parts[3] == "git" else "pull_requests"):
                return self.send(403, DENIED)
            req = self.body() or {}
            if parts[3:] == ["git", "refs"]:
                if self.no_repository():
                    return
                p = git("update-ref", req["ref"], req["sha"], "0" * 40, check=False)
                if p.returncode != 0:
                    return self.send(422, {"message": "Reference already exists"})
                return self.send(201, {"ref": req["ref"], "object": {"sha": req["sha"]}})
            with LOCK:
                if any(p["head"]["ref"] == req["head"] and p["state"] == "open" for p in STATE["pulls"]):
                    pr = None
                else:
                    n = len(STATE["pulls"]) + 1
                    pr = {"number": n, "state": "open", "title": req["title"], "body": req.get("body", ""),
                          "head": {"ref": req["head"]}, "base": {"ref": req["base"]},
                          "html_url": f"{HTML}/{FULL}/pull/{n}"}
                    STATE["pulls"].append(pr)
            if pr is None:
                return self.send(422, {"message": "Validation Failed",
                                       "errors": [{"message": "A pull request already exists"}]})
            return self.send(201, pr)
        if parts[:3] == ["repos", CFG["owner"], CFG["repo"]] and parts[3:4] in (["statuses"], ["check-runs"]):
            if token_ok(self.auth()) is None:
                return self.send(401, {"message": "Bad credentials"})
            return self.commit_checks_post(parts[3:], self.body() or {})
        if u.path == "/graphql":
            if self.no_repository():
                return
            record = token_ok(self.auth())
            if record is None:
                return self.send(401, {"message": "Bad credentials"})
            if not may_write(record, "contents"):
                return self.send(200, {"errors": [{"type": "FORBIDDEN", "message": DENIED["message"]}]})
            return self.graphql(self.body())
        return self.send(404, {"message": "Not Found"})

    def do_PATCH(self):
        if self.refused():
            return
        parts = urlparse(self.path).path.strip("/").split("/")
        record = token_ok(self.auth())
        if parts[:3] != ["repos", CFG["owner"], CFG["repo"]] or record is None:
            return self.send(401, {"message": "Bad credentials"})
        req = self.body() or {}
        rest = parts[3:]
        if not may_write(record, "contents" if rest[:1] == ["git"] else "pull_requests"):
            return self.send(403, DENIED)
        if rest[:3] == ["git", "refs", "heads"]:
            if self.no_repository():
                return
            ref = "refs/" + "/".join(rest[2:])
            if git("rev-parse", "--verify", "-q", ref, check=False).returncode != 0:
                return self.send(422, {"message": "Reference does not exist"})
            git("update-ref", ref, req["sha"])
            return self.send(200, {"ref": ref, "object": {"sha": req["sha"]}})
        if rest[:1] == ["pulls"] and len(rest) == 2:
            with LOCK:
                for pr in STATE["pulls"]:
                    if str(pr["number"]) == rest[1]:
                        pr.update({k: v for k, v in req.items() if k in ("title", "body", "state")})
                        if "base" in req:
                            pr["base"] = {"ref": req["base"]}
                        found = pr
                        break
                else:
                    found = None
            if found is None:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, found)
        return self.send(404, {"message": "Not Found"})

    # --- One pull request, and merging it as GitHub's merge button does
    # (a merge commit on the base branch): GET /repos/{o}/{r}/pulls/{n},
    # PUT /repos/{o}/{r}/pulls/{n}/merge.
    def pull_get(self, number):
        with LOCK:
            found = [p for p in STATE["pulls"] if str(p["number"]) == number]
        if not found:
            return self.send(404, {"message": "Not Found"})
        pr = dict(found[0])
        pr.setdefault("merged", False)
        pr.setdefault("merge_commit_sha", None)
        return self.send(200, pr)

    def do_PUT(self):
        self.body()  # read it all: the connection is kept alive
        parts = urlparse(self.path).path.strip("/").split("/")
        record = token_ok(self.auth())
        if parts[:3] != ["repos", CFG["owner"], CFG["repo"]] or record is None:
            return self.send(401, {"message": "Bad credentials"})
        rest = parts[3:]
        if not (rest[:1] == ["pulls"] and len(rest) == 3 and rest[2] == "merge"):
            return self.send(404, {"message": "Not Found"})
        if not may_write(record, "contents"):
            return self.send(403, DENIED)
        with LOCK:
            found = [p for p in STATE["pulls"] if str(p["number"]) == rest[1]]
            if not found:
                return self.send(404, {"message": "Not Found"})
            pr = found[0]
            if pr["state"] != "open":
                return self.send(405, {"message": "Pull Request is not mergeable"})
            base_ref, head_ref = "refs/heads/" + pr["base"]["ref"], "refs/heads/" + pr["head"]["ref"]
            base = git("rev-parse", base_ref).stdout.decode().strip()
            head = git("rev-parse", head_ref).stdout.decode().strip()
            tree = git("merge-tree", "--write-tree", base, head, check=False)
            if tree.returncode != 0:
                return self.send(405, {"message": "Pull Request is not mergeable"})
            tree = tree.stdout.decode().split()[0]
            msg = f'Merge pull request #{pr["number"]} from {CFG["owner"]}/{pr["head"]["ref"]}'
            merge = git("commit-tree", tree, "-p", base, "-p", head, "-m", msg,
                        env={"GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com",
                             "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
                        ).stdout.decode().strip()
            git("update-ref", base_ref, merge, base)
            pr.update({"state": "closed", "merged": True, "merge_commit_sha": merge})
            save_state()
        return self.send(200, {"sha": merge, "merged": True, "message": "Pull Request successfully merged"})

    # --- Commit statuses and check runs (what Flux's notification-controller
    # and Argo CD notifications post; what the deploy wait reads). Real REST
    # shapes: POST /repos/{o}/{r}/statuses/{sha}, POST /repos/{o}/{r}/check-runs,
    # GET /repos/{o}/{r}/commits/{ref}/status (combined: the latest status per
    # context), /statuses (all, newest first), /check-runs.
    def commit_checks_post(self, rest, req):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if rest[0] == "statuses" and len(rest) == 2:
            if req.get("state") not in ("error", "failure", "pending", "success"):
                return self.send(422, {"message": "Validation Failed"})
            with LOCK:
                made = {"id": len(STATE.setdefault("statuses", [])) + 1, "sha": rest[1],
                        "state": req["state"], "context": req.get("context", "default"),
                        "description": req.get("description"), "target_url": req.get("target_url"),
                        "created_at": now, "updated_at": now}
                STATE["statuses"].append(made)
                save_state()
            return self.send(201, made)
        if rest == ["check-runs"]:
            with LOCK:
                made = {"id": len(STATE.setdefault("check_runs", [])) + 1, "head_sha": req.get("head_sha"),
                        "name": req.get("name"), "status": req.get("status", "queued"),
                        "conclusion": req.get("conclusion"), "output": req.get("output") or {"title": None},
                        "started_at": now}
                STATE["check_runs"].append(made)
                save_state()
            return self.send(201, made)
        return self.send(404, {"message": "Not Found"})

    def commit_checks_get(self, ref, what):
        p = git("rev-parse", "--verify", "-q", ref + "^{commit}", check=False)
        if p.returncode != 0:
            return self.send(422, {"message": f"No commit found for SHA: {ref}"})
        sha = p.stdout.decode().strip()
        with LOCK:
            mine = [s for s in STATE.get("statuses", []) if s["sha"] == sha][::-1]
            runs = [r for r in STATE.get("check_runs", []) if r["head_sha"] == sha]
        if what == "statuses":
            return self.send(200, mine)
        if what == "check-runs":
            return self.send(200, {"total_count": len(runs), "check_runs": runs})
        latest = {}
        for s in mine:
            latest.setdefault(s["context"], s)
        states = [s["state"] for s in latest.values()]
        if any(x in ("error", "failure") for x in states):
            combined = "failure"
        elif not states or "pending" in states:
            combined = "pending"
        else:
            combined = "success"
        return self.send(200, {"state": combined, "sha": sha, "total_count": len(latest),
                               "statuses": list(latest.values()),
                               "repository": {"full_name": FULL}})

    def do_DELETE(self):
        if self.refused():
            return
        if self.path == "/installation/token":
            t = token_ok(self.auth())
            if t is None or t.get("static"):
                return self.send(401, {"message": "Bad credentials"})
            with LOCK:
                t["revoked"] = True
            return self.send(204)
        return self.send(404, {"message": "Not Found"})

    def graphql(self, req):
        if "createCommitOnBranch" not in req.get("query", ""):
            return self.send(200, {"errors": [{"message": "unsupported query"}]})
        inp = req["variables"]["input"]
        if inp["branch"]["repositoryNameWithOwner"] != FULL:
            return self.send(200, {"errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a Repository"}]})
        ref = "refs/heads/" + inp["branch"]["branchName"]
        expected = inp["expectedHeadOid"]
        moved = {"data": {"createCommitOnBranch": None}, "errors": [{"type": "STALE_DATA", "message":
                 f'Expected branch to point to "{expected}" but it did not. Pull and try again.'}]}
        cur = git("rev-parse", "--verify", "-q", ref, check=False).stdout.decode().strip()
        if cur != expected:
            return self.send(200, moved)
        with tempfile.TemporaryDirectory() as d:
            env = {"GIT_INDEX_FILE": os.path.join(d, "index")}
            git("read-tree", expected, env=env)
            for add in inp.get("fileChanges", {}).get("additions", []):
                data = base64.b64decode(add["contents"])
                sha = git("hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
                git("update-index", "--add", "--cacheinfo", f"100644,{sha},{add['path']}", env=env)
            for rm in inp.get("fileChanges", {}).get("deletions", []):
                git("update-index", "--force-remove", rm["path"], env=env)
            tree = git("write-tree", env=env).stdout.decode().strip()
        msg = inp["message"]["headline"]
        if inp["message"].get("body"):
            msg += "\n\n" + inp["message"]["body"]
        who = {"GIT_AUTHOR_NAME": "test-app[bot]", "GIT_AUTHOR_EMAIL": "1+test-app[bot]@users.noreply.github.com",
               "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
        commit = git("commit-tree", tree, "-p", expected, "-F", "-", input=msg.encode(), env=who).stdout.decode().strip()
        # Compare-and-swap: fails when another request moved the branch meanwhile.
        if git("update-ref", ref, commit, expected, check=False).returncode != 0:
            return self.send(200, moved)
        return self.send(200, {"data": {"createCommitOnBranch": {"commit": {
            "oid": commit, "url": f"https://github.com/{FULL}/commit/{commit}"}}}})


ThreadingHTTPServer.request_queue_size = 64
ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
save_state()
print(srv.server_address[1], flush=True)
srv.serve_forever()
