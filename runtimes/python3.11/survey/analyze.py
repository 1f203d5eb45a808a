"""Summarises an `strace -f -y` log of the layer's python3.11 (run by survey.sh), as Markdown.

    python3 analyze.py TRACE [--next] [--jail=DIR]

Counts start after the execve of /usr/bin/python3.11. With --next, the trace is cut into phases at every
request for the next event (a write of "GET /2018-06-01/runtime/invocation/next"): "init" is everything up to
and including the first, then one phase per invocation. --jail=DIR removes the chroot's directory from the
paths strace -y shows, so that they read as the guest's.
"""
import collections
import re
import sys

LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)\)\s+=\s+(.*)$")
NEXT = "GET /2018-06-01/runtime/invocation/next"
PATH_CALLS = {"open", "openat", "stat", "lstat", "newfstatat", "access", "faccessat", "faccessat2", "readlink",
              "readlinkat", "statx", "mkdir", "mkdirat", "unlink", "unlinkat", "chdir", "execve"}


def split_args(text):
    """Top-level comma split that respects quotes, brackets and braces."""
    args, depth, current, quoted, escaped = [], 0, [], False, False
    for ch in text:
        if quoted:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if current:
        args.append("".join(current).strip())
    return args


def parse(path, jail):
    calls, started = [], False
    for raw in open(path, encoding="utf-8", errors="replace"):
        if jail:
            raw = raw.replace(jail, "")
        raw = re.sub(r"\{st_mode=(S_IF\w+)[^{}]*\}", r"{\1…}", raw)
        raw = re.sub(r"\{tv_sec=\d+, tv_n?sec=\d+\}", "{…}", raw)
        raw = re.sub(r"<[^<>]*\.(stdout|stderr)>", r"<\1 (a file)>", raw)
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        _, name, args, result = m.groups()
        if not started:
            if name == "execve" and '"/usr/bin/python3.11"' in args.split(",")[0] and result.startswith("0"):
                started = True
            continue
        calls.append((name, split_args(args), result))
    if not started:
        sys.exit(f"analyze.py: no execve of /usr/bin/python3.11 in {path}")
    return calls


def phases(calls, by_next):
    if not by_next:
        return [("whole run", calls)]
    out, current, index = [], [], 0
    for call in calls:
        current.append(call)
        name, args, _ = call
        if name in ("write", "sendto", "writev", "sendmsg") and args and NEXT in " ".join(args[1:2]):
            out.append(("init (start to the first /next)" if index == 0 else f"invocation {index}", current))
            current, index = [], index + 1
    if current:
        out.append(("after the last /next", current))
    return out


def kind(path):
    """Modules and libraries by kind only, other files by name."""
    if path.endswith(".pyc"):
        return "*.pyc"
    if path.endswith(".py"):
        return "*.py"
    if re.search(r"\.so(\.\d+)*$", path):
        return "*.so"
    if path.startswith("socket:"):
        return "socket"
    return path


def fd_path(arg):
    """The file behind an fd argument, as strace -y shows it (AT_FDCWD<...> too)."""
    m = re.search(r"^([^<]*)<(.*)>$", arg)
    if not m:
        return arg
    return f"{m.group(1)}<{kind(m.group(2))}>" if not m.group(1).isdigit() else f"<{kind(m.group(2))}>"


def errno_of(result):
    m = re.match(r"-1 (E\w+)", result)
    return m.group(1) if m else None


def shape(name, args):
    """The arguments that matter, with pointers and lengths made generic."""
    if name == "mmap":
        addr, length, prot, flags, fd, offset = (args + [""] * 6)[:6]
        target = "NULL" if addr == "NULL" else "addr"
        source = "anon" if "MAP_ANONYMOUS" in flags else fd_path(fd)
        return f"mmap({target}, {prot}, {flags}, {source}, off={'0' if offset in ('0', '0x0') else '>0'})"
    if name in PATH_CALLS:
        args = [f'"{kind(a[1:-1])}"' if a.startswith('"') and a.endswith('"') else fd_path(a) for a in args]
    generic = []
    for a in args:
        a = re.sub(r"0x[0-9a-f]{6,}", "PTR", a)
        a = re.sub(r'"(?:[^"\\]|\\.){60,}"(\.\.\.)?', '"…"', a)
        generic.append(a)
    if name in ("read", "write", "pread64", "pwrite64", "recvfrom", "sendto", "readv", "writev", "getdents64"):
        generic = [fd_path(generic[0])] + ["…"] + generic[2:] if generic else generic
        generic = [re.sub(r"^\d+$", "N", g) for g in generic]
    if name in ("close", "fstat", "lseek", "fcntl", "ioctl", "getsockopt", "setsockopt", "connect", "shutdown"):
        if generic:
            generic[0] = fd_path(generic[0])
    if name == "rt_sigaction" and len(generic) > 1 and generic[1] == "NULL":
        generic = ["SIG…", "NULL", "old", generic[-1]]
    if name in ("sysinfo", "getrandom") and generic:
        generic[0] = "{…}" if name == "sysinfo" else '"…"'
    if name == "brk":
        generic = ["NULL" if generic and generic[0] == "NULL" else "addr"]
    if name in ("munmap", "mprotect", "madvise"):
        generic = ["addr", "len"] + generic[2:]
    return f"{name}({', '.join(generic)})"


CLOCK_CALLS = {"clock_gettime", "gettimeofday", "time", "clock_getres"}


def report(label, calls):
    counts = collections.Counter(name for name, _, _ in calls)
    clock_reads = sum(n for name, n in counts.items() if name in CLOCK_CALLS)
    print(f"### {label}: {len(calls)} system calls, {len(counts)} distinct, {clock_reads} clock reads\n")
    print("| calls | system call |\n|---:|---|")
    for name, n in counts.most_common():
        print(f"| {n} | {name} |")
    print()
    files = collections.OrderedDict()
    for name, args, result in calls:
        if name not in PATH_CALLS:
            continue
        path = next((a for a in args if a.startswith('"')), None)
        if path is None:
            continue
        err = errno_of(result)
        key = (path.strip('"'), err or "ok")
        files.setdefault(key, collections.Counter())[name] += 1
    if files:
        print("Paths (by first use; `ok` = found):\n")
        print("| path | result | calls |\n|---|---|---|")
        for (path, result), by in files.items():
            print(f"| `{path}` | {result} | {', '.join(f'{k}×{v}' for k, v in by.items())} |")
        print()
    shapes = collections.Counter(shape(name, args) + ("" if not errno_of(r) else f" = {errno_of(r)}")
                                 for name, args, r in calls)
    print("Argument shapes (pointers and byte counts generalised):\n")
    print("| calls | shape |\n|---:|---|")
    for text, n in sorted(shapes.items(), key=lambda kv: (kv[0].split("(")[0], -kv[1])):
        print(f"| {n} | `{text.replace('|', '¦')}` |")
    print()


def main():
    path, by_next = sys.argv[1], "--next" in sys.argv
    jail = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--jail=")), None)
    calls = parse(path, jail)
    for label, part in phases(calls, by_next):
        report(label, part)


if __name__ == "__main__":
    main()
