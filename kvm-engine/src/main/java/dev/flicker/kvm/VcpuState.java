package dev.flicker.kvm;

import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Sregs;

import java.util.Arrays;

/**
 * What a vCPU of a guest without an interrupt controller needs to resume elsewhere: general and special
 * registers, the FPU/SSE state ({@code struct kvm_fpu}) and the MSRs the guest kind names.
 */
public record VcpuState(Regs regs, Sregs sregs, byte[] fpu, int[] msrIndices, long[] msrValues) {
    public VcpuState {
        if (fpu.length != dev.flicker.kvm.sys.KvmApi.FPU_SIZE) throw new IllegalArgumentException("kvm_fpu is 416 bytes");
        if (msrIndices.length != msrValues.length) throw new IllegalArgumentException("one value per MSR");
    }

    /** Reads the state of a stopped vCPU. */
    public static VcpuState save(Vcpu vcpu, int[] msrIndices) {
        return new VcpuState(vcpu.getRegs(), vcpu.getSregs(), vcpu.getFpu(), msrIndices.clone(), vcpu.getMsrs(msrIndices));
    }

    /** Writes this state into a fresh vCPU (CPUID is the guest kind's, set before). */
    public void restore(Vcpu vcpu) {
        vcpu.setSregs(sregs);
        vcpu.setMsrs(msrIndices, msrValues);
        vcpu.setFpu(fpu);
        vcpu.setRegs(regs);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuState s && regs.equals(s.regs) && sregs.equals(s.sregs) && Arrays.equals(fpu, s.fpu)
                && Arrays.equals(msrIndices, s.msrIndices) && Arrays.equals(msrValues, s.msrValues);
    }

    @Override
    public int hashCode() {
        return regs.hashCode() * 31 + sregs.hashCode();
    }
}
