/* A runtime whose initialisation never ends: it spins before it asks the Runtime API for an event. */
int main(void) {
    for (volatile unsigned long i = 0;; i++) {
    }
}
