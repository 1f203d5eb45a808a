/* A dynamically linked program (glibc or musl): it needs its libc and libgreet through the dynamic loader, opens a
 * plugin with dlopen, and reports what the kernel told it (argv[0], AT_EXECFN, AT_BASE, /proc/self/exe). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern const char *greet(const char *who);
extern int greet_calls;

int main(int argc, char **argv) {
    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n < 0 ? 0 : n] = 0;
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("argc=%d argv0=%s execfn=%s exe=%s at_base=%s\n", argc, argv[0], execfn ? execfn : "(none)", exe,
           getauxval(AT_BASE) ? "set" : "zero");
    printf("%s\n", greet("dynamic world"));
    void *plugin = dlopen("libgreet_plugin.so", RTLD_NOW);
    if (!plugin) {
        printf("dlopen failed: %s\n", dlerror());
        return 2;
    }
    int (*twice)(int) = (int (*)(int))dlsym(plugin, "twice");
    if (!twice) return 3;
    int doubled = twice(21); /* the plugin counts in libgreet's data: one library's writes seen by the other */
    printf("plugin=%d greet_calls=%d\n", doubled, greet_calls);
    return 0;
}
