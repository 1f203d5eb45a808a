#!/usr/bin/env bash
# Builds the python3.11 runtime layer: a read-only root tree of Debian 12's python3.11, made from the
# packages pinned in packages.pin. The guest sees the tree as "/" (the function at /var/task, /tmp writable).
#
#   build.sh OUTPUT_DIR
#
# Output: OUTPUT_DIR/python3.11-<hash>/root (the tree), .../layer.txt (what it is made of, sizes), and the
# symbolic link OUTPUT_DIR/python3.11 to the newest build. <hash> covers the pins, this script and the
# bootstrap, so a second run with the same inputs does nothing and prints where the tree is.
#
# Steps: download each pinned .deb (apt-get download, kept in a cache by SHA-256 and checked against the
# pin), dpkg-deb -x, remove what a function never needs, turn every symbolic link into a hard link (the
# guest's file tree has no symbolic links), write /etc/ld.so.cache with the pinned glibc's own ldconfig,
# check that every DT_NEEDED of every ELF resolves through that cache, and precompile the standard library
# (unchecked-hash .pyc: the guest's files have no timestamps). See docs/python-survey.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
pins=$here/packages.pin
cache=${FLICKER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flicker}/debs
die() { echo "python3.11 layer: $*" >&2; exit 1; }
for tool in apt-get apt-cache dpkg-deb readelf sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' is missing (a Debian host with apt and binutils is needed)"
done

hash=$(cat "$pins" "$0" "$here/bootstrap.py" | sha256sum | cut -c1-16)
name=python3.11-$hash
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [[ -f $out/$name/layer.txt ]]; then
  ln -sfn "$name" "$out/python3.11"
  echo "python3.11 layer: up to date at $out/$name/root" >&2
  exit 0
fi

# --- 1. The pinned .deb files, each checked against its SHA-256 -----------------------------------------
mkdir -p "$cache"
declare -a debs=() layer_debs=() missing=()
while read -r pkg version arch sha use; do
  [[ -z $pkg || $pkg == \#* ]] && continue
  [[ $use == layer || $use == tool ]] || die "packages.pin: bad line for $pkg (use must be layer or tool)"
  file=$cache/${pkg}_${version//:/%3a}_${arch}.deb
  debs+=("$pkg|$version|$sha|$file|$use")
  if [[ ! -f $file ]] || [[ $(sha256sum "$file" | cut -d' ' -f1) != "$sha" ]]; then
    rm -f "$file"
    missing+=("$pkg=$version")
  fi
done <"$pins"
((${#debs[@]})) || die "packages.pin lists no package"

# apt-get download can only fetch versions that apt's lists know; refresh them once if some are unknown.
unknown() { # (apt-cache show PKG=VERSION prints nothing, successfully, for a version it does not know)
  local spec
  for spec in "${missing[@]}"; do
    grep -qx "Version: ${spec#*=}" <<<"$(apt-cache show --no-all-versions "$spec" 2>/dev/null)" || echo "$spec"
  done
}
if ((${#missing[@]})); then
  gone=$(unknown)
  if [[ -n $gone && $(id -u) == 0 ]]; then
    echo "python3.11 layer: refreshing apt's lists for $(echo $gone)" >&2
    apt-get update -qq || true
    gone=$(unknown)
  fi
  if [[ -n $gone ]]; then
    for spec in $gone; do
      echo "python3.11 layer: Debian's archive no longer offers ${spec%%=*} ${spec#*=} (apt-cache policy ${spec%%=*} shows what it has)." >&2
    done
    die "update the pins with runtimes/python3.11/update-pins.sh (as root, it refreshes apt's lists), check that the layer's test passes, and commit runtimes/python3.11/packages.pin"
  fi
  echo "python3.11 layer: downloading ${#missing[@]} packages into $cache" >&2
  (cd "$cache" && apt-get -qq -o APT::Sandbox::User=root download "${missing[@]}" >/dev/null) ||
    die "apt-get download failed for ${missing[*]}"
fi
for entry in "${debs[@]}"; do
  IFS='|' read -r pkg version sha file use <<<"$entry"
  [[ -f $file ]] || die "apt-get download did not produce $file"
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  if [[ $actual != "$sha" ]]; then
    rm -f "$file"
    die "$pkg $version: the downloaded .deb has SHA-256 $actual, packages.pin says $sha. The archive changed a published version: do not build from it; check, then re-pin with update-pins.sh"
  fi
  [[ $use == layer ]] && layer_debs+=("$file")
done

# --- 2. Extract ---------------------------------------------------------------------------------------------
work=$out/.$name.tmp.$$
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root" "$work/tools"
for file in "${layer_debs[@]}"; do dpkg-deb -x "$file" "$root"; done
for entry in "${debs[@]}"; do
  IFS='|' read -r pkg version sha file use <<<"$entry"
  [[ $use == tool ]] && dpkg-deb -x "$file" "$work/tools"
done
size_extracted=$(du -sb "$root" | cut -f1)

# --- 3. What a function never needs -------------------------------------------------------------------------
# The CA bundle first, as ca-certificates' postinst (update-ca-certificates) would build it; then OpenSSL's
# default file (OPENSSLDIR is /usr/lib/ssl) names the same bytes, so ssl's default context verifies.
mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl"
find "$root/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$root/etc/ssl/certs/ca-certificates.crt"
ln "$root/etc/ssl/certs/ca-certificates.crt" "$root/usr/lib/ssl/cert.pem"
rm -rf "$root"/usr/share/{doc,man,info,lintian,bug,applications,pixmaps,binfmts,readline,ca-certificates} \
  "$root"/usr/lib/binfmt.d "$root"/usr/sbin "$root"/etc/ca-certificates* \
  "$root"/usr/lib/x86_64-linux-gnu/{gconv,engines-3,ossl-modules} \
  "$root"/usr/share/zoneinfo/right "$root"/usr/share/zoneinfo/posix \
  "$root"/usr/lib/python3.11/test "$root"/usr/lib/python3.11/pydoc_data \
  "$root"/usr/bin/pdb3.11 "$root"/usr/bin/pydoc3.11 "$root"/usr/bin/pygettext3.11 \
  "$root"/usr/lib/python3.11/sitecustomize.py "$root"/etc/python3.11
# gconv: iconv's character sets; Python has its own codecs and never calls iconv.
# engines-3, ossl-modules: OpenSSL engines and the legacy provider, loaded only when openssl.cnf says so.
# zoneinfo right/ and posix/: leap-second and duplicate trees; zoneinfo keys name the main tree.
# sitecustomize.py: Debian's hook tries to import apport_python_hook on every start.
# glibc's debugging and legacy libraries (NSS files and dns are built into libc.so.6 since glibc 2.34):
rm -f "$root"/lib/x86_64-linux-gnu/{libc_malloc_debug.so.0,libmemusage.so,libpcprofile.so,libthread_db.so.1} \
  "$root"/lib/x86_64-linux-gnu/{libBrokenLocale.so.1,libnsl.so.1,libnss_compat.so.2,libnss_hesiod.so.2} \
  "$root"/lib/x86_64-linux-gnu/{libnss_files.so.2,libnss_dns.so.2}
# Modules whose libraries the layer leaves out on purpose: nis (libnsl2, libtirpc3 and Kerberos; NIS has no
# use in a function and is gone from Python 3.13) and _dbm (Berkeley DB 5.3, 1.8 MB; dbm falls back to
# dbm.dumb). Removing the module makes their import a clean ModuleNotFoundError instead of a loader error.
rm -f "$root"/usr/lib/python3.11/lib-dynload/{nis,_dbm}.cpython-311-x86_64-linux-gnu.so
# The runtime's bootstrap, where Lambda keeps its own.
mkdir -p "$root/var/runtime"
cp "$here/bootstrap.py" "$root/var/runtime/bootstrap.py"

# --- 4. No symbolic links: each becomes a hard link to what it names ---------------------------------------
# Resolved inside the tree (an absolute target is relative to the tree's root), never on the host.
inside() { # a symbolic link's final target, as a path under $root
  local path=$1 target hops
  for hops in $(seq 1 40); do
    [[ -L $path ]] || { realpath -m -s "$path"; return; }
    target=$(readlink "$path")
    if [[ $target == /* ]]; then path=$root$target; else path=$(dirname "$path")/$target; fi
    path=$(realpath -m -s "$path")
  done
  die "symbolic link loop at $1"
}
while IFS= read -r -d '' link; do
  target=$(inside "$link")
  [[ $target == "$root"/* ]] || die "${link#$root} points outside the layer"
  if [[ -d $target ]]; then die "${link#$root} is a link to a directory: flatten it in build.sh"; fi
  if [[ ! -e $target ]]; then rm "$link"; continue; fi  # dangling: points at something removed above
  ln -f "$target" "$link"
done < <(find "$root" -type l -print0)
[[ -z $(find "$root" -type l) ]] || die "symbolic links remain"
size_stripped=$(du -sb "$root" | cut -f1)

# --- 5. /etc/ld.so.cache: the dynamic loader opens each library by its cached path, with no probing -------
printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu >"$root/etc/ld.so.conf"
rm -rf "$root/etc/ld.so.conf.d"
ldconfig=$work/tools/sbin/ldconfig
[[ -x $ldconfig ]] || die "the pinned libc-bin has no sbin/ldconfig"
"$ldconfig" -X -r "$root" # -X: the links are already there (as hard links)
cached=$("$ldconfig" -p -C "$root/etc/ld.so.cache" | awk '/=>/ {print $1, $NF}')
# Every DT_NEEDED of every ELF in the layer must be in the cache, as a file of the layer.
while IFS= read -r -d '' elf; do
  [[ $(head -c4 "$elf" | od -An -c | tr -d ' ') == '177ELF' ]] || continue
  for needed in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ $needed == ld-linux-x86-64.so.2 ]] && continue
    path=$(awk -v n="$needed" '$1 == n {print $2; exit}' <<<"$cached")
    [[ -n $path && -f $root$path ]] || die "${elf#$root} needs $needed, which the layer's ld.so.cache does not hold"
  done
done < <(find "$root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -print0)

# --- 6. Precompiled standard library -----------------------------------------------------------------------
# unchecked-hash: the .pyc is used without looking at the source's timestamp (the guest's files have none,
# and the layer never changes); -s/-p record guest paths (/usr/lib/...) rather than this build directory.
ldso=$root/lib64/ld-linux-x86-64.so.2
libs=$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu
# PYTHONDONTWRITEBYTECODE: the modules compileall itself imports would otherwise get timestamp .pyc files as the
# interpreter loads them, which compileall then finds up to date and keeps; in the guest (timestamps 0) those are stale,
# and each such module is compiled from source at every start. -f rewrites anything there anyway.
env -i PYTHONHOME="$root/usr" PYTHONDONTWRITEBYTECODE=1 "$ldso" --library-path "$libs" "$root/usr/bin/python3.11" -s \
  -m compileall -q -f -j 0 --invalidation-mode unchecked-hash -s "$root" -p / "$root/usr/lib/python3.11" "$root/var/runtime" >&2 ||
  die "compileall failed"

# --- 7. Read-only, recorded, in place -----------------------------------------------------------------------
find "$root" -type f -exec chmod a-w {} +
size_final=$(du -sb "$root" | cut -f1)
{
  echo "python3.11 runtime layer $hash"
  echo "bytes_extracted $size_extracted"
  echo "bytes_stripped $size_stripped"
  echo "bytes_final $size_final"
  echo "files $(find "$root" -type f | wc -l)"
  grep -v '^#' "$pins"
} >"$work/layer.txt"
rm -rf "${out:?}/$name"
mv "$work" "$out/$name"
trap - EXIT
for old in "$out"/python3.11-*; do [[ $old == "$out/$name" ]] || rm -rf "$old"; done
ln -sfn "$name" "$out/python3.11"
echo "python3.11 layer: built $out/$name/root: $((size_extracted / 1024)) KiB extracted, $((size_stripped / 1024)) KiB stripped, $((size_final / 1024)) KiB with the .pyc files" >&2
