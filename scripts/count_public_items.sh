#!/usr/bin/env bash
# The number of public items of a crate, as rustdoc documents them: one page per struct, enum,
# function, trait, constant, type alias, static or macro reachable from outside the crate
# (redirect stubs for private module paths excluded; methods and fields not counted).
# Usage: scripts/count_public_items.sh [crate]   (default replica-core; builds its docs)
set -euo pipefail
crate="${1:-replica-core}"
dir="${CARGO_TARGET_DIR:-target}/doc/${crate//-/_}"
cargo doc --no-deps --quiet -p "$crate"
find "$dir" -name '*.html' \
  | grep -E '/(struct|enum|fn|trait|constant|type|static|macro)\.[^/]*\.html$' \
  | xargs grep -L 'Redirecting to' | wc -l
