package dev.flicker.snapshots;

import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Sha256;
import dev.flicker.kvm.VcpuState;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import java.security.MessageDigest;

/**
 * Writes and reads the snapshot format (docs/snapshots.md):
 * <pre>
 * vm.state:   magic "FLKSNAP1" | u32 format version | u32 CRC32C of the payload | u64 payload length | payload
 * payload:    guest kind (UTF) | u64 memory bytes | u32 vCPU count | vCPUs | u32 guest-state length | guest state
 * memory.bin: guest memory from guest-physical 0, written sparsely: zero pages are holes
 * </pre>
 * Everything read back is untrusted: sizes are bounded, the checksum must match, and a short or long file
 * is an error; a corrupted snapshot is a {@link SnapshotFormatException}, never a crash.
 */
public final class SnapshotFiles {
    public static final long MAGIC = 0x31504e534b4c46L; // "FLKSNP1\0" little-endian reading of the first 8 bytes
    public static final int FORMAT_VERSION = 1;
    private static final int HEADER_BYTES = 8 + 4 + 4 + 8;
    private static final long MAX_PAYLOAD = 64L << 20;
    private static final long MAX_MEMORY = 64L << 30;
    private static final int MAX_VCPUS = 64, MAX_MSRS = 64;
    private static final int PAGE = 4096;

    private SnapshotFiles() {}

    /**
     * Writes a snapshot into {@code directory} (created): the first {@code usedBytes} of {@code memory}
     * sparsely, the file sized to the whole region, then the state file. Returns the SHA-256 of the snapshot's
     * content (state and used memory), in hex.
     */
    public static String write(Path directory, String guestKind, GuestMemory memory, long usedBytes, List<VcpuState> vcpus,
                             byte[] guestState) {
        try {
            Files.createDirectories(directory);
            MessageDigest digest = Sha256.newDigest();
            writeMemory(directory.resolve(Snapshot.MEMORY_FILE), memory.segment(), Math.min(usedBytes, memory.sizeBytes()), digest);
            ByteArrayOutputStream payload = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(payload);
            out.writeUTF(guestKind);
            out.writeLong(memory.sizeBytes());
            out.writeInt(vcpus.size());
            for (VcpuState v : vcpus) writeVcpu(out, v);
            out.writeInt(guestState.length);
            out.write(guestState);
            out.flush();
            byte[] body = payload.toByteArray();
            CRC32C crc = new CRC32C();
            crc.update(body);
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            header.putLong(MAGIC).putInt(FORMAT_VERSION).putInt((int) crc.getValue()).putLong(body.length).flip();
            try (FileChannel ch = FileChannel.open(directory.resolve(Snapshot.STATE_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                ch.write(header);
                ch.write(ByteBuffer.wrap(body));
                ch.force(true);
            }
            digest.update(body);
            return java.util.HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write snapshot to " + directory, e);
        }
    }

    private static void writeMemory(Path file, MemorySegment memory, long usedBytes, MessageDigest digest) throws IOException {
        digest.update(memory.asSlice(0, usedBytes).asByteBuffer());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long run = -1;
            for (long at = 0; at < usedBytes; at += PAGE) {
                boolean zero = isZero(memory, at);
                if (!zero && run < 0) run = at;
                if (zero && run >= 0) {
                    writeRun(ch, memory, run, at);
                    run = -1;
                }
            }
            if (run >= 0) writeRun(ch, memory, run, usedBytes);
            // The file spans the whole region; what was never written is a hole and reads as zero.
            if (ch.size() < memory.byteSize()) {
                ch.position(memory.byteSize() - 1);
                ch.write(ByteBuffer.wrap(new byte[1]));
            }
            ch.force(true);
        }
    }

    private static void writeRun(FileChannel ch, MemorySegment memory, long from, long to) throws IOException {
        ByteBuffer buf = memory.asSlice(from, to - from).asByteBuffer();
        long pos = from;
        while (buf.hasRemaining()) pos += ch.write(buf, pos);
    }

    private static boolean isZero(MemorySegment memory, long at) {
        for (long i = 0; i < PAGE; i += 8) if (memory.get(ValueLayout.JAVA_LONG_UNALIGNED, at + i) != 0) return false;
        return true;
    }

    /** Reads and validates the snapshot in {@code directory}. */
    public static Snapshot read(Path directory) {
        Path stateFile = directory.resolve(Snapshot.STATE_FILE);
        byte[] all;
        try {
            long size = Files.size(stateFile);
            if (size > HEADER_BYTES + MAX_PAYLOAD) throw new SnapshotFormatException(stateFile + " is too large (" + size + " bytes)");
            all = Files.readAllBytes(stateFile);
        } catch (NoSuchFileException e) {
            throw new SnapshotFormatException("no snapshot in " + directory + ": " + stateFile.getFileName() + " is missing", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (all.length < HEADER_BYTES) throw new SnapshotFormatException(stateFile + " is truncated: " + all.length + " bytes, header needs " + HEADER_BYTES);
        ByteBuffer header = ByteBuffer.wrap(all, 0, HEADER_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long magic = header.getLong();
        int version = header.getInt();
        int checksum = header.getInt();
        long length = header.getLong();
        if (magic != MAGIC) throw new SnapshotFormatException(stateFile + " is not a Flicker snapshot (bad magic)");
        if (version != FORMAT_VERSION) {
            throw new SnapshotVersionException(stateFile + " has format version " + version + "; this Flicker reads version " + FORMAT_VERSION);
        }
        if (length != all.length - HEADER_BYTES) {
            throw new SnapshotFormatException(stateFile + " is truncated or has trailing bytes: header says " + length
                    + " payload bytes, file has " + (all.length - HEADER_BYTES));
        }
        CRC32C crc = new CRC32C();
        crc.update(all, HEADER_BYTES, (int) length);
        if ((int) crc.getValue() != checksum) throw new SnapshotFormatException(stateFile + " is corrupted: checksum mismatch");
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(all, HEADER_BYTES, (int) length));
            String kind = in.readUTF();
            long memoryBytes = in.readLong();
            if (memoryBytes <= 0 || memoryBytes > MAX_MEMORY || memoryBytes % PAGE != 0) {
                throw new SnapshotFormatException(stateFile + ": bad memory size " + memoryBytes);
            }
            int count = in.readInt();
            if (count < 1 || count > MAX_VCPUS) throw new SnapshotFormatException(stateFile + ": bad vCPU count " + count);
            List<VcpuState> vcpus = new ArrayList<>(count);
            for (int i = 0; i < count; i++) vcpus.add(readVcpu(in));
            int stateLength = in.readInt();
            if (stateLength < 0 || stateLength > in.available()) throw new SnapshotFormatException(stateFile + ": bad guest-state length");
            byte[] guestState = in.readNBytes(stateLength);
            if (in.available() != 0) throw new SnapshotFormatException(stateFile + ": trailing bytes in the payload");
            long memoryFileSize = Files.size(directory.resolve(Snapshot.MEMORY_FILE));
            if (memoryFileSize != memoryBytes) {
                throw new SnapshotFormatException(directory.resolve(Snapshot.MEMORY_FILE) + " has " + memoryFileSize
                        + " bytes, the state says " + memoryBytes);
            }
            return new Snapshot(directory, kind, memoryBytes, List.copyOf(vcpus), guestState);
        } catch (EOFException e) {
            throw new SnapshotFormatException(stateFile + " ends early", e);
        } catch (NoSuchFileException e) {
            throw new SnapshotFormatException("no snapshot in " + directory + ": " + Snapshot.MEMORY_FILE + " is missing", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (IllegalArgumentException e) {
            throw new SnapshotFormatException(stateFile + ": " + e.getMessage(), e);
        }
    }

    private static void writeVcpu(DataOutputStream out, VcpuState v) throws IOException {
        for (int i = 0; i < Regs.COUNT; i++) out.writeLong(v.regs().get(i));
        Sregs s = v.sregs();
        for (int i = 0; i < 8; i++) writeSegment(out, s.segment(i));
        out.writeLong(s.gdt().base());
        out.writeInt(s.gdt().limit());
        out.writeLong(s.idt().base());
        out.writeInt(s.idt().limit());
        for (long cr : new long[] {s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase()}) out.writeLong(cr);
        out.write(v.fpu());
        out.writeInt(v.msrIndices().length);
        for (int i = 0; i < v.msrIndices().length; i++) {
            out.writeInt(v.msrIndices()[i]);
            out.writeLong(v.msrValues()[i]);
        }
    }

    private static VcpuState readVcpu(DataInputStream in) throws IOException {
        long[] regs = new long[Regs.COUNT];
        for (int i = 0; i < Regs.COUNT; i++) regs[i] = in.readLong();
        Segment[] seg = new Segment[8];
        for (int i = 0; i < 8; i++) seg[i] = readSegment(in);
        DescriptorTable gdt = new DescriptorTable(in.readLong(), in.readInt());
        DescriptorTable idt = new DescriptorTable(in.readLong(), in.readInt());
        long[] cr = new long[7];
        for (int i = 0; i < 7; i++) cr[i] = in.readLong();
        Sregs sregs = new Sregs(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7], gdt, idt, cr[0], cr[1],
                cr[2], cr[3], cr[4], cr[5], cr[6]);
        byte[] fpu = in.readNBytes((int) KvmApi.FPU_SIZE);
        if (fpu.length != KvmApi.FPU_SIZE) throw new EOFException();
        int n = in.readInt();
        if (n < 0 || n > MAX_MSRS) throw new SnapshotFormatException("bad MSR count " + n);
        int[] idx = new int[n];
        long[] val = new long[n];
        for (int i = 0; i < n; i++) {
            idx[i] = in.readInt();
            val[i] = in.readLong();
        }
        return new VcpuState(new Regs(regs), sregs, fpu, idx, val);
    }

    private static void writeSegment(DataOutputStream out, Segment s) throws IOException {
        out.writeLong(s.base());
        out.writeInt(s.limit());
        out.writeShort(s.selector());
        out.writeByte(s.type());
        out.writeByte(s.dpl());
        int flags = (s.present() ? 1 : 0) | (s.db() ? 2 : 0) | (s.s() ? 4 : 0) | (s.l() ? 8 : 0) | (s.g() ? 16 : 0)
                | (s.avl() ? 32 : 0) | (s.unusable() ? 64 : 0);
        out.writeByte(flags);
    }

    private static Segment readSegment(DataInputStream in) throws IOException {
        long base = in.readLong();
        int limit = in.readInt();
        int selector = in.readUnsignedShort();
        int type = in.readUnsignedByte(), dpl = in.readUnsignedByte(), f = in.readUnsignedByte();
        if (type > 15 || dpl > 3 || f > 127) throw new SnapshotFormatException("bad segment register");
        return new Segment(base, limit, selector, type, (f & 1) != 0, dpl, (f & 2) != 0, (f & 4) != 0, (f & 8) != 0,
                (f & 16) != 0, (f & 32) != 0, (f & 64) != 0);
    }
}
