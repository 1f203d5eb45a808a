#!/usr/bin/env bash
# Builds the static test programs into $1/musl and $1/glibc (musl-gcc from Debian's musl-tools, and gcc -static).
# Cached by content hash of the sources, so an unchanged tree builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
for tool in gcc musl-gcc; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is missing: apt-get install gcc musl-tools (./flicker test installs them)" >&2; exit 1; }
done
examples=$(cd "$here/../../../../examples" && pwd)
hash=$(cat "$here"/*.c "$examples"/c-runtime/*.c "$0" | sha256sum | cut -c1-16)
[[ -f "$out/.sha" && "$(cat "$out/.sha")" == "$hash" ]] && exit 0
rm -rf "$out"; mkdir -p "$out/musl" "$out/glibc" "$out/pie"
for src in "$here"/*.c; do
  name=$(basename "$src" .c)
  musl-gcc -O2 -static -o "$out/musl/$name" "$src"
  gcc -O2 -static -o "$out/glibc/$name" "$src"
done
# The example custom runtime (examples/c-runtime), as a Lambda "provided" bundle's bootstrap.
mkdir -p "$out/c-runtime"
musl-gcc -O2 -static -Wall -Werror -o "$out/c-runtime/bootstrap" "$examples/c-runtime/bootstrap.c"
# A runtime whose handler never returns, as a bundle of its own (for timeout tests).
mkdir -p "$out/hang-runtime"
cp "$out/musl/hang_runtime" "$out/hang-runtime/bootstrap"
# A hostile tenant's runtime (attack_runtime.c), as a bundle of its own.
mkdir -p "$out/attack-runtime"
cp "$out/musl/attack_runtime" "$out/attack-runtime/bootstrap"
# static-PIE (ET_DYN without an interpreter)
gcc -O2 -static-pie -fPIE -o "$out/pie/hello" "$here/hello.c"
echo "$hash" > "$out/.sha"
