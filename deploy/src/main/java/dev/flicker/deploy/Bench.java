package dev.flicker.deploy;

/** Placeholder replaced below. */
final class Bench {
    static int main(String[] args) {
        return 2;
    }
}
