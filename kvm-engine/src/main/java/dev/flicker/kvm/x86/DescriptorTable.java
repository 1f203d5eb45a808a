package dev.flicker.kvm.x86;

/** GDTR or IDTR ({@code struct kvm_dtable}). */
public record DescriptorTable(long base, int limit) {}
