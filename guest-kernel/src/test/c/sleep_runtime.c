/* A Lambda runtime whose handler sleeps for ever: it takes its event from the Runtime API, then nanosleeps a second
   at a time (for the scheduler's test that a VM blocked in the host gives its CPU up while it waits). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(9001), .sin_addr.s_addr = htonl(0x7f000001)};
    if (connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0) return 1;
    const char *req = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
    if (write(fd, req, strlen(req)) < 0) return 2;
    char buf[4096];
    if (read(fd, buf, sizeof buf) <= 0) return 3;
    struct timespec second = {1, 0};
    for (;;) nanosleep(&second, 0);
}
