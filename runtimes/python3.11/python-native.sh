#!/usr/bin/env bash
# Runs the layer's python3.11 natively on the host, outside any VM: for smoke tests and surveys.
#
#   python-native.sh LAYER_ROOT [PYTHON_ARGS...]
#       Any user. The layer's own ld.so loads the interpreter with --library-path (the layer's ld.so.cache is
#       not used), PYTHONHOME is the layer's /usr, and the CA bundle and time zones are the layer's
#       (SSL_CERT_FILE, PYTHONTZPATH). Other absolute paths (/etc, /dev) are the host's.
#   python-native.sh --chroot LAYER_ROOT [PYTHON_ARGS...]
#       Root only. chroot into the layer: every path is the guest's, and ld.so finds libraries through the
#       layer's /etc/ld.so.cache, as in the micro guest. There is no /proc, /dev or /tmp (as in the guest,
#       only /tmp and a few /dev files exist there).
#
# The environment is emptied except for LANG=C.UTF-8 and what the caller passes as NAME=VALUE arguments in
# FLICKER_ENV (space-separated), so the host's PYTHON* variables never leak in.
set -euo pipefail
mode=ldso
if [[ ${1:-} == --chroot ]]; then mode=chroot; shift; fi
root=${1:?usage: python-native.sh [--chroot] LAYER_ROOT [PYTHON_ARGS...]}
shift
root=$(cd "$root" && pwd)
[[ -x $root/usr/bin/python3.11 ]] || { echo "python-native.sh: $root is not a python3.11 layer" >&2; exit 2; }
read -r -a extra <<<"${FLICKER_ENV:-}"
if [[ $mode == chroot ]]; then
  exec env -i LANG=C.UTF-8 "${extra[@]}" /usr/sbin/chroot "$root" /usr/bin/python3.11 "$@"
fi
exec env -i LANG=C.UTF-8 PYTHONHOME="$root/usr" SSL_CERT_FILE="$root/etc/ssl/certs/ca-certificates.crt" \
  PYTHONTZPATH="$root/usr/share/zoneinfo" "${extra[@]}" \
  "$root/lib64/ld-linux-x86-64.so.2" --library-path "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu" \
  "$root/usr/bin/python3.11" "$@"
