package dev.flicker.kvm.x86;

import java.util.Arrays;

/**
 * The general registers of a vCPU ({@code struct kvm_regs}): 18 values in the kernel's order, indexed by
 * the {@code REG_*} constants of {@link dev.flicker.kvm.sys.KvmApi}.
 */
public final class Regs {
    public static final int COUNT = 18;
    private final long[] values;

    public Regs() {
        this.values = new long[COUNT];
    }

    public Regs(long[] values) {
        if (values.length != COUNT) throw new IllegalArgumentException("kvm_regs has " + COUNT + " registers");
        this.values = values.clone();
    }

    public long get(int reg) {
        return values[reg];
    }

    public Regs set(int reg, long value) {
        values[reg] = value;
        return this;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Regs r && Arrays.equals(values, r.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        String[] names = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12",
                "r13", "r14", "r15", "rip", "rflags"};
        StringBuilder b = new StringBuilder("Regs[");
        for (int i = 0; i < COUNT; i++) b.append(i == 0 ? "" : " ").append(names[i]).append('=').append(Long.toHexString(values[i]));
        return b.append(']').toString();
    }
}
