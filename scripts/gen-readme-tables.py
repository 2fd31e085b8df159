#!/usr/bin/env python3
"""Prints the README's inputs/outputs tables from action.yml."""
import re

s = open("action.yml").read()
inputs = s[s.index("inputs:"):s.index("outputs:")]
outputs = s[s.index("outputs:"):s.index("runs:")]
pattern = r"^  ([a-z-]+):\n    description: '((?:[^']|'')*)'\n(?:    required: false\n)?(?:    default: (.*)\n)?"


def unquote(text):
    return text.replace("''", "'").replace("|", "\\|")


print("| input | what it does | default |\n|---|---|---|")
for name, desc, default in re.findall(pattern, inputs, re.M):
    default = default.strip("'")
    shown = f"`{default}`" if default else ""
    print(f"| `{name}` | {unquote(desc)} | {shown} |")
print("\n| output | value |\n|---|---|")
for name, desc, _ in re.findall(pattern, outputs, re.M):
    print(f"| `{name}` | {unquote(desc)} |")
