#!/usr/bin/env python3
"""Writes a tiny, byte-reproducible OCI image layout: tag `single` (one
linux/amd64 manifest) and tag `multi` (an index of linux/amd64 + linux/arm64).

Usage: mklayout.py OUTDIR [TEXT]   -- prints the digests.
TEXT changes the layer content, so different builds get different digests.
Used by the demo and the tests to put real images into a real registry
without a Docker daemon (skopeo copies the layout).
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

root = sys.argv[1]
text = sys.argv[2] if len(sys.argv) > 2 else "hello"
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)


def put(data: bytes):
    digest = hashlib.sha256(data).hexdigest()
    with open(f"{root}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def layer(content: bytes):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        t.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    return put(gzip.compress(tar, mtime=0)), "sha256:" + hashlib.sha256(tar).hexdigest()


def image(arch):
    blob, diff_id = layer(f"{text} {arch}\n".encode())
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob}],
    }, sort_keys=True).encode()
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest),
            "platform": {"architecture": arch, "os": "linux"}}


amd, arm = image("amd64"), image("arm64")
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [amd, arm]}, sort_keys=True).encode()
multi = put(index)
single = {k: v for k, v in amd.items() if k != "platform"}
with open(f"{root}/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {**single, "annotations": {"org.opencontainers.image.ref.name": "single"}},
        {"mediaType": "application/vnd.oci.image.index.v1+json", **multi,
         "annotations": {"org.opencontainers.image.ref.name": "multi"}},
    ]}, f)
with open(f"{root}/oci-layout", "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
print("single", single["digest"])
print("multi", multi["digest"])
print("amd64", amd["digest"])
print("arm64", arm["digest"])
