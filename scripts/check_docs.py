#!/usr/bin/env python3
"""Fail on dead references in README.md and docs/: paths that do not exist, make targets the
Makefile does not define, and README.md longer than its limit.

A path is checked when it is the target of a relative Markdown link (resolved against the file
that holds it) or a code span whose first segment is a top-level entry of the checkout (`src/`,
`crates/`, `docs/`, ..., or `../shared/`), resolved against the checkout. Outputs that only exist
after a run (`figures/output/`, `target/`, `cuda-kit/`, `.venv/`) and spans with placeholders
(`*`, `<`, `$`, `{`, `...`) are not paths to check. `make NAME` anywhere in the text must name a
target of the Makefile.

Usage: scripts/check_docs.py [ROOT]   (exit 1 with one line per dead reference)
"""
import pathlib
import re
import sys

README_MAX_LINES = 220
GENERATED = ("figures/output", "target", "cuda-kit", "cuda-kit-out", ".venv", "python/dist")
PLACEHOLDER = re.compile(r"[*<>${}]|\.\.\.|\s")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
MAKE = re.compile(r"\bmake ([A-Za-z][A-Za-z0-9-]*)")


def doc_files(root):
    yield root / "README.md"
    yield from sorted((root / "docs").rglob("*.md"))


def make_targets(root):
    text = (root / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", text, re.M))


def path_candidates(root, top, text):
    """Code spans that name a file or folder of the checkout (or of ../shared)."""
    for span in CODE_SPAN.findall(text):
        token = span.strip()
        for prefix in ("cargo run --bin ", "python ", "bash "):
            if token.startswith(prefix):
                token = token[len(prefix):].split()[0] if token[len(prefix):] else ""
        if not token or PLACEHOLDER.search(token) or token.startswith(("/", "~", "http")):
            continue
        token = token.split("::")[0].split("#")[0].rstrip(".,;:")
        first = token.split("/")[0]
        if token.startswith("../shared/"):
            yield token
        elif "/" in token and first in top and not token.startswith(GENERATED):
            yield token


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    top = {p.name for p in root.iterdir()} - {"target", ".git"}
    targets = make_targets(root)
    dead = []
    for doc in doc_files(root):
        if not doc.exists():
            continue
        rel = doc.relative_to(root)
        text = doc.read_text()
        for n, line in enumerate(text.split("\n"), 1):
            for link in LINK.findall(line):
                if link.startswith(("http://", "https://", "mailto:", "#")):
                    continue
                target = (doc.parent / link.split("#")[0]).resolve()
                if not target.exists():
                    dead.append(f"{rel}:{n}: link to a missing path: {link}")
            for path in path_candidates(root, top, line):
                if not (root / path).exists():
                    dead.append(f"{rel}:{n}: missing path: {path}")
            for name in MAKE.findall(line):
                if name not in targets:
                    dead.append(f"{rel}:{n}: no make target: make {name}")
        if doc.name == "README.md" and doc.parent == root:
            lines = text.count("\n")
            if lines > README_MAX_LINES:
                dead.append(f"README.md: {lines} lines, over the limit of {README_MAX_LINES}")
    for d in dead:
        print(d)
    checked = sum(1 for d in doc_files(root) if d.exists())
    if dead:
        print(f"check_docs: {len(dead)} dead references in {checked} files", file=sys.stderr)
        return 1
    print(f"check_docs: {checked} files, no dead path, link or make target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
