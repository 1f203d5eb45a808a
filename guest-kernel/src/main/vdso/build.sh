#!/usr/bin/env bash
# Builds the micro guest's vDSO image (vdso.so) into $1 with Debian's gcc and binutils.
# Cached by content hash: the sources and this script decide the output. The image is checked before it is
# installed: an ELF shared object with one PT_LOAD at 0, a dynamic section, DT_HASH and DT_GNU_HASH, the
# version LINUX_2.6, no relocation, no undefined symbol and no writable segment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
mkdir -p "$out"
for tool in gcc ld readelf; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is missing: apt-get install gcc binutils" >&2; exit 1; }
done
hash=$(cat "$here/vdso.c" "$here/vdso_params.h" "$here/vdso.lds" "$0" | sha256sum | cut -c1-16)
if [[ -f "$out/vdso.so" && -f "$out/vdso.so.sha" && "$(cat "$out/vdso.so.sha")" == "$hash" ]]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
die() { echo "vdso build.sh: $*" >&2; exit 1; }
# No stack protector (it reads %fs), no jump tables (data needing relocation), no SSE (the guest runs
# without XSAVE), unwind tables kept for debuggers and profilers (PT_GNU_EH_FRAME), as Linux does.
gcc -O2 -fPIC -nostdlib -ffreestanding -fno-stack-protector -fno-jump-tables -fcf-protection=none \
  -mgeneral-regs-only -fasynchronous-unwind-tables -Wall -Wextra -Werror -c -o "$tmp/vdso.o" "$here/vdso.c"
ld -shared -nostdlib -T "$here/vdso.lds" -soname=linux-vdso.so.1 --hash-style=both --eh-frame-hdr \
  -Bsymbolic -z max-page-size=4096 -z noexecstack --no-undefined --build-id=none -o "$tmp/vdso.so" "$tmp/vdso.o"

elf=$tmp/vdso.so
readelf -h "$elf" | grep -q 'DYN (Shared object file)' || die "not an ELF shared object"
[[ $(readelf -lW "$elf" | grep -c '^ *LOAD') == 1 ]] || die "the image must have exactly one PT_LOAD"
readelf -lW "$elf" | grep -Eq '^ *LOAD +0x0+ 0x0+ 0x0+ .* R E ' || die "the PT_LOAD must start at offset 0, address 0, R E"
readelf -rW "$elf" | grep -q 'There are no relocations in this file' || die "the image has relocations"
dynamic=$(readelf -dW "$elf")
for tag in HASH GNU_HASH SYMTAB STRTAB VERSYM VERDEF SONAME; do
  grep -q "($tag)" <<<"$dynamic" || die "the dynamic section has no DT_$tag"
done
for tag in REL RELA JMPREL TEXTREL NEEDED; do
  ! grep -q "($tag)" <<<"$dynamic" || die "the dynamic section has DT_$tag"
done
symbols=$(readelf --dyn-syms -W "$elf")
! grep -q ' UND [^ ]' <<<"$symbols" || die "undefined symbols"
for name in clock_gettime gettimeofday time clock_getres getcpu; do
  grep -Eq " (GLOBAL|WEAK) +DEFAULT +[0-9]+ __vdso_$name@@LINUX_2.6$" <<<"$symbols" || die "__vdso_$name@@LINUX_2.6 is not exported"
  grep -Eq " (GLOBAL|WEAK) +DEFAULT +[0-9]+ $name@@LINUX_2.6$" <<<"$symbols" || die "$name@@LINUX_2.6 is not exported"
done
size=$(stat -c %s "$elf")
((size <= 8192)) || die "the image is $size bytes; the micro guest maps at most two pages"
cp "$elf" "$out/vdso.so"
echo "$hash" > "$out/vdso.so.sha"
