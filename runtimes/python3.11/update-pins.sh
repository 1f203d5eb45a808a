#!/usr/bin/env bash
# Pins the Debian 12 packages of the python3.11 runtime layer to the versions Debian's archive offers today:
# refreshes apt's lists, downloads each package, and rewrites packages.pin (name, version, architecture,
# SHA-256 of the .deb, and whether it goes into the layer or is only a build tool). Commit the new pin file;
# build.sh then builds exactly these packages until the pins change again.
#
# Run it when build.sh says a pinned version has left the archive (Debian replaces a package in
# bookworm-security or at a point release, and the old .deb disappears from deb.debian.org).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pins=$here/packages.pin

# What the layer holds, and why (readelf -d of the interpreter and of every lib-dynload module):
layer=(
  python3.11-minimal     # /usr/bin/python3.11 (libpython linked in) and the core of the standard library
  libpython3.11-minimal  # os, re, encodings, importlib...: what the interpreter needs to start
  libpython3.11-stdlib   # the rest of the standard library and lib-dynload (46 C modules)
  libc6                  # ld.so, libc, libm (every ELF in the layer)
  zlib1g                 # libz.so.1: the interpreter (zlib, gzip, zipimport)
  libexpat1              # libexpat.so.1: the interpreter (pyexpat, xml.*)
  libssl3                # libssl.so.3, libcrypto.so.3: _ssl, _hashlib (http.client imports ssl)
  libffi8                # _ctypes
  libbz2-1.0             # _bz2
  liblzma5               # _lzma
  libsqlite3-0           # _sqlite3
  libuuid1               # _uuid
  libcrypt1              # _crypt
  libncursesw6           # _curses, _curses_panel (small; keeps every shipped module importable)
  libtinfo6              # _curses, readline
  libreadline8           # readline
  tzdata                 # /usr/share/zoneinfo for zoneinfo and time.tzset
  ca-certificates        # the CA bundle that ssl.create_default_context() loads
  media-types            # /etc/mime.types for mimetypes
)
# Only used while building, never shipped: the static ldconfig of the same glibc as the layer's ld.so.
tools=(libc-bin)

[[ $(id -u) == 0 ]] && apt-get update -qq
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "# The Debian 12 packages of the python3.11 runtime layer, written by update-pins.sh; build.sh downloads"
  echo "# exactly these and checks each .deb's SHA-256. Columns: package version architecture sha256 use"
  echo "# (layer: extracted into the layer; tool: only used while building)."
  for use in layer tools; do
    declare -n names=$use
    for name in "${names[@]}"; do
      version=$(apt-cache policy "$name" | awk '/Candidate:/ {print $2}')
      [[ -n $version && $version != "(none)" ]] || { echo "update-pins.sh: Debian's archive has no $name" >&2; exit 1; }
      (cd "$tmp" && apt-get -qq -o APT::Sandbox::User=root download "$name=$version" >/dev/null)
      deb=$(ls "$tmp"/"${name}"_*.deb)
      arch=${deb##*_}; arch=${arch%.deb}
      echo "$name $version $arch $(sha256sum "$deb" | cut -d' ' -f1) ${use%s}"
      rm -f "$deb"
    done
  done
} >"$pins.new"
mv "$pins.new" "$pins"
echo "update-pins.sh: wrote $pins" >&2
