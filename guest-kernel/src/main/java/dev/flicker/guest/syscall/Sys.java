package dev.flicker.guest.syscall;

/** x86-64 Linux system call numbers (arch/x86/entry/syscalls/syscall_64.tbl) that the host half knows by name. */
public final class Sys {
    private Sys() {}

    public static final int READ = 0, WRITE = 1, OPEN = 2, CLOSE = 3, STAT = 4, FSTAT = 5, LSTAT = 6, POLL = 7,
            LSEEK = 8, MMAP = 9, MPROTECT = 10, MUNMAP = 11, BRK = 12, RT_SIGACTION = 13, RT_SIGPROCMASK = 14,
            IOCTL = 16, PREAD64 = 17, PWRITE64 = 18, READV = 19, WRITEV = 20, ACCESS = 21, SCHED_YIELD = 24,
            MREMAP = 25, MADVISE = 28, DUP = 32, DUP2 = 33, NANOSLEEP = 35, GETPID = 39, EXIT = 60, UNAME = 63,
            FCNTL = 72, FTRUNCATE = 77, GETCWD = 79, CHDIR = 80, MKDIR = 83, UNLINK = 87, READLINK = 89, UMASK = 95,
            GETTIMEOFDAY = 96, GETRLIMIT = 97, SYSINFO = 99, GETUID = 102, GETGID = 104, GETEUID = 107,
            GETEGID = 108, GETPPID = 110, SIGALTSTACK = 131, ARCH_PRCTL = 158, GETTID = 186, TIME = 201,
            FUTEX = 202, SCHED_GETAFFINITY = 204, GETDENTS64 = 217, SET_TID_ADDRESS = 218, CLOCK_GETTIME = 228,
            CLOCK_GETRES = 229, CLOCK_NANOSLEEP = 230, EXIT_GROUP = 231, OPENAT = 257, MKDIRAT = 258,
            NEWFSTATAT = 262, UNLINKAT = 263, READLINKAT = 267, FACCESSAT = 269, SET_ROBUST_LIST = 273,
            DUP3 = 292, PRLIMIT64 = 302, GETRANDOM = 318, STATX = 332, RSEQ = 334, FACCESSAT2 = 439,
            SOCKET = 41, CONNECT = 42, SENDTO = 44, RECVFROM = 45, SHUTDOWN = 48, GETSOCKNAME = 51,
            GETPEERNAME = 52, SETSOCKOPT = 54, GETSOCKOPT = 55;

    /** Names for reports: the syscall table in docs/syscalls.md lists the same set. */
    public static String name(int nr) {
        return switch (nr) {
            case READ -> "read"; case WRITE -> "write"; case OPEN -> "open"; case CLOSE -> "close";
            case STAT -> "stat"; case FSTAT -> "fstat"; case LSTAT -> "lstat"; case POLL -> "poll";
            case LSEEK -> "lseek"; case MMAP -> "mmap"; case MPROTECT -> "mprotect"; case MUNMAP -> "munmap";
            case BRK -> "brk"; case RT_SIGACTION -> "rt_sigaction"; case RT_SIGPROCMASK -> "rt_sigprocmask";
            case IOCTL -> "ioctl"; case PREAD64 -> "pread64"; case PWRITE64 -> "pwrite64"; case READV -> "readv";
            case WRITEV -> "writev"; case ACCESS -> "access"; case SCHED_YIELD -> "sched_yield";
            case MREMAP -> "mremap"; case MADVISE -> "madvise"; case DUP -> "dup"; case DUP2 -> "dup2";
            case NANOSLEEP -> "nanosleep"; case GETPID -> "getpid"; case EXIT -> "exit"; case UNAME -> "uname";
            case FCNTL -> "fcntl"; case FTRUNCATE -> "ftruncate"; case GETCWD -> "getcwd"; case CHDIR -> "chdir"; case MKDIR -> "mkdir";
            case UNLINK -> "unlink"; case READLINK -> "readlink"; case UMASK -> "umask";
            case GETTIMEOFDAY -> "gettimeofday"; case GETRLIMIT -> "getrlimit"; case SYSINFO -> "sysinfo";
            case GETUID -> "getuid"; case GETGID -> "getgid"; case GETEUID -> "geteuid"; case GETEGID -> "getegid";
            case GETPPID -> "getppid"; case SIGALTSTACK -> "sigaltstack"; case ARCH_PRCTL -> "arch_prctl";
            case GETTID -> "gettid"; case TIME -> "time"; case FUTEX -> "futex";
            case SCHED_GETAFFINITY -> "sched_getaffinity"; case GETDENTS64 -> "getdents64";
            case SET_TID_ADDRESS -> "set_tid_address"; case CLOCK_GETTIME -> "clock_gettime";
            case CLOCK_GETRES -> "clock_getres"; case CLOCK_NANOSLEEP -> "clock_nanosleep";
            case EXIT_GROUP -> "exit_group"; case OPENAT -> "openat"; case MKDIRAT -> "mkdirat";
            case NEWFSTATAT -> "newfstatat"; case UNLINKAT -> "unlinkat"; case READLINKAT -> "readlinkat";
            case FACCESSAT -> "faccessat"; case SET_ROBUST_LIST -> "set_robust_list"; case DUP3 -> "dup3";
            case PRLIMIT64 -> "prlimit64"; case GETRANDOM -> "getrandom"; case STATX -> "statx"; case RSEQ -> "rseq";
            case FACCESSAT2 -> "faccessat2";
            case SOCKET -> "socket"; case CONNECT -> "connect"; case SENDTO -> "sendto"; case RECVFROM -> "recvfrom";
            case SHUTDOWN -> "shutdown"; case GETSOCKNAME -> "getsockname"; case GETPEERNAME -> "getpeername";
            case SETSOCKOPT -> "setsockopt"; case GETSOCKOPT -> "getsockopt";
            default -> "syscall_" + nr;
        };
    }
}
