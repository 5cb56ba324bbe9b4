#!/usr/bin/env bash
# The Python package's tests against its built wheel, as a user without Rust gets it.
#
#   scripts/python_wheel_test.sh DIST_DIR [PYTHON]
#
# Checks the one wheel in DIST_DIR (abi3 for CPython >= 3.9, tagged manylinux2014, licence files
# in its metadata, the extension stripped), installs it into a fresh virtual environment made by
# PYTHON (default python3) under a temporary folder, with pytest, numpy and safetensors from PyPI,
# and runs python/tests, the package's doctests and mypy.stubtest there with every folder holding
# cargo or rustc removed from PATH (the
# test asserts that neither can be found, and that replica_mi is imported from the wheel, not
# from the source tree). Exit status: pytest's (5, no test collected, fails too), or 1 when a
# check of the wheel fails. REPLICA_MI_BIN (the command line, for the tests comparing with it) is
# passed through.
set -euo pipefail
dist=${1:?usage: $0 DIST_DIR [PYTHON]}
python=${2:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
wheels=("$dist"/*.whl)
if [ ${#wheels[@]} -ne 1 ]; then
  echo "python_wheel_test: expected one wheel in $dist, found ${#wheels[@]}" >&2
  exit 1
fi
wheel=$(cd "$(dirname "${wheels[0]}")" && pwd)/$(basename "${wheels[0]}")
echo "== wheel $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"

# the wheel itself: tags, licence, stripped extension
"$python" - "$wheel" <<'EOF'
import sys, zipfile, tempfile, subprocess, os
whl = sys.argv[1]
name = os.path.basename(whl)
errors = []
tags = name[:-4].split("-")[-3:]
if tags[0] != "cp39" or tags[1] != "abi3":
    errors.append(f"not an abi3 wheel for cp39+: {tags}")
if "manylinux2014_x86_64" not in tags[2] and "manylinux_2_17_x86_64" not in tags[2]:
    errors.append(f"platform tag {tags[2]} is not manylinux2014 (glibc 2.17)")
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    meta = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = z.read(meta[0]).decode() if meta else ""
    for lic in ("LICENSE-MIT", "LICENSE-APACHE"):
        if not any(n.endswith("/" + lic) for n in names):
            errors.append(f"{lic} missing from the wheel")
    for field in ("License-Expression: MIT OR Apache-2.0", "Summary: ", "Description-Content-Type: text/markdown", "Requires-Python: >=3.9", "Project-URL: Paper, https://arxiv.org/abs/1805.09785"):
        if field not in text:
            errors.append(f"METADATA lacks {field!r}")
    so = [n for n in names if n.endswith(".so")]
    if len(so) != 1:
        errors.append(f"expected one extension module, found {so}")
    else:
        with tempfile.TemporaryDirectory() as d:
            path = z.extract(so[0], d)
            # a stripped shared library has no .symtab section (only the dynamic symbols)
            with open(path, "rb") as f:
                if b".symtab" in f.read():
                    errors.append(f"{so[0]} is not stripped (.symtab present)")
            # glibc symbol versions: none newer than 2.17
            out = subprocess.run(["objdump", "-T", path], capture_output=True, text=True)
            if out.returncode == 0:
                import re
                vers = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", out.stdout)}
                if vers and max(vers) > (2, 17):
                    errors.append(f"needs GLIBC_{'.'.join(map(str, max(vers)))} (> 2.17)")
for e in errors:
    print("python_wheel_test:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
echo "== tags, licence files, metadata, stripped extension: ok"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip
"$tmp/venv/bin/pip" install --quiet "$wheel" 'pytest>=7' safetensors mypy

# PATH without any folder that holds cargo or rustc (rustup's shims included)
clean=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ]; then continue; fi
  clean="${clean:+$clean:}$d"
done
export PATH="$tmp/venv/bin:$clean"
if command -v cargo >/dev/null || command -v rustc >/dev/null; then
  echo "python_wheel_test: cargo or rustc still on PATH" >&2
  exit 1
fi
cd "$tmp"
python - <<'EOF'
import replica_mi, os, sys
where = os.path.realpath(replica_mi.__file__)
assert where.startswith(os.path.realpath(sys.prefix)), f"replica_mi imported from {where}, not the venv"
print(f"== replica_mi {replica_mi.__version__} from {os.path.dirname(where)}; no cargo/rustc on PATH")
EOF
# replica_mi.torch is optional (torch is not installed here): it has no stubs of its own, mypy
# skips it and stubtest does not import it; python-torch-test covers it with torch installed.
echo "== stubs against the installed module (mypy.stubtest; replica_mi.torch left out)"
printf '[mypy]\n\n[mypy-replica_mi.torch]\nignore_errors = True\nfollow_imports = skip\n' > "$tmp/mypy.ini"
printf 'replica_mi.torch\n' > "$tmp/stubtest-allowlist.txt"
python -m mypy.stubtest replica_mi --mypy-config-file "$tmp/mypy.ini" --allowlist "$tmp/stubtest-allowlist.txt"
pkg=$(python -c 'import os, replica_mi; print(os.path.dirname(replica_mi.__file__))')
echo "== pytest against the installed wheel: python/tests and the package's doctests"
set +e
python -m pytest -q -p no:cacheprovider --rootdir "$repo/python" --doctest-modules \
  --ignore="$pkg/torch.py" "$repo/python/tests" "$pkg"
status=$?
set -e
exit $status
