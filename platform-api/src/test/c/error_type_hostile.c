/*
 * A runtime whose every invocation fails with an error type that no header or column may take as it is: 1,000
 * characters, with spaces and a control character (Lambda's pattern is [A-Za-z0-9._-]{1,128}).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One request on a fresh connection to the Runtime API; the answer (headers and body) goes into out. */
static void exchange(const char *request, size_t length, char *out, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(9001), .sin_addr.s_addr = htonl(0x7f000001)};
    if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0) exit(10);
    if (send(fd, request, length, 0) != (ssize_t) length) exit(11);
    size_t got = 0;
    char *end = NULL;
    long body = -1;
    while (got + 1 < cap) {
        ssize_t n = recv(fd, out + got, cap - got - 1, 0);
        if (n <= 0) break;
        got += n;
        out[got] = 0;
        if (!end && (end = strstr(out, "\r\n\r\n"))) {
            char *cl = strstr(out, "Content-Length:");
            body = cl ? atol(cl + 15) : 0;
        }
        if (end && (long) (got - (end + 4 - out)) >= body) break;
    }
    close(fd);
}

int main(void) {
    static char answer[1 << 20], request[8192], type[1001];
    memset(type, 'A', 1000);
    memcpy(type + 100, " spaces and \x01 a control ", 25);
    for (;;) {
        const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        exchange(next, strlen(next), answer, sizeof answer);
        char id[128] = "";
        char *h = strstr(answer, "Lambda-Runtime-Aws-Request-Id:");
        if (!h || sscanf(h + 30, " %127[^\r\n]", id) != 1) return 12;
        const char *body = "{\"errorMessage\":\"failed on purpose\",\"errorType\":\"Hostile\"}";
        int n = snprintf(request, sizeof request, "POST /2018-06-01/runtime/invocation/%s/error HTTP/1.1\r\nHost: x\r\n"
                "Lambda-Runtime-Function-Error-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", id, type, strlen(body), body);
        exchange(request, n, answer, sizeof answer);
    }
}
