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
hash=$(cat "$here"/*.c "$here"/dynamic/*.c "$examples"/c-runtime/*.c "$0" | sha256sum | cut -c1-16)
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
# Dynamically linked programs (glibc and musl) in a bundle of their own, and a minimal runtime layer for them:
# each libc's dynamic loader and libc copied from this Debian host, Debian's own /usr/bin/true, and a test library
# with a plugin where each loader looks by default (glibc: /usr/lib/x86_64-linux-gnu; musl: /usr/lib).
layer=$out/libc-layer
mkdir -p "$out/dynamic" "$layer/lib64" "$layer/lib/x86_64-linux-gnu" "$layer/usr/lib/x86_64-linux-gnu" "$layer/usr/bin"
cp -L /lib64/ld-linux-x86-64.so.2 "$layer/lib64/"
cp -L /lib/x86_64-linux-gnu/libc.so.6 "$layer/lib/x86_64-linux-gnu/"
cp -L /lib/ld-musl-x86_64.so.1 "$layer/lib/"
cp -L /bin/true "$layer/usr/bin/true"
glibc_libs=$layer/usr/lib/x86_64-linux-gnu musl_libs=$layer/usr/lib
gcc -O2 -shared -fPIC -o "$glibc_libs/libgreet.so" "$here/dynamic/greet.c"
gcc -O2 -shared -fPIC -o "$glibc_libs/libgreet_plugin.so" "$here/dynamic/plugin.c" -L"$glibc_libs" -lgreet
gcc -O2 -o "$out/dynamic/hello_glibc" "$here/dynamic/dyn_hello.c" -L"$glibc_libs" -lgreet
musl-gcc -O2 -shared -fPIC -o "$musl_libs/libgreet.so" "$here/dynamic/greet.c"
musl-gcc -O2 -shared -fPIC -o "$musl_libs/libgreet_plugin.so" "$here/dynamic/plugin.c" -L"$musl_libs" -lgreet
musl-gcc -O2 -o "$out/dynamic/hello_musl" "$here/dynamic/dyn_hello.c" -L"$musl_libs" -lgreet
# The clock probe, dynamically linked: glibc's ld.so finds the vDSO before main.
gcc -O2 -o "$out/dynamic/clock_probe_glibc" "$here/clock_probe.c"
musl-gcc -O2 -static -o "$out/dynamic/shared_map" "$here/dynamic/shared_map.c"
echo "$hash" > "$out/.sha"
