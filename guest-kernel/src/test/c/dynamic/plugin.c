/* libgreet_plugin: opened with dlopen; it needs libgreet, which is loaded already, and changes its data. */
extern int greet_calls;

int twice(int x) {
    greet_calls++;
    return 2 * x;
}
