package dev.flicker.guest.syscall;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import static dev.flicker.guest.abi.Errno.ENOSYS;

/**
 * The micro guest's system call table (gVisor's {@code linux64.go}): data, assembled from one class per family of
 * calls, each mapping its numbers to a handler and a support level. Dispatch is an array lookup by number;
 * numbers it does not hold are ENOSYS. docs/syscalls.md lists the same calls, family by family, with the same
 * support levels, and a test keeps the two in step.
 */
public final class SyscallTable {
    /** Numbers 0 to 510 have a slot of their own; the last slot counts every number past them. */
    public static final int SLOTS = 512;
    /** The x86-64 Linux table the micro guest serves. */
    public static final SyscallTable X86_64 = assemble();

    private final Syscall[] byNumber;

    private SyscallTable(Syscall[] byNumber) {
        this.byNumber = byNumber;
    }

    private static SyscallTable assemble() {
        Builder b = new Builder();
        ReadWriteSyscalls.register(b.family(ReadWriteSyscalls.class));
        FileSyscalls.register(b.family(FileSyscalls.class));
        StatSyscalls.register(b.family(StatSyscalls.class));
        PollSyscalls.register(b.family(PollSyscalls.class));
        MemorySyscalls.register(b.family(MemorySyscalls.class));
        TimeSyscalls.register(b.family(TimeSyscalls.class));
        FutexSyscalls.register(b.family(FutexSyscalls.class));
        ThreadSyscalls.register(b.family(ThreadSyscalls.class));
        ProcessSyscalls.register(b.family(ProcessSyscalls.class));
        SignalSyscalls.register(b.family(SignalSyscalls.class));
        SocketSyscalls.register(b.family(SocketSyscalls.class));
        RandomSyscalls.register(b.family(RandomSyscalls.class));
        return new SyscallTable(b.byNumber);
    }

    /** The entry for {@code nr}, or null: an unknown call. */
    public Syscall lookup(long nr) {
        return nr >= 0 && nr < SLOTS - 1 ? byNumber[(int) nr] : null;
    }

    /** The call's name for reports ({@code syscall_N} for one the table does not hold). */
    public String name(int nr) {
        Syscall s = lookup(nr);
        return s != null ? s.name() : "syscall_" + nr;
    }

    /** Every entry, by number. */
    public List<Syscall> entries() {
        return Arrays.stream(byNumber).filter(Objects::nonNull).toList();
    }

    /** Assembles the table; a number registered twice is a mistake in the table, caught when the class loads. */
    static final class Builder {
        private final Syscall[] byNumber = new Syscall[SLOTS - 1];

        Family family(Class<?> familyClass) {
            return new Family(familyClass.getSimpleName());
        }

        /** The calls of one family file. */
        final class Family {
            private final String name;

            private Family(String name) {
                this.name = name;
            }

            void supported(int nr, String syscall, Syscall.Handler handler) {
                add(new Syscall(nr, syscall, new Support.Supported(), name, handler));
            }

            void partial(int nr, String syscall, String note, Syscall.Handler handler) {
                add(new Syscall(nr, syscall, new Support.Partial(note), name, handler));
            }

            /** A call answered ENOSYS on purpose. */
            void enosys(int nr, String syscall, String note) {
                add(new Syscall(nr, syscall, new Support.Error(ENOSYS, "ENOSYS", note), name, (t, a0, a1, a2, a3, a4, a5) -> -ENOSYS));
            }

            private void add(Syscall s) {
                if (byNumber[s.number()] != null) {
                    throw new IllegalStateException("system call " + s.number() + " is in the table twice: "
                            + byNumber[s.number()].name() + " and " + s.name());
                }
                byNumber[s.number()] = s;
            }
        }
    }
}
