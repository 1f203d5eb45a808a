/* libgreet: a shared library with initialised data that needs relocation, a large .bss and a function. */
#include <stdio.h>

int greet_calls;
static char buffer[3 * 4096];
const char *greet_prefix = "hello, ";

const char *greet(const char *who) {
    greet_calls++;
    snprintf(buffer, sizeof buffer, "%s%s", greet_prefix, who);
    return buffer;
}
