#!/usr/bin/env bash
# Builds the host-side tests of the vDSO image into $1: vdso_test (maps the image and checks every function),
# vdso_launch (starts a program with the image as its vDSO) and vdso_probe three ways (glibc dynamic, glibc
# static, musl static) for vdso_launch to start. Cached by content hash of the sources.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
vdso_src=$(cd "$here/../../../main/vdso" && pwd)
for tool in gcc musl-gcc; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is missing: apt-get install gcc musl-tools (./flicker test installs them)" >&2; exit 1; }
done
hash=$(cat "$here"/*.c "$here"/*.h "$vdso_src/vdso_params.h" "$0" | sha256sum | cut -c1-16)
[[ -f "$out/.sha" && "$(cat "$out/.sha")" == "$hash" ]] && exit 0
rm -rf "$out"; mkdir -p "$out"
flags=(-O2 -Wall -Wextra -Werror -I"$vdso_src" -I"$here")
gcc "${flags[@]}" -pthread -o "$out/vdso_test" "$here/vdso_test.c"
gcc "${flags[@]}" -o "$out/vdso_launch" "$here/vdso_launch.c"
gcc "${flags[@]}" -o "$out/vdso_probe_glibc_dynamic" "$here/vdso_probe.c"
gcc "${flags[@]}" -static -o "$out/vdso_probe_glibc_static" "$here/vdso_probe.c"
musl-gcc -O2 -Wall -Werror -static -o "$out/vdso_probe_musl_static" "$here/vdso_probe.c"
echo "$hash" > "$out/.sha"
