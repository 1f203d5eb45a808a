#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
/* Misbehaviour on demand: argv[1] names it. Each case ends the program in a way the host must survive. */
static long raw(long nr, long a, long b, long c, long d) { return syscall(nr, a, b, c, d); }
static const char *errname(int e) {
    switch (e) {
    case 0: return "nothing";
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return strerror(e);
    }
}
static int runtime_api_socket(int flags) {
    int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
    if (fd < 0) return -1;
    struct sockaddr_in api = {.sin_family = AF_INET, .sin_port = htons(9001), .sin_addr.s_addr = htonl(0x7f000001)};
    return connect(fd, (struct sockaddr *) &api, sizeof api) == 0 ? fd : -1;
}
int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "badptrs")) {
        /* Every syscall class with bad pointers and lengths: each must fail with EFAULT/EINVAL, never crash the host. */
        void *bad[] = {(void *) 1, (void *) 0xdeadbeef000, (void *) 0x8000000000000000UL, (void *) 0xffffffffffe04000UL, (void *) -1L};
        int efault = 0, total = 0;
        for (int i = 0; i < 5; i++) {
            long r;
            total++; r = raw(SYS_write, 1, (long) bad[i], 100, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_read, 0, (long) bad[i], 100, 0); efault += (r == -1 && errno == EFAULT) || r == 0;
            total++; r = raw(SYS_openat, AT_FDCWD, (long) bad[i], O_RDONLY, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_fstat, 1, (long) bad[i], 0, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_clock_gettime, CLOCK_MONOTONIC, (long) bad[i], 0, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_getrandom, (long) bad[i], 16, 0, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_uname, (long) bad[i], 0, 0, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_writev, 1, (long) bad[i], 2, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_nanosleep, (long) bad[i], 0, 0, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_getcwd, (long) bad[i], 100, 0, 0); efault += r == -1 && errno == EFAULT;
            total++; r = raw(SYS_newfstatat, AT_FDCWD, (long) "/var/task", (long) bad[i], 0); efault += r == -1 && errno == EFAULT;
        }
        /* A buffer that starts valid and runs off the end of a mapping. */
        char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        total++; long r = raw(SYS_read, 0, (long) page + 4000, 1 << 20, 0); efault += r >= 0 || errno == EFAULT;
        total++; r = raw(SYS_write, 1, (long) page, -5L, 0); efault += r == -1 && (errno == EINVAL || errno == EFAULT);
        total++; r = raw(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS); efault += r == -1 && errno == EINVAL;
        total++; r = raw(SYS_munmap, 3, 4096, 0, 0); efault += r == -1 && errno == EINVAL;
        total++; r = raw(SYS_close, 9999, 0, 0, 0); efault += r == -1 && errno == EBADF;
        total++; r = raw(999, 0, 0, 0, 0); efault += r == -1 && errno == ENOSYS;
        printf("rejected %d of %d\n", efault, total);
        return efault == total ? 0 : 1;
    }
    if (!strcmp(what, "jump-unmapped")) { void (*f)(void) = (void (*)(void)) 0x123456000; f(); }
    if (!strcmp(what, "jump-noncanonical")) { void (*f)(void) = (void (*)(void)) 0x8000000000000000UL; f(); }
    if (!strcmp(what, "jump-kernel")) { void (*f)(void) = (void (*)(void)) 0xffffffffffe01000UL; f(); }
    if (!strcmp(what, "write-null")) { *(volatile int *) 8 = 1; }
    if (!strcmp(what, "write-text")) { *(volatile char *) (void *) main = 1; }
    if (!strcmp(what, "ud2")) { __asm__ volatile("ud2"); }
    if (!strcmp(what, "int3")) { __asm__ volatile("int3"); }
    if (!strcmp(what, "hlt")) { __asm__ volatile("hlt"); }
    if (!strcmp(what, "div0")) { int q = 7, z = 0; __asm__ volatile("cltd; idivl %2" : "+a"(q) : "d"(0), "r"(z)); printf("%d\n", q); }
    if (!strcmp(what, "loop")) { for (;;) __asm__ volatile(""); }
    if (!strcmp(what, "sleep")) { sleep(1000000); }
    if (!strcmp(what, "alloc")) {
        long total = 0;
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p) { printf("malloc failed after %ld MiB\n", total); return 0; }
            memset(p, 1, 1 << 20);
            total++;
        }
    }
    if (!strcmp(what, "flood")) {
        static char buf[1 << 16];
        memset(buf, 'x', sizeof buf);
        long limit = argc > 2 ? atol(argv[2]) : (1L << 30);
        for (long done = 0; done < limit; done += sizeof buf) if (write(1, buf, sizeof buf) != sizeof buf) return 2;
        return 0;
    }
    if (!strcmp(what, "escape")) {
        const char *paths[] = {"../../etc/passwd", "/var/task/../../etc/passwd", "/etc/passwd", "../../../../proc/self/environ", "/proc/self/maps", "/root"};
        int refused = 0;
        for (int i = 0; i < 6; i++) {
            int fd = open(paths[i], O_RDONLY);
            if (fd < 0 && errno == ENOENT) refused++;
            else printf("opened %s\n", paths[i]);
        }
        printf("refused %d of 6\n", refused);
        return refused == 6 ? 0 : 1;
    }
    if (!strcmp(what, "connect-elsewhere")) {
        /* Nothing but 127.0.0.1:9001 may be reached: other addresses, ports and families are refused. */
        struct sockaddr_in targets[3] = {
            {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(0x0a000001)},
            {.sin_family = AF_INET, .sin_port = htons(9002), .sin_addr.s_addr = htonl(0x7f000001)},
            {.sin_family = AF_INET, .sin_port = htons(9001), .sin_addr.s_addr = htonl(0x08080808)}};
        int refused = 0;
        for (int i = 0; i < 3; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(fd, (struct sockaddr *) &targets[i], sizeof targets[i]) != 0 && errno == ECONNREFUSED) refused++;
            close(fd);
        }
        if (socket(AF_INET6, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT) refused++;
        printf("refused %d of 4\n", refused);
        return refused == 4 ? 0 : 1;
    }
    if (!strcmp(what, "api-flood")) {
        /* Issue 9: 1 MB of pipelined requests to the Runtime API, again and again, never reading an answer.
           argv[2] "bad" sends "A / HTTP/1." (malformed), "valid" a GET of an unknown path; argv[3] "nonblock"
           stops at the first error and reports it, "block" goes on until the deadline. */
        int valid = argc > 2 && !strcmp(argv[2], "valid"), nonblock = argc > 3 && !strcmp(argv[3], "nonblock");
        const char *one = valid ? "GET / HTTP/1.1\r\n\r\n" : "A / HTTP/1.\r\n\r\n";
        size_t len = strlen(one), total = (1 << 20) / len * len;
        char *buf = malloc(total);
        for (size_t i = 0; i < total; i += len) memcpy(buf + i, one, len);
        int fd = runtime_api_socket(nonblock ? SOCK_NONBLOCK : 0);
        if (fd < 0) return 3;
        size_t sent = 0;
        int err = 0;
        for (;;) {
            ssize_t n = write(fd, buf + sent % total, total - sent % total);
            if (n < 0) {
                err = errno;
                if (nonblock) break;
                continue;
            }
            sent += n;
        }
        printf("sent %zu then %s\n", sent, errname(err));
        return 0;
    }
    if (!strcmp(what, "api-bodies")) {
        /* Issue 9: Runtime API sockets, each with argv[2] KiB of a 6 MB body that never completes, until a call
           fails (the host buffered ~10 MB per socket, 10 GB per VM). */
        static char chunk[64 * 1024];
        long per_socket = (argc > 2 ? atol(argv[2]) : 5120) * 1024, sent = 0;
        int sockets = 0, err = 0;
        const char *head = "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: 6000000\r\n\r\n";
        for (;;) {
            int fd = runtime_api_socket(SOCK_NONBLOCK);
            if (fd < 0) { err = errno; break; }
            sockets++;
            if (write(fd, head, strlen(head)) < 0) { err = errno; break; }
            long done = 0;
            while (done < per_socket) {
                ssize_t n = write(fd, chunk, per_socket - done < (long) sizeof chunk ? per_socket - done : (long) sizeof chunk);
                if (n < 0) { err = errno; break; }
                done += n;
            }
            sent += done;
            if (err) break;
        }
        printf("%d sockets, %ld body bytes, then %s\n", sockets, sent, errname(err));
        return 0;
    }
    if (!strcmp(what, "tmp-names")) {
        /* Issue 9: 100,000 mkdirs in /tmp with names of argv[2] bytes (4,000 added 399 MB to the host's heap). */
        int len = argc > 2 ? atoi(argv[2]) : 4000;
        if (len < 6 || len > 4000) return 2;
        static char name[4100];
        int made = 0, err = 0;
        for (int i = 0; i < 100000; i++) {
            snprintf(name, sizeof name, "/tmp/%06d", i);
            memset(name + 11, 'n', len - 6);
            name[5 + len] = 0;
            if (mkdir(name, 0755) == 0) {
                made++;
            } else {
                err = errno;
                if (err != ENAMETOOLONG) break;
            }
        }
        printf("made %d, then %s\n", made, errname(err));
        return 0;
    }
    if (!strcmp(what, "tmp-grow")) {
        /* Grows one /tmp file by 1 MiB writes until a write fails. */
        static char chunk[1 << 20];
        int fd = open("/tmp/big", O_CREAT | O_WRONLY, 0644);
        long total = 0;
        ssize_t n;
        while ((n = write(fd, chunk, sizeof chunk)) > 0) total += n;
        printf("wrote %ld MiB, then %s\n", total >> 20, errname(errno));
        return 0;
    }
    if (!strcmp(what, "smash-hostcall")) {
        /* Write garbage over the host-call page and ring the doorbell with nonsense. */
        volatile long *hc = (long *) 0xffffffffffe04000UL;
        for (int i = 0; i < 512; i++) hc[i] = -1;
        *(volatile long *) 0xfffffffffffff000UL = 12345;
        printf("still alive\n");
        return 0;
    }
    fprintf(stderr, "unknown case '%s'\n", what);
    return 64;
}
