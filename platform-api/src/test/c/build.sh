#!/usr/bin/env bash
# Builds the platform's own test runtimes into $1/<name>/bootstrap (musl-gcc -static), each a bundle of its own.
# Cached by content hash of the sources, so an unchanged tree builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
command -v musl-gcc >/dev/null || { echo "build.sh: musl-gcc is missing: apt-get install musl-tools (./flicker test installs it)" >&2; exit 1; }
hash=$(cat "$here"/*.c "$0" | sha256sum | cut -c1-16)
[[ -f "$out/.sha" && "$(cat "$out/.sha")" == "$hash" ]] && exit 0
rm -rf "$out"
for src in "$here"/*.c; do
  name=$(basename "$src" .c)
  mkdir -p "$out/${name//_/-}"
  musl-gcc -O2 -static -Wall -Werror -o "$out/${name//_/-}/bootstrap" "$src"
done
echo "$hash" > "$out/.sha"
