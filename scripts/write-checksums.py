#!/usr/bin/env python3
"""Writes dist/checksums.json for the binaries in dist/bin (release workflow).

Usage: write-checksums.py VERSION DIST_DIR
The node entry (dist/index.js) refuses any binary whose SHA-256 differs.
"""
import hashlib
import json
import os
import sys

version, dist = sys.argv[1], sys.argv[2]
binaries = {}
for name in sorted(os.listdir(os.path.join(dist, "bin"))):
    key = name.removeprefix("gitops-bump-").removesuffix(".exe")
    with open(os.path.join(dist, "bin", name), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    binaries[key] = {"file": f"bin/{name}", "sha256": digest}
with open(os.path.join(dist, "checksums.json"), "w") as f:
    json.dump({"version": version, "binaries": binaries}, f, indent=2)
    f.write("\n")
print(json.dumps(binaries, indent=2))
