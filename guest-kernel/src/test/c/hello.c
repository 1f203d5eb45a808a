#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello from the micro guest, argc=%d argv0=%s\n", argc, argv[0]);
    return 0;
}
