package dev.flicker.guest.syscall;

/**
 * x86-64 Linux system call numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the calls the host half implements;
 * their names and handlers are in the {@link SyscallTable}.
 */
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
            GETPEERNAME = 52, SETSOCKOPT = 54, GETSOCKOPT = 55, CLONE = 56, FORK = 57, VFORK = 58, FSYNC = 74,
            FDATASYNC = 75, EPOLL_CREATE = 213, EPOLL_CREATE1 = 291, CLONE3 = 435;
}
