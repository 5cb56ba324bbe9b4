#!/usr/bin/env bash
# Render SVG figures to PNG for review: scripts/render_svg.sh [FILE.svg ...] (default: every SVG in
# figures/output). Writes FILE.png beside each FILE.svg. Needs rsvg-convert (Debian: librsvg2-bin)
# or ImageMagick's convert.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  set -- figures/output/*.svg
fi
for svg in "$@"; do
  [ -f "$svg" ] || { echo "render_svg: no such file: $svg" >&2; exit 1; }
  png="${svg%.svg}.png"
  if command -v rsvg-convert >/dev/null; then
    rsvg-convert --background-color=white -o "$png" "$svg"
  elif command -v convert >/dev/null; then
    convert -background white "$svg" "$png"
  else
    echo "render_svg: install rsvg-convert (librsvg2-bin) or ImageMagick" >&2
    exit 1
  fi
  echo "$png"
done
