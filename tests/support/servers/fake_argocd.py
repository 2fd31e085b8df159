#!/usr/bin/env python3
# A local stand-in for the Argo CD API server AND its application
# controller, for the wait-for-the-deploy tests. It speaks the documented
# REST API (swagger: ApplicationService_Get, ApplicationService_List):
#   GET /api/v1/applications/{name}[?refresh=normal|hard][&appNamespace=NS]
#   GET /api/v1/applications?selector=k=v[,k2=v2]
# with `Authorization: Bearer <token>`, and answers like Argo CD 2.x:
# 401 {"error","code":16,"message"} for an unknown token, 403
# {"error":"permission denied","code":7} for an Application the token may
# not get AND for one that does not exist (Argo CD hides which).
#
# The controller is simulated against a REAL git remote: every
# `poll_interval` seconds (Argo CD's timeout.reconciliation, 180 s by
# default), or at once when a refresh is requested, it reads the branch tip
# of the bare repository with `git rev-parse`. A new tip makes the
# Application OutOfSync at that revision; an automated sync operation then
# runs (`sync_delay`) and the health progresses (`health_delay`) as the
# app's scenario says:
#   healthy      Synced, Progressing, then Healthy
#   degraded     Synced, Progressing, then Degraded (message + resource)
#   sync_failed  the operation fails: phase Failed, SyncFailed resource
#   progressing  Synced, Progressing forever
#   manual       no automated sync: stays OutOfSync
# At start every Application is Synced and Healthy at the current tip.
#
# usage: fake_argocd.py CONFIG.json   (prints the port, then serves)
# CONFIG: {"bare": path, "branch": "main", "poll_interval": 180,
#          "tokens": {"TOKEN": ["app-a", "*"]},   # Applications it may get
#          "apps": {"NAME": {"scenario": "healthy", "labels": {}, "namespace": "argocd",
#                            "sync_delay": 0.2, "health_delay": 0.3}},
#          "state": path}                          # requests, refreshes (JSON)
import json, os, subprocess, sys, threading, time, datetime
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httputil import send_answer
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs, unquote

CFG = json.load(open(sys.argv[1]))
BRANCH = CFG.get("branch", "main")
POLL = float(CFG.get("poll_interval", 180))
LOCK = threading.Condition()
STATE = {"requests": [], "refreshes": [], "noticed": {}}
START = time.time()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tip():
    p = subprocess.run(["git", "--git-dir", CFG["bare"], "rev-parse", "-q", "--verify",
                        f"refs/heads/{BRANCH}"], capture_output=True)
    return p.stdout.decode().strip() if p.returncode == 0 else ""


def save_state():
    tmp = CFG["state"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATE, f)
    os.replace(tmp, CFG["state"])


class App:
    def __init__(self, name, spec):
        self.name = name
        self.scenario = spec.get("scenario", "healthy")
        self.labels = spec.get("labels", {})
        self.namespace = spec.get("namespace", "argocd")
        self.sync_delay = float(spec.get("sync_delay", 0.2))
        self.health_delay = float(spec.get("health_delay", 0.3))
        rev = tip()
        self.compared = rev          # status.sync.revision
        self.sync = "Synced"
        self.health = "Healthy"
        self.health_message = ""
        self.operation = None        # {"phase", "revision", "started", "finished", ...}
        self.synced_at = None
        self.refresh = None          # a pending refresh request
        self.next_poll = time.time() + POLL
        self.resources_health = "Healthy"
        self.resource_message = ""
        if rev:
            self.operation = {"phase": "Succeeded", "revision": rev, "message": "successfully synced (all tasks run)",
                              "started": now_iso(), "finished": now_iso(), "failed": []}

    def reconcile(self, t):
        """One controller pass: poll git when due or asked, then progress."""
        if self.refresh is not None or t >= self.next_poll:
            if t >= self.next_poll:
                self.next_poll = t + POLL
            rev = tip()
            if rev and rev != self.compared:
                self.compared = rev
                self.sync = "OutOfSync"
                STATE["noticed"].setdefault(self.name, []).append({"revision": rev, "at": t - START,
                                                                   "by": "refresh" if self.refresh else "poll"})
                if self.scenario != "manual":
                    self.operation = {"phase": "Running", "revision": rev, "message": "waiting for completion",
                                      "started": now_iso(), "t": t, "failed": []}
            self.refresh = None
            LOCK.notify_all()
        op = self.operation
        if op and op["phase"] == "Running" and t - op["t"] >= self.sync_delay:
            op["finished"] = now_iso()
            if self.scenario == "sync_failed":
                op["phase"] = "Failed"
                op["message"] = "one or more objects failed to apply, reason: Deployment.apps \"app\" is invalid"
                op["failed"] = [{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "dev",
                                 "name": "app", "status": "SyncFailed", "syncPhase": "Sync",
                                 "message": "Deployment.apps \"app\" is invalid: spec.template.spec.containers[0].image: Required value"}]
            else:
                op["phase"] = "Succeeded"
                op["message"] = "successfully synced (all tasks run)"
                self.sync = "Synced"
                self.health = "Progressing"
                self.health_message = ""
                self.resources_health = "Progressing"
                self.resource_message = "Waiting for rollout to finish: 0 of 1 updated replicas are available..."
                self.synced_at = t
        if self.synced_at is not None and self.health == "Progressing" and t - self.synced_at >= self.health_delay:
            if self.scenario == "degraded":
                self.health = "Degraded"
                self.health_message = ""
                self.resources_health = "Degraded"
                self.resource_message = "Deployment \"app\" exceeded its progress deadline"
            elif self.scenario == "healthy":
                self.health = "Healthy"
                self.resources_health = "Healthy"
                self.resource_message = ""

    def to_json(self):
        status = {
            "sync": {"status": self.sync, "revision": self.compared,
                     "comparedTo": {"source": {"repoURL": "https://git.example.test/org/gitops.git",
                                               "path": "overlays/dev", "targetRevision": BRANCH}}},
            "health": {"status": self.health},
            "reconciledAt": now_iso(),
            "sourceType": "Kustomize",
            "resources": [
                {"version": "v1", "kind": "Service", "namespace": "dev", "name": "app", "status": "Synced",
                 "health": {"status": "Healthy"}},
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "dev", "name": "app",
                 "status": "Synced" if self.sync == "Synced" else "OutOfSync",
                 "health": {"status": self.resources_health, **({"message": self.resource_message}
                                                                 if self.resource_message else {})}},
            ],
        }
        if self.health_message:
            status["health"]["message"] = self.health_message
        op = self.operation
        if op:
            status["operationState"] = {
                "operation": {"sync": {"revision": op["revision"]}, "initiatedBy": {"automated": True}},
                "phase": op["phase"], "message": op["message"], "startedAt": op["started"],
                **({"finishedAt": op["finished"]} if op.get("finished") else {}),
                "syncResult": {"revision": op["revision"], "resources": op["failed"] or [
                    {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "dev", "name": "app",
                     "status": "Synced", "message": "deployment.apps/app configured", "syncPhase": "Sync"}]},
            }
        return {
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels},
            "spec": {"project": "default", "source": {"repoURL": "https://git.example.test/org/gitops.git",
                                                      "path": "overlays/dev", "targetRevision": BRANCH},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "dev"},
                     "syncPolicy": {} if self.scenario == "manual" else {"automated": {"prune": True}}},
            "status": status,
        }


APPS = {name: App(name, spec) for name, spec in CFG["apps"].items()}


def controller():
    # Runs for the life of the process (a daemon thread); each pass is short.
    while True:
        with LOCK:
            t = time.time()
            for app in APPS.values():
                app.reconcile(t)
            save_state()
        time.sleep(0.02)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, obj):
        send_answer(self, code, [("Content-Type", "application/json")], json.dumps(obj).encode())

    def allowed(self):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        return CFG["tokens"].get(token) if token is not None else None

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        parts = [unquote(p) for p in u.path.strip("/").split("/")]
        allowed = self.allowed()
        with LOCK:
            STATE["requests"].append({"path": self.path, "authorized": allowed is not None})
        if parts[:2] != ["api", "v1"]:
            return self.send(404, {"error": "Not Found", "code": 5, "message": "Not Found"})
        if allowed is None:
            msg = "invalid session: token signature is invalid"
            return self.send(401, {"error": msg, "code": 16, "message": msg})
        may = lambda name: "*" in allowed or name in allowed
        if parts[2:] == ["applications"]:
            wanted = {}
            for term in q.get("selector", [""])[0].split(","):
                if "=" in term:
                    k, v = term.split("=", 1)
                    wanted[k.strip()] = v.strip()
            with LOCK:
                items = [a.to_json() for a in APPS.values() if may(a.name)
                         and all(a.labels.get(k) == v for k, v in wanted.items())]
            return self.send(200, {"metadata": {"resourceVersion": "1"}, "items": items})
        if parts[2] == "applications" and len(parts) == 4:
            name = parts[3]
            app = APPS.get(name)
            ns = q.get("appNamespace", [None])[0]
            if app is None or not may(name) or (ns is not None and ns != app.namespace):
                return self.send(403, {"error": "permission denied", "code": 7, "message": "permission denied"})
            refresh = q.get("refresh", [None])[0]
            with LOCK:
                if refresh:
                    STATE["refreshes"].append({"app": name, "type": refresh, "at": time.time() - START})
                    app.refresh = refresh
                    # Like argocd-server: answer once the controller has
                    # processed the refresh (bounded).
                    deadline = time.time() + 5
                    while app.refresh is not None and time.time() < deadline:
                        LOCK.wait(0.05)
                return self.send(200, app.to_json())
        return self.send(404, {"error": "Not Found", "code": 5, "message": "Not Found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=controller, daemon=True).start()
print(server.server_address[1], flush=True)
server.serve_forever()
