/* A hostile tenant's Lambda runtime (issue 9's hostile-tenant test and `flicker bench hostile`). The environment
   variable ATTACK chooses what it does:
     init-spin   spins before it ever asks for an event, so its init never ends;
     api-flood   takes its event, then writes pipelined requests to the Runtime API forever and never reads;
     tmp-names   takes its event, then makes directories with long names in /tmp until refused, then spins.
   Whatever it does, it must cost the host no more than its own limits, and other functions nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int runtime_api(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in api = {.sin_family = AF_INET, .sin_port = htons(9001), .sin_addr.s_addr = htonl(0x7f000001)};
    return fd >= 0 && connect(fd, (struct sockaddr *) &api, sizeof api) == 0 ? fd : -1;
}

static void spin(void) {
    for (volatile unsigned long i = 0;; i++) {
    }
}

int main(void) {
    const char *attack = getenv("ATTACK") ? getenv("ATTACK") : "";
    if (!strcmp(attack, "init-spin")) spin();

    int fd = runtime_api();
    if (fd < 0) return 1;
    const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
    if (write(fd, next, strlen(next)) < 0) return 2;
    static char buf[1 << 16];
    if (read(fd, buf, sizeof buf) <= 0) return 3; /* the snapshot point: clones start here, with their event */

    if (!strcmp(attack, "api-flood")) {
        const char *one = "A / HTTP/1.\r\n\r\n";
        size_t len = strlen(one), total = sizeof buf / len * len;
        for (size_t i = 0; i < total; i += len) memcpy(buf + i, one, len);
        for (;;) {
            int flood = runtime_api();
            if (flood < 0) continue;
            while (write(flood, buf, total) > 0 || errno == EINTR) {
            }
            close(flood);
        }
    }
    if (!strcmp(attack, "tmp-names")) {
        static char name[300];
        for (int i = 0;; i++) {
            snprintf(name, sizeof name, "/tmp/%08d", i);
            memset(name + 13, 'n', 240);
            name[253] = 0;
            if (mkdir(name, 0755) != 0) break;
        }
        spin();
    }
    fprintf(stderr, "unknown ATTACK '%s'\n", attack);
    return 4;
}
