#!/usr/bin/env bash
# Builds the micro guest image (guest.elf) into $1 with Debian's gcc and binutils.
# Cached by content hash: the sources and this script decide the output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
mkdir -p "$out"
for tool in gcc ld; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is missing: apt-get install gcc binutils" >&2; exit 1; }
done
hash=$(cat "$here/guest.S" "$here/hostcall.h" "$here/guest.ld" "$0" | sha256sum | cut -c1-16)
if [[ -f "$out/guest.elf" && -f "$out/guest.elf.sha" && "$(cat "$out/guest.elf.sha")" == "$hash" ]]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -c -nostdlib -fno-pic -I"$here" -o "$tmp/guest.o" "$here/guest.S"
ld -nostdlib -static -z max-page-size=4096 -T "$here/guest.ld" -o "$tmp/guest.elf" "$tmp/guest.o"
cp "$tmp/guest.elf" "$out/guest.elf"
echo "$hash" > "$out/guest.elf.sha"
