package dev.flicker.kvm;

import dev.flicker.kvm.sys.KvmApi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Why {@code KVM_RUN} returned. Each vCPU owns one instance of each kind, a view over its {@code kvm_run}
 * page that is valid until the next run, so the run loop allocates nothing per exit.
 */
public sealed interface VcpuExit {

    /** {@code KVM_EXIT_MMIO}: the guest touched guest-physical memory that no region backs. */
    final class Mmio implements VcpuExit {
        private final MemorySegment run;

        Mmio(MemorySegment run) {
            this.run = run;
        }

        public long physicalAddress() {
            return run.get(ValueLayout.JAVA_LONG, KvmApi.RUN_MMIO_PHYS_ADDR);
        }

        public int length() {
            return run.get(ValueLayout.JAVA_INT, KvmApi.RUN_MMIO_LEN);
        }

        public boolean isWrite() {
            return run.get(ValueLayout.JAVA_BYTE, KvmApi.RUN_MMIO_IS_WRITE) != 0;
        }

        /** The bytes written (little-endian, {@link #length()} of them). */
        public long data() {
            return run.get(ValueLayout.JAVA_LONG_UNALIGNED, KvmApi.RUN_MMIO_DATA);
        }
    }

    /** {@code KVM_EXIT_IO}: an {@code in} or {@code out} instruction. */
    final class Io implements VcpuExit {
        private final MemorySegment run;

        Io(MemorySegment run) {
            this.run = run;
        }

        public int port() {
            return Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT, KvmApi.RUN_IO_PORT));
        }
    }

    /** {@code KVM_EXIT_HLT}. */
    final class Hlt implements VcpuExit {}

    /** {@code KVM_EXIT_SHUTDOWN}: a triple fault. */
    final class Shutdown implements VcpuExit {}

    /** {@code KVM_EXIT_INTR} or {@code -EINTR}: the vCPU was kicked out of the guest. */
    final class Interrupted implements VcpuExit {}

    /** {@code KVM_EXIT_INTERNAL_ERROR}: KVM could not go on, for example an instruction it cannot emulate. */
    final class InternalError implements VcpuExit {
        private final MemorySegment run;

        InternalError(MemorySegment run) {
            this.run = run;
        }

        /** {@code KVM_INTERNAL_ERROR_EMULATION} is 1. */
        public int suberror() {
            return run.get(ValueLayout.JAVA_INT, KvmApi.RUN_INTERNAL_SUBERROR);
        }
    }

    /** {@code KVM_EXIT_FAIL_ENTRY}: the hardware refused the vCPU state. */
    final class FailEntry implements VcpuExit {
        private final MemorySegment run;

        FailEntry(MemorySegment run) {
            this.run = run;
        }

        public long hardwareReason() {
            return run.get(ValueLayout.JAVA_LONG, KvmApi.RUN_FAIL_ENTRY_REASON);
        }
    }

    /** Any other exit reason; {@link #reason()} is the raw number. */
    final class Other implements VcpuExit {
        private final MemorySegment run;

        Other(MemorySegment run) {
            this.run = run;
        }

        public int reason() {
            return run.get(ValueLayout.JAVA_INT, KvmApi.RUN_EXIT_REASON);
        }
    }
}
