#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
/*
 * A function with a snapshot point: it initialises argv[1] MiB of heap with a pattern, then reads its event
 * on stdin (the first read is where the snapshot is taken). For the event it prints the event, a checksum of
 * the heap, 8 fresh random bytes and the first heap byte; with argv[2] = "write" it then writes the event's
 * first byte over the whole heap (so that clones can show their writes stay their own).
 */
int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 1;
    size_t size = (size_t) mib << 20;
    unsigned char *heap = malloc(size);
    if (!heap) return 3;
    for (size_t i = 0; i < size; i++) heap[i] = (unsigned char) (i * 7);
    char event[256];
    ssize_t n = read(0, event, sizeof event - 1);
    if (n < 0) return 4;
    event[n] = 0;
    unsigned long sum = 0;
    for (size_t i = 0; i < size; i += 4096) sum += heap[i + 1];
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != sizeof r) return 5;
    printf("event=%s sum=%lu first=%d random=", event, sum, size > 1 ? heap[1] : 0);
    for (int i = 0; i < 8; i++) printf("%02x", r[i]);
    printf("\n");
    if (argc > 2 && strcmp(argv[2], "write") == 0) memset(heap, n > 0 ? event[0] : 0, size);
    return 0;
}
