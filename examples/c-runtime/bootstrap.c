/*
 * A custom Lambda runtime (the "provided" kind) in C: a static `bootstrap` that asks the Runtime API for
 * events and posts responses, with a tiny handler. It needs nothing but libc, so it runs unchanged on
 * AWS Lambda and in a Flicker micro VM. Build: musl-gcc -static -O2 -o bootstrap bootstrap.c
 *
 * Handler: reads {"name": "..."} and answers {"greeting": "hello, ..."}; an event without a name is a
 * function error (posted to /error). It logs one line per event, with the function version it runs as.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char api_host[64] = "127.0.0.1";
static int api_port = 9001;

/* The connection to the Runtime API, kept open from one request to the next (-1: none yet). */
static int api_fd = -1;

static void api_connect(void) {
    api_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (api_fd < 0) { perror("socket"); exit(10); }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(api_port)};
    inet_pton(AF_INET, api_host, &addr.sin_addr);
    if (connect(api_fd, (struct sockaddr *) &addr, sizeof addr) != 0) { perror("connect"); exit(11); }
}

/*
 * One HTTP/1.1 request on the kept-alive connection; returns the body (malloc'd) and copies the request id. The
 * head and body go out in one send: every system call is a host call in a micro VM, so a request costs one call
 * to send it and the calls that receive its answer, not a socket, a connect, two sends and a close.
 */
static char *http(const char *method, const char *path, const char *body, char *request_id, int *status) {
    /* Buffers kept from one request to the next: a fresh 64 KiB malloc is an mmap and a munmap, two host calls more. */
    static char *request, *buf;
    static size_t request_cap, cap;
    size_t body_len = body ? strlen(body) : 0;
    if (512 + body_len > request_cap) request = realloc(request, request_cap = 512 + body_len);
    if (!buf) buf = malloc(cap = 65536);
    int n = snprintf(request, 512, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n\r\n", method, path, api_host, body_len);
    memcpy(request + n, body ? body : "", body_len);
    size_t len = 0;
    char *end = NULL;
    long content_length = -1;
    for (int attempt = 0; attempt < 2 && !end; attempt++) {
        if (api_fd < 0) api_connect();
        else if (attempt > 0) { close(api_fd); api_connect(); } /* the server closed the kept connection: once more */
        if (send(api_fd, request, n + body_len, 0) != (ssize_t) (n + body_len)) continue;
        len = 0;
        for (;;) {
            if (len + 4096 > cap) buf = realloc(buf, cap *= 2);
            ssize_t got = recv(api_fd, buf + len, cap - len - 1, 0);
            if (got <= 0) { end = NULL; break; }
            len += got;
            buf[len] = 0;
            if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                char *cl = strcasestr(buf, "Content-Length:");
                content_length = cl ? atol(cl + 15) : 0;
            }
            if (end && (long) (len - (end + 4 - buf)) >= content_length) break;
        }
    }
    if (!end) { fprintf(stderr, "bad response\n"); exit(13); }
    char *connection_close = strcasestr(buf, "Connection: close");
    if (connection_close && connection_close < end) { close(api_fd); api_fd = -1; }
    *status = atoi(buf + 9);
    if (request_id) {
        char *id = strcasestr(buf, "Lambda-Runtime-Aws-Request-Id:");
        request_id[0] = 0;
        if (id && id < end) sscanf(id + 30, " %127[^\r\n]", request_id);
    }
    return strdup(end + 4);
}

int main(void) {
    /* Line-buffered by choice: left to decide, libc asks the terminal at the first printf (an ioctl, one host call
     * more in every invocation of a clone, whose snapshot was taken before anything was printed). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (api) sscanf(api, "%63[^:]:%d", api_host, &api_port);
    const char *function = getenv("AWS_LAMBDA_FUNCTION_NAME"), *version = getenv("AWS_LAMBDA_FUNCTION_VERSION");
    for (;;) {
        char id[128], path[256];
        int status;
        char *event = http("GET", "/2018-06-01/runtime/invocation/next", NULL, id, &status);
        if (status != 200) { fprintf(stderr, "next: HTTP %d\n", status); return 14; }
        printf("handling %s as %s:%s\n", id, function ? function : "?", version ? version : "?");
        fflush(stdout);
        char *name = strstr(event, "\"name\"");
        char *q1 = name ? strchr(name + 6, '"') : NULL, *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
        char reply[512];
        if (q2 && q2 - q1 < 200) {
            *q2 = 0;
            snprintf(reply, sizeof reply, "{\"greeting\":\"hello, %s\"}", q1 + 1);
            snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", id);
        } else {
            snprintf(reply, sizeof reply, "{\"errorMessage\":\"the event has no name\",\"errorType\":\"MissingName\"}");
            snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/error", id);
            fprintf(stderr, "event without a name\n");
        }
        free(http("POST", path, reply, NULL, &status));
        free(event);
        if (status != 202) { fprintf(stderr, "post: HTTP %d\n", status); return 15; }
    }
}
