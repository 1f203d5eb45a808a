#!/usr/bin/env bash
# The survey behind docs/python-survey.md: what the layer's python3.11 asks of the kernel, natively under
# strace, in a chroot of the layer (the guest's paths, its ld.so.cache, no /proc or /dev).
#
#   survey.sh LAYER_ROOT OUTPUT_DIR        (root: chroot; needs strace, gcc and a host python3)
#
# Runs (a) python3.11 -c pass and (b) the runtime's bootstrap.py over 3 events from a fake Runtime API on
# 127.0.0.1:9001 (SURVEY_PORT), each twice: as is (clock reads go to the host's vDSO and do not show, which is
# the picture with a vDSO), and with novdso.so preloaded (every clock read is a system call, the picture
# without one). Then (b) once more with every system call the micro guest does not implement forced to
# ENOSYS. Last, start-up times with and without the layer's .pyc files (timing.txt). Writes the traces,
# their summaries (*.md) and the headline numbers (summary.txt) to OUTPUT_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "${1:?usage: survey.sh LAYER_ROOT OUTPUT_DIR}" && pwd)
out=${2:?usage: survey.sh LAYER_ROOT OUTPUT_DIR}
port=${SURVEY_PORT:-9001}
[[ $(id -u) == 0 ]] || { echo "survey.sh: chroot needs root" >&2; exit 1; }
for tool in strace gcc python3; do command -v $tool >/dev/null || { echo "survey.sh: $tool is missing" >&2; exit 1; }; done
rm -rf "$out"; mkdir -p "$out"
out=$(cd "$out" && pwd)

# A scratch copy of the layer (hard links: no bytes copied) with what the guest adds: /var/task, /tmp.
jail=$out/jail
cp -al "$root" "$jail"
mkdir -p "$jail/var/task" "$jail/tmp"
cp "$here/app.py" "$jail/var/task/"
gcc -O2 -shared -fPIC -o "$out/novdso.so" "$here/novdso.c"

# Lambda's environment, as the runtime will set it (TZ=:UTC as on Lambda; LANG C.UTF-8: the layer has no
# other locale).
lambda_env=(PATH=/usr/bin:/bin LANG=C.UTF-8 TZ=:UTC LAMBDA_TASK_ROOT=/var/task _HANDLER=app.handler
  AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port AWS_LAMBDA_FUNCTION_NAME=survey AWS_LAMBDA_FUNCTION_VERSION='$LATEST'
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/survey
  AWS_LAMBDA_LOG_STREAM_NAME=survey-stream)
# The system calls of the micro guest's table (docs/syscalls.md); everything else is ENOSYS there.
guest_calls=" read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
  rt_sigprocmask ioctl pread64 pwrite64 readv writev access sched_yield mremap madvise dup dup2 nanosleep getpid
  socket connect sendto recvfrom shutdown getsockname getpeername setsockopt getsockopt exit uname fcntl
  ftruncate getcwd chdir mkdir unlink readlink umask gettimeofday getrlimit sysinfo getuid getgid geteuid
  getegid getppid sigaltstack arch_prctl gettid time futex sched_getaffinity getdents64 set_tid_address
  clock_gettime clock_getres clock_nanosleep exit_group openat mkdirat newfstatat unlinkat readlinkat faccessat
  set_robust_list dup3 prlimit64 getrandom statx rseq faccessat2 "

trace() { # NAME [strace options...] -- PYTHON_ARGS...
  local name=$1; shift
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  # In a private mount namespace the jail is read-only and /tmp a tmpfs, as in the guest (EROFS elsewhere).
  # The shim is preloaded with strace -E, so that only the traced command sees LD_PRELOAD.
  env -i "${lambda_env[@]}" JAIL="$jail" SHIM="$out/novdso.so" \
    unshare -m sh -c 'mount --bind -o ro "$JAIL" "$JAIL" && mount -t tmpfs -o size=16m tmpfs "$JAIL/tmp" &&
      cp "$SHIM" "$JAIL/tmp/novdso.so" && unset JAIL SHIM && exec "$@"' sh \
    strace -f -y -s 256 -o "$out/$name.trace" ${PRELOAD:+-E LD_PRELOAD=$PRELOAD} "${opts[@]}" \
    /usr/sbin/chroot "$jail" /usr/bin/python3.11 "$@" \
    >"$out/$name.stdout" 2>"$out/$name.stderr" || echo "exit $?" >>"$out/$name.stderr"
}

bootstrap() { # NAME [strace options...]: the bootstrap over 3 events
  local name=$1; shift
  python3 "$here/fake_runtime_api.py" "$port" 3 "$out/$name.api.jsonl" >"$out/$name.api.out" &
  local api=$!
  for _ in $(seq 1 100); do grep -q ready "$out/$name.api.out" 2>/dev/null && break; sleep 0.05; done
  trace "$name" "$@" -- /var/runtime/bootstrap.py
  wait $api || true
  [[ $(grep -c '/response"' "$out/$name.api.jsonl") == 3 ]] || { echo "survey.sh: $name did not answer 3 events" >&2; exit 1; }
}

trace a-pass -- -c pass
PRELOAD=/tmp/novdso.so trace a-pass-novdso -- -c pass
bootstrap b-bootstrap
PRELOAD=/tmp/novdso.so bootstrap b-bootstrap-novdso

# (c): every call the micro guest lacks, as used in (b), forced to ENOSYS.
lacking=$(python3 - "$out/b-bootstrap.trace" "$guest_calls" <<'EOF'
import re, sys
seen, started, guest = set(), False, set(sys.argv[2].split())
for line in open(sys.argv[1]):
    m = re.match(r"^\d+\s+(\w+)\(", line)
    if not m:
        continue
    if not started:
        started = line.split()[1].startswith('execve("/usr/bin/python3.11"')
        continue
    seen.add(m.group(1))
print(" ".join(sorted(seen - guest)))
EOF
)
echo "$lacking" >"$out/c-lacking.txt"
inject=()
for call in $lacking; do inject+=(-e "inject=$call:error=ENOSYS:when=1+"); done
# strace injects into the chroot binary too; it makes none of these calls (only python does).
bootstrap c-bootstrap-enosys "${inject[@]}"

for name in a-pass a-pass-novdso; do python3 "$here/analyze.py" "$out/$name.trace" --jail="$jail" >"$out/$name.md"; done
for name in b-bootstrap b-bootstrap-novdso c-bootstrap-enosys; do python3 "$here/analyze.py" "$out/$name.trace" --next --jail="$jail" >"$out/$name.md"; done

# Start-up time with and without the layer's .pyc files: the median of 21 native runs in a read-only chroot
# (without them every import compiles its source, and cannot save the result: EROFS, as in the guest).
bare=$out/jail-without-pyc
cp -al "$jail" "$bare"
find "$bare" -name __pycache__ -type d -prune -exec rm -rf {} +
imports="import json, re, datetime, zoneinfo, hashlib, hmac, base64, decimal, sqlite3, urllib.parse, http.client, ssl, uuid, random, os"
median_ms() { # JAIL ARGS...: median wall time of 21 runs, in ms
  local dir=$1; shift
  env -i "${lambda_env[@]}" JAIL="$dir" unshare -m sh -c 'mount --bind -o ro "$JAIL" "$JAIL" && j=$JAIL && unset JAIL &&
    for i in $(seq 21); do s=$(date +%s%N); /usr/sbin/chroot "$j" /usr/bin/python3.11 "$@" >/dev/null || exit 1; echo $(( $(date +%s%N) - s )); done' sh "$@" |
    sort -n | sed -n 11p | awk '{printf "%.1f", $1 / 1e6}'
}
{
  echo "start-up, median of 21 native runs (ms): with .pyc | without .pyc"
  echo "python3.11 -c pass: $(median_ms "$jail" -c pass) | $(median_ms "$bare" -c pass)"
  echo "python3.11 -c '$imports': $(median_ms "$jail" -c "$imports") | $(median_ms "$bare" -c "$imports")"
} >"$out/timing.txt"

{
  echo "lacking in the micro guest (forced to ENOSYS in c): $lacking"
  for name in a-pass a-pass-novdso b-bootstrap b-bootstrap-novdso c-bootstrap-enosys; do
    grep '^### ' "$out/$name.md" | sed "s/^### /$name: /"
  done
  cat "$out/timing.txt"
} >"$out/summary.txt"
cat "$out/summary.txt"
