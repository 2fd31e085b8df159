#!/usr/bin/env python3
"""Generates a deterministic GitOps tree for benches/edit_scan.sh.

usage: gen_gitops_tree.py OUTDIR FILES TOTAL_MB TARGET_IMAGE TARGET_PERCENT

Apps are spread over apps/<team>/<app>/{base,overlays/<env>}; each file is a
Deployment (or ConfigMap or values file) padded with env vars to reach the
average size. TARGET_PERCENT of the files refer to TARGET_IMAGE.
"""
import os
import random
import sys

out, files, total_mb, target, percent = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
rng = random.Random(42)
avg = int(total_mb * 1024 * 1024 / files)
every = max(1, round(100 / percent)) if percent > 0 else 0

def padding(size):
    lines, n = [], 0
    while n < size:
        line = f"        - name: VAR_{len(lines)}_{rng.randrange(10**6)}\n          value: \"{rng.randrange(10**12):x}-{'x' * rng.randrange(10, 60)}\"\n"
        lines.append(line)
        n += len(line)
    return "".join(lines)

def deployment(name, image, size):
    head = (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n"
            f"spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n"
            f"    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n"
            f"      - name: {name}\n        image: {image}\n        env:\n")
    return head + padding(size - len(head))

def configmap(name, size):
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  config.yaml: |\n"
    body = "".join(f"    key{i}: value-{rng.randrange(10**9)}\n" for i in range(size // 26))
    return head + body

written = 0
for i in range(files):
    team, app = f"team{i % 20}", f"svc-{i // 5}"
    env = ["dev", "staging", "prod", "base", "base"][i % 5]
    d = os.path.join(out, "apps", team, app, "overlays" if env != "base" else "", env if env != "base" else "base")
    os.makedirs(d, exist_ok=True)
    size = max(600, int(rng.gauss(avg, avg / 4)))
    if every and i % every == 0:
        text = deployment(app, f"{target}:v1", size)
        fname = f"deployment-{i}.yaml"
    elif i % 3 == 0:
        text = configmap(app, size)
        fname = f"configmap-{i}.yaml"
    else:
        text = deployment(app, f"ghcr.io/acme/{app}:v{i % 7}", size)
        fname = f"deployment-{i}.yaml"
    with open(os.path.join(d, fname), "w") as f:
        f.write(text)
    written += len(text)
print(f"{files} files, {written / 1024 / 1024:.1f} MB, target in {(files + every - 1) // every if every else 0} files")
