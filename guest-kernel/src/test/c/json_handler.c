#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* A tiny handler: reads {"name": "..."} on stdin, writes {"greeting": "hello, ..."} on stdout. */
int main(void) {
    char in[4096];
    size_t n = fread(in, 1, sizeof in - 1, stdin);
    in[n] = 0;
    char *key = strstr(in, "\"name\"");
    if (!key) { fprintf(stderr, "no name in event\n"); printf("{\"error\":\"missing name\"}\n"); return 1; }
    char *q1 = strchr(key + 6, '"');
    char *q2 = q1 ? strchr(q1 + 1, '"') : 0;
    if (!q2) { printf("{\"error\":\"bad json\"}\n"); return 1; }
    *q2 = 0;
    printf("{\"greeting\":\"hello, %s\",\"length\":%zu}\n", q1 + 1, strlen(q1 + 1));
    return 0;
}
