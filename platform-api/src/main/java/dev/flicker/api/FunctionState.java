package dev.flicker.api;

/**
 * A version's {@code State}, as Lambda documents it (Lambda functions' states): {@code Pending} while it is prepared
 * (its runtime initialises and its snapshot is taken), then {@code Active}, or {@code Failed} with a reason.
 * <p>
 * On Lambda an update leaves the function {@code Active} on its old code while {@code LastUpdateStatus} is
 * {@code InProgress}. Flicker cannot run the old snapshot meanwhile (the scheduler replaces what runs under the key at
 * once), so an update, and a restore at start, make the version {@code Pending} again: the states move together,
 * and each one's {@link #lastUpdateStatus()} is Lambda's for it.
 */
public enum FunctionState {
    Pending, Active, Failed;

    /** {@code LastUpdateStatus}: the status of the last create or update, {@code InProgress -> Successful | Failed}. */
    public enum LastUpdateStatus { InProgress, Successful, Failed }

    /**
     * Lambda's transitions: {@code Pending -> Active | Failed}. A new deployment (an update, a restore) makes any state
     * {@code Pending} again; a {@code Pending} one may be Pending still with another reason (a host that cannot run it).
     */
    public boolean canBecome(FunctionState next) {
        return switch (next) {
            case Pending -> true;
            case Active, Failed -> this == Pending;
        };
    }

    public LastUpdateStatus lastUpdateStatus() {
        return switch (this) {
            case Pending -> LastUpdateStatus.InProgress;
            case Active -> LastUpdateStatus.Successful;
            case Failed -> LastUpdateStatus.Failed;
        };
    }
}
