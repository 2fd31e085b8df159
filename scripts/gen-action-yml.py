#!/usr/bin/env python3
# Regenerates action.yml inputs/outputs from the INPUTS table in src/config/inputs.rs.
# Run from the repository root after changing an input; tests check they agree.
import re
src=open('src/config/inputs.rs').read()
consts=dict(re.findall(r'pub const (\w+): &str = "((?:[^"\\]|\\.)*)";',src))
start=src.index('pub const INPUTS')
body=src[start:src.index('\n];',start)]
S=r'"((?:[^"\\]|\\.)*)"'
items=[]
for m in re.finditer(r'(input|secret|list)\(\s*'+S+r',\s*(?:('+S[1:-1].join(['"','"'])+r'|[A-Z_]+),\s*)?(?:Split::\w+,\s*)?'+S+r',?\s*\)',body,re.S):
    kind,name,default,_,help=m.groups()
    if default is None: default=''
    elif default.startswith('"'): default=default[1:-1]
    else: default=consts[default]
    items.append((kind,name,default,help))
def q(s):
    s=s.replace('\\"','"')
    return "'"+s.replace("'","''")+"'"
out=["name: gitops-bump","description: Verify a pushed container image, bump it in GitOps manifests and push the change race-safely, keylessly.","author: gitops-bump","branding:","  icon: git-commit","  color: blue","inputs:"]
for kind,name,default,help in items:
    out.append(f"  {name}:")
    out.append(f"    description: {q(help)}")
    out.append(f"    required: false")
    if name=='token':
        out.append("    default: ${{ github.token }}")
    elif default:
        out.append(f"    default: {q(default)}")
print(len(items))
outputs=[("changed","`true` when a manifest changed (and, unless mode is none, was committed)"),
("commit-sha","SHA of the pushed commit; empty when nothing was committed"),
("digest","Digest of the first image (resolved in the registry when verify is on)"),
("image","Fully qualified first image: registry/repo:tag@sha256:..."),
("images","JSON array, one object per image: name, new_name, tag, digest, previous_tag, previous_digest, files, platforms"),
("previous-tag","Tag of the first image before the bump"),
("previous-digest","Digest of the first image before the bump"),
("files","Changed files, one per line"),
("attempts","Push attempts it took (more than 1 when another pipeline won a race)"),
("pull-request-url","URL of the created or updated pull request (pull-request mode)"),
("pull-request-number","Number of the created or updated pull request (pull-request mode)"),
("access-token","Google access token; only set when token-format is access_token"),
("project-id","Google Cloud project exported to later steps (project-id input, else the service-account's project); only set when known"),
("skipped-reason","Why nothing was bumped although images were given (newer-wins guard, self-trigger guard); empty otherwise"),
]
out.append("outputs:")
for n,d in outputs:
    out.append(f"  {n}:"); out.append(f"    description: {q(d)}")
out += ["runs:","  using: node24","  main: dist/index.js","  post: dist/post.js","  post-if: always()"]
open('action.yml','w').write("\n".join(out)+"\n")
