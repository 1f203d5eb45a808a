/* The trivial program for the VM-cycle benchmark: exit at once. */
int main(void) { return 0; }
