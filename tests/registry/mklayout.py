# mklayout.py OUTDIR: a deterministic OCI layout (gzip mtime=0, tar mtime=0) with
# tags "single" (linux/amd64) and "multi" (an index of linux/amd64 + linux/arm64).
import gzip, hashlib, io, json, os, sys, tarfile

root = sys.argv[1]
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)

def put(data: bytes):
    d = hashlib.sha256(data).hexdigest()
    with open(f"{root}/blobs/sha256/{d}", "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{d}", "size": len(data)}

def layer(content: bytes):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("hello.txt"); ti.size = len(content); ti.mtime = 0; ti.mode = 0o644
        t.addfile(ti, io.BytesIO(content))
    tar = raw.getvalue()
    gz = gzip.compress(tar, mtime=0)           # deterministic
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    return put(gz), diff_id

def image(arch, text):
    l, diff_id = layer(text.encode())
    cfg = json.dumps({"architecture": arch, "os": "linux",
                      "config": {"Cmd": ["/hello"]},
                      "rootfs": {"type": "layers", "diff_ids": [diff_id]}}, sort_keys=True).encode()
    c = put(cfg)
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **l}]},
                     sort_keys=True).encode()
    m = put(man)
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
            "platform": {"architecture": arch, "os": "linux"}}

amd = image("amd64", "hello amd64\n")
arm = image("arm64", "hello arm64\n")
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": [amd, arm]}, sort_keys=True).encode()
i = put(idx)
single = {k: v for k, v in amd.items() if k != "platform"}
layout_index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {**single, "annotations": {"org.opencontainers.image.ref.name": "single"}},
    {"mediaType": "application/vnd.oci.image.index.v1+json", **i,
     "annotations": {"org.opencontainers.image.ref.name": "multi"}},
]}
json.dump(layout_index, open(f"{root}/index.json", "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(f"{root}/oci-layout", "w"))
print("single", single["digest"]); print("multi ", i["digest"])
print("amd64 ", amd["digest"]); print("arm64 ", arm["digest"])
