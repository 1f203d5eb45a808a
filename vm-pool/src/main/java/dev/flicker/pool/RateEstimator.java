package dev.flicker.pool;

/**
 * Arrivals per second as an exponentially decaying count: each arrival adds 1, the count halves every
 * {@code halfLifeSeconds}, and the rate is the count divided by the mean lifetime of an arrival.
 */
final class RateEstimator {
    private final double halfLifeNanos;
    private double count;
    private long lastNanos;

    RateEstimator(double halfLifeSeconds) {
        this.halfLifeNanos = halfLifeSeconds * 1e9;
    }

    synchronized void record(long nowNanos) {
        decay(nowNanos);
        count += 1;
    }

    synchronized double perSecond(long nowNanos) {
        decay(nowNanos);
        double meanLifeSeconds = halfLifeNanos / 1e9 / Math.log(2);
        return count / meanLifeSeconds;
    }

    private void decay(long nowNanos) {
        if (lastNanos != 0) count *= Math.pow(0.5, (nowNanos - lastNanos) / halfLifeNanos);
        lastNanos = nowNanos;
    }
}
