# tokenserver.py PORT KEY.pem CERT.pem ISSUER USER:PASS
# A distribution token server for tests: signs RS256 JWTs the registry trusts
# (its cert is the registry's rootcertbundle). Anonymous callers get pull
# only; wrong Basic credentials get 401. PORT 0 picks a free port, printed as
# "listening on 127.0.0.1:PORT". Each request is logged to stderr.
import base64, json, subprocess, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

PORT, KEY, CERT, ISSUER, CRED = sys.argv[1:6]
der = subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"], capture_output=True, check=True).stdout
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def sign(claims):
    hdr = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    si = f"{b64u(json.dumps(hdr).encode())}.{b64u(json.dumps(claims).encode())}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=si.encode(),
                         capture_output=True, check=True).stdout
    return f"{si}.{b64u(sig)}"

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        u = urlparse(self.path); q = parse_qs(u.query)
        sys.stderr.write(f"TOKEN REQ {self.path} auth={self.headers.get('Authorization','-')[:5]}\n")
        sys.stderr.flush()
        auth = self.headers.get("Authorization", "")
        ok = auth == "Basic " + base64.b64encode(CRED.encode()).decode()
        if auth and not ok:
            self.send_response(401); self.end_headers(); return
        access = []
        for s in q.get("scope", []):               # repository:team/app:pull,push
            typ, name, acts = s.split(":", 2) if s.count(":") >= 2 else (s, "", "")
            acts = acts.split(",")
            if not ok: acts = [a for a in acts if a == "pull"]   # anonymous: pull only
            access.append({"type": typ, "name": name, "actions": acts})
        now = int(time.time())
        tok = sign({"iss": ISSUER, "sub": CRED.split(":")[0] if ok else "",
                    "aud": q.get("service", [""])[0], "exp": now + 300, "nbf": now - 10,
                    "iat": now, "jti": str(uuid.uuid4()), "access": access})
        body = json.dumps({"token": tok, "access_token": tok, "expires_in": 300}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

    def log_message(self, *a): pass

# The default listen backlog (5) drops bursts of concurrent connections.
ThreadingHTTPServer.request_queue_size = 64
srv = ThreadingHTTPServer(("127.0.0.1", int(PORT)), H)
print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
