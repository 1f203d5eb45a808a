package dev.flicker.guest.syscall;

import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.abi.Errno;
import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.guest.net.EchoEndpoint;
import dev.flicker.guest.net.Loopback;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static dev.flicker.guest.syscall.HostKernelPropertyTest.Kind.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The property every system call must keep, whatever a hostile program passes: it returns a value or
 * {@code -errno} (one Linux defines), and leaves the address space consistent; it never raises a host exception.
 * Arguments come from seeded generators (a failure names the seed, the call and its arguments, so it can be
 * replayed), weighted towards edge values: 0, -1, the ends of {@code long} and {@code int}, the end of user
 * space, page boundaries plus or minus one, the edges of existing mappings, valid pointers and paths, and the
 * descriptors the fixture opened. Every number from 0 to 511 is called, so a call added later is covered too.
 */
class HostKernelPropertyTest {
    private static final long PAGE = 4096;
    private static final long MEMORY = 64L << 20;
    private static final long LIMIT = 32L << 20;
    private static final long TMP_LIMIT = 1L << 20;
    private static final long BUF = 0x1000_0000L;
    private static final long BUF_BYTES = 8 * PAGE;
    private static final long PATH_PTR = BUF + BUF_BYTES - 2 * PAGE;
    private static final long HEAP = 0x2000_0000L;
    /** Where the fixture's socket connects: an echo endpoint stands in for the Runtime API. */
    private static final int ENDPOINT_PORT = 9001;
    private static final int CALLS_PER_NUMBER = 2_000;
    private static final int CALLS_PER_SEQUENCE = 3_000;
    private static final Set<Long> ERRNOS = linuxErrnos();

    @TempDir
    Path temp;

    private GuestMemory memory;
    private AddressSpace space;
    private TmpFs tmp;
    private Bundle bundle;
    private HostKernel kernel;

    private static Set<Long> linuxErrnos() {
        Set<Long> out = new HashSet<>();
        for (Field f : Errno.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                try {
                    out.add((long) f.getInt(null));
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return out;
    }

    @BeforeEach
    void setUp() throws IOException, MemoryFault {
        Path root = temp.resolve("bundle");
        Files.createDirectories(root.resolve("lib"));
        Files.writeString(root.resolve("data.txt"), "hello from the bundle\n");
        Files.write(root.resolve("lib/big.bin"), new byte[3 * (int) PAGE + 17]);
        Files.write(root.resolve("empty"), new byte[0]);

        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        PhysicalPages frames = new PhysicalPages(memory, 2L << 20, MEMORY);
        // As MicroVm's: running out of page-table frames is a host bug, and must show as one here.
        PageTables tables = new PageTables(memory, frames.allocate(), () -> {
            long f = frames.allocate();
            if (f < 0) throw new IllegalStateException("page-table space exhausted");
            return f;
        });
        space = new AddressSpace(memory, tables, frames, LIMIT);
        assertTrue(space.map(BUF, BUF_BYTES, Mman.PROT_READ | Mman.PROT_WRITE, "buffers"));
        bundle = Bundle.open(root);
        tmp = new TmpFs(TMP_LIMIT);
        kernel = new HostKernel(space, new FileTree(bundle, tmp, new SecureRandom()),
                new Loopback(tmp.budget(), List.of(EchoEndpoint.spec(ENDPOINT_PORT))), "{\"event\":1}".getBytes(StandardCharsets.UTF_8),
                new OutputCapture(64 << 10), new OutputCapture(64 << 10), value -> {}, new SecureRandom(), "/var/task/hello");
        kernel.setDeadline(System.nanoTime()); // sleeps and waits return at once
        kernel.setBrk(HEAP);
        openFixtureFiles();
    }

    /** Descriptors 3 to 10: something of every kind, so that random descriptors reach every path. */
    private void openFixtureFiles() throws MemoryFault {
        assertEquals(3, open("/var/task/data.txt", Fcntl.O_RDONLY));
        assertEquals(4, open("/tmp/file", Fcntl.O_RDWR | Fcntl.O_CREAT));
        space.copyOutBytes(BUF, "some bytes in /tmp".getBytes(StandardCharsets.UTF_8));
        assertEquals(18, kernel.handle(Sys.WRITE, 4, BUF, 18, 0, 0, 0));
        assertEquals(5, open("/var/task", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY));
        assertEquals(6, kernel.handle(Sys.SOCKET, 2, 1, 0, 0, 0, 0));
        byte[] addr = {2, 0, (byte) (ENDPOINT_PORT >> 8), (byte) ENDPOINT_PORT, 127, 0, 0, 1};
        space.copyOutBytes(BUF, addr);
        assertEquals(0, kernel.handle(Sys.CONNECT, 6, BUF, 16, 0, 0, 0));
        assertEquals(7, open("/dev/zero", Fcntl.O_RDWR));
        assertEquals(8, open("/tmp", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY));
        assertEquals(9, open("/var/task/lib/big.bin", Fcntl.O_RDONLY));
        assertEquals(10, open("/dev/urandom", Fcntl.O_RDONLY));
    }

    private long open(String path, int flags) throws MemoryFault {
        space.copyOutBytes(PATH_PTR, (path + "\0").getBytes(StandardCharsets.UTF_8));
        return kernel.handle(Sys.OPENAT, -100, PATH_PTR, flags, 0644, 0, 0);
    }

    @AfterEach
    void tearDown() {
        bundle.close();
        memory.close();
    }

    static IntStream everyNumber() {
        return IntStream.range(0, 512);
    }

    @ParameterizedTest(name = "syscall {0}")
    @MethodSource("everyNumber")
    void everyCallAnswersWithAValueOrAnErrno(int nr) {
        long seed = 0x5EED_0000L + nr;
        Arguments generate = new Arguments(new Random(seed));
        int calls = SIGNATURES.containsKey(nr) ? CALLS_PER_NUMBER : CALLS_PER_NUMBER / 20;
        for (int i = 0; i < calls; i++) callAndCheck(seed, i, nr, generate.next(nr));
    }

    /** Calls in random order on one kernel, so that one call's state meets another's arguments (lseek then write...). */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
    void randomSequencesOfCallsKeepTheKernelConsistent(long seed) {
        Random random = new Random(seed);
        Arguments generate = new Arguments(random);
        int[] known = IntStream.range(0, 512).filter(nr -> SyscallTable.X86_64.lookup(nr) != null).toArray();
        for (int i = 0; i < CALLS_PER_SEQUENCE; i++) {
            int nr = random.nextInt(20) == 0 ? random.nextInt(-2, 600) : known[random.nextInt(known.length)];
            callAndCheck(seed, i, nr, generate.next(nr));
        }
    }

    private void callAndCheck(long seed, int index, long nr, long[] a) {
        String call = "seed " + seed + ", call " + index + ": " + SyscallTable.X86_64.name((int) Math.max(0, Math.min(nr, 511))) + "("
                + String.join(", ", Arrays.stream(a).mapToObj(v -> "0x" + Long.toHexString(v)).toList()) + ")";
        List<long[]> before = layout();
        long brkBefore = kernel.handle(Sys.BRK, 0, 0, 0, 0, 0, 0);
        long result;
        try {
            result = kernel.handle(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        } catch (Throwable t) {
            throw new AssertionError(call + " threw " + t, t);
        }
        if (result < 0 && !ERRNOS.contains(-result)) fail(call + " returned " + result + ", not -errno");
        checkResult(call, nr, a, result);
        checkAddressSpace(call);
        List<long[]> allowed = rangesItMayChange(nr, a, result, brkBefore);
        if (!same(outside(before, allowed), outside(layout(), allowed))) {
            fail(call + " = " + result + " changed memory outside the range it names: " + render(before) + " became " + render(layout()));
        }
        assertTrue(tmp.usedBytes() >= 0 && tmp.usedBytes() <= TMP_LIMIT, call + ": /tmp holds " + tmp.usedBytes());
        restoreFixture();
    }

    /** What a successful result of some calls must look like. */
    private static void checkResult(String call, long nr, long[] a, long result) {
        if (result < 0) return;
        switch ((int) nr) {
            case Sys.READ, Sys.WRITE, Sys.PREAD64, Sys.PWRITE64, Sys.GETRANDOM, Sys.SENDTO, Sys.RECVFROM ->
                    assertTrue(result <= (nr == Sys.GETRANDOM ? a[1] : a[2]), call + " returned more than asked: " + result);
            case Sys.MMAP, Sys.MREMAP -> assertTrue(result % PAGE == 0 && result >= AddressSpace.MIN_USER_VA
                    && result < AddressSpace.USER_VA_END, call + " returned a bad address 0x" + Long.toHexString(result));
            case Sys.BRK -> assertTrue(result >= HEAP && result <= AddressSpace.MMAP_TOP,
                    call + " moved the break to 0x" + Long.toHexString(result));
            default -> {
            }
        }
    }

    /** Mappings in order, inside user space, page-aligned, and the committed count is theirs and within the limit. */
    private void checkAddressSpace(String call) {
        long previousEnd = 0, accessible = 0;
        for (AddressSpace.Mapping m : space.mappings()) {
            boolean ok = m.start() % PAGE == 0 && m.end() % PAGE == 0 && m.start() >= AddressSpace.MIN_USER_VA
                    && m.end() <= AddressSpace.USER_VA_END && m.start() < m.end() && m.start() >= previousEnd;
            if (!ok) fail(call + " left a bad mapping 0x" + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end()));
            previousEnd = m.end();
            if (m.prot() != 0) accessible += m.end() - m.start();
        }
        assertEquals(accessible, space.committedBytes(), call + ": committed bytes do not match the mappings");
        assertTrue(space.committedBytes() <= space.limitBytes(), call + ": committed past the limit");
    }

    /** The mappings as {start, end, prot}, adjacent ones with one protection merged (as Linux merges VMAs). */
    private List<long[]> layout() {
        List<long[]> out = new ArrayList<>();
        for (AddressSpace.Mapping m : space.mappings()) add(out, m.start(), m.end(), m.prot());
        return out;
    }

    private static void add(List<long[]> out, long start, long end, long prot) {
        if (start >= end) return;
        long[] last = out.isEmpty() ? null : out.getLast();
        if (last != null && last[1] == start && last[2] == prot) last[1] = end;
        else out.add(new long[] {start, end, prot});
    }

    /** {@code layout} without the parts inside {@code ranges}. */
    private static List<long[]> outside(List<long[]> layout, List<long[]> ranges) {
        List<long[]> out = new ArrayList<>();
        for (long[] m : layout) {
            List<long[]> pieces = new ArrayList<>(List.of(new long[] {m[0], m[1]}));
            for (long[] r : ranges) {
                List<long[]> next = new ArrayList<>();
                for (long[] p : pieces) {
                    if (r[1] <= p[0] || r[0] >= p[1]) {
                        next.add(p);
                    } else {
                        if (p[0] < r[0]) next.add(new long[] {p[0], r[0]});
                        if (r[1] < p[1]) next.add(new long[] {r[1], p[1]});
                    }
                }
                pieces = next;
            }
            for (long[] p : pieces) add(out, p[0], p[1], m[2]);
        }
        return out;
    }

    private static boolean same(List<long[]> x, List<long[]> y) {
        if (x.size() != y.size()) return false;
        for (int i = 0; i < x.size(); i++) if (!Arrays.equals(x.get(i), y.get(i))) return false;
        return true;
    }

    private static String render(List<long[]> layout) {
        return String.join(" ", layout.stream().map(m -> "0x" + Long.toHexString(m[0]) + "-0x" + Long.toHexString(m[1])
                + "/" + m[2]).toList());
    }

    /** {@code [start, start+length)} rounded out to pages and clipped to user space, without overflowing. */
    private static long[] range(long start, long length) {
        long end = AddressSpace.USER_VA_END;
        long from = Math.clamp(start, 0, end) & -PAGE;
        long to = length < 0 || start > end - length ? end : Math.clamp(start + length + PAGE - 1, 0, end) & -PAGE;
        return new long[] {from, Math.max(from, to)};
    }

    /**
     * Where a call may change the mappings: only the memory calls, and only inside the range they name (a mremap
     * also where it moved to, a brk between the old and the new break, a failed MAP_FIXED where it unmapped).
     */
    private static List<long[]> rangesItMayChange(long nr, long[] a, long result, long brkBefore) {
        final long MAP_FIXED = 0x10, MAP_FIXED_NOREPLACE = 0x100000;
        List<long[]> ranges = new ArrayList<>();
        switch ((int) nr) {
            case Sys.MMAP -> {
                if (result >= 0) ranges.add(range(result, a[1]));
                else if ((a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0) ranges.add(range(a[0], a[1]));
            }
            case Sys.MUNMAP, Sys.MPROTECT -> ranges.add(range(a[0], a[1]));
            case Sys.MREMAP -> {
                ranges.add(range(a[0], a[1]));
                if (result >= 0) ranges.add(range(result, a[2]));
            }
            case Sys.BRK -> ranges.add(range(Math.min(brkBefore, result), Math.abs(result - brkBefore) + PAGE));
            default -> {
            }
        }
        return ranges;
    }

    /** Keeps the buffers and the path mapped, so that later calls still get valid pointers. */
    private void restoreFixture() {
        AddressSpace.Mapping m = space.mappingAt(BUF);
        if (m != null && m.start() == BUF && m.end() == BUF + BUF_BYTES && m.prot() == 3) return;
        space.unmap(BUF, BUF + BUF_BYTES);
        if (!space.map(BUF, BUF_BYTES, Mman.PROT_READ | Mman.PROT_WRITE, "buffers")) {
            space.unmap(AddressSpace.MIN_USER_VA, AddressSpace.USER_VA_END); // the program used up its limit: start over
            assertTrue(space.map(BUF, BUF_BYTES, Mman.PROT_READ | Mman.PROT_WRITE, "buffers"),
                    "the fixture's buffers fit again");
        }
    }

    /** What an argument is, from the Linux signature of each call (man 2): it decides how values are drawn. */
    enum Kind { FD, DIRFD, PTR, PATH, SIZE, OFFSET, ADDR, LEN, FLAGS, INT, ANY }

    private static final Map<Integer, Kind[]> SIGNATURES = signatures();

    private static Map<Integer, Kind[]> signatures() {
        Map<Integer, Kind[]> m = new HashMap<>();
        m.put(Sys.READ, kinds(FD, PTR, SIZE));
        m.put(Sys.WRITE, kinds(FD, PTR, SIZE));
        m.put(Sys.OPEN, kinds(PATH, FLAGS, INT));
        m.put(Sys.CLOSE, kinds(FD));
        m.put(Sys.STAT, kinds(PATH, PTR));
        m.put(Sys.FSTAT, kinds(FD, PTR));
        m.put(Sys.LSTAT, kinds(PATH, PTR));
        m.put(Sys.POLL, kinds(PTR, INT, INT));
        m.put(Sys.LSEEK, kinds(FD, OFFSET, INT));
        m.put(Sys.MMAP, kinds(ADDR, LEN, INT, FLAGS, FD, OFFSET));
        m.put(Sys.MPROTECT, kinds(ADDR, LEN, INT));
        m.put(Sys.MUNMAP, kinds(ADDR, LEN));
        m.put(Sys.BRK, kinds(ADDR));
        m.put(Sys.RT_SIGACTION, kinds(INT, PTR, PTR, SIZE));
        m.put(Sys.RT_SIGPROCMASK, kinds(INT, PTR, PTR, SIZE));
        m.put(Sys.IOCTL, kinds(FD, INT, PTR));
        m.put(Sys.PREAD64, kinds(FD, PTR, SIZE, OFFSET));
        m.put(Sys.PWRITE64, kinds(FD, PTR, SIZE, OFFSET));
        m.put(Sys.READV, kinds(FD, PTR, INT));
        m.put(Sys.WRITEV, kinds(FD, PTR, INT));
        m.put(Sys.ACCESS, kinds(PATH, INT));
        m.put(Sys.MREMAP, kinds(ADDR, LEN, LEN, FLAGS, ADDR));
        m.put(Sys.MADVISE, kinds(ADDR, LEN, INT));
        m.put(Sys.DUP, kinds(FD));
        m.put(Sys.DUP2, kinds(FD, FD));
        m.put(Sys.NANOSLEEP, kinds(PTR, PTR));
        m.put(Sys.EXIT, kinds(INT));
        m.put(Sys.UNAME, kinds(PTR));
        m.put(Sys.FCNTL, kinds(FD, INT, ANY));
        m.put(Sys.FTRUNCATE, kinds(FD, OFFSET));
        m.put(Sys.GETCWD, kinds(PTR, SIZE));
        m.put(Sys.CHDIR, kinds(PATH));
        m.put(Sys.MKDIR, kinds(PATH, INT));
        m.put(Sys.UNLINK, kinds(PATH));
        m.put(Sys.READLINK, kinds(PATH, PTR, SIZE));
        m.put(Sys.UMASK, kinds(INT));
        m.put(Sys.GETTIMEOFDAY, kinds(PTR, PTR));
        m.put(Sys.GETRLIMIT, kinds(INT, PTR));
        m.put(Sys.SYSINFO, kinds(PTR));
        m.put(Sys.SIGALTSTACK, kinds(PTR, PTR));
        m.put(Sys.ARCH_PRCTL, kinds(INT, ADDR));
        m.put(Sys.TIME, kinds(PTR));
        m.put(Sys.FUTEX, kinds(PTR, INT, INT, PTR, PTR, INT));
        m.put(Sys.SCHED_GETAFFINITY, kinds(INT, SIZE, PTR));
        m.put(Sys.GETDENTS64, kinds(FD, PTR, SIZE));
        m.put(Sys.SET_TID_ADDRESS, kinds(PTR));
        m.put(Sys.CLOCK_GETTIME, kinds(INT, PTR));
        m.put(Sys.CLOCK_GETRES, kinds(INT, PTR));
        m.put(Sys.CLOCK_NANOSLEEP, kinds(INT, FLAGS, PTR, PTR));
        m.put(Sys.EXIT_GROUP, kinds(INT));
        m.put(Sys.OPENAT, kinds(DIRFD, PATH, FLAGS, INT));
        m.put(Sys.MKDIRAT, kinds(DIRFD, PATH, INT));
        m.put(Sys.NEWFSTATAT, kinds(DIRFD, PATH, PTR, FLAGS));
        m.put(Sys.UNLINKAT, kinds(DIRFD, PATH, FLAGS));
        m.put(Sys.READLINKAT, kinds(DIRFD, PATH, PTR, SIZE));
        m.put(Sys.FACCESSAT, kinds(DIRFD, PATH, INT));
        m.put(Sys.FACCESSAT2, kinds(DIRFD, PATH, INT, FLAGS));
        m.put(Sys.SET_ROBUST_LIST, kinds(PTR, SIZE));
        m.put(Sys.DUP3, kinds(FD, FD, FLAGS));
        m.put(Sys.PRLIMIT64, kinds(INT, INT, PTR, PTR));
        m.put(Sys.GETRANDOM, kinds(PTR, SIZE, FLAGS));
        m.put(Sys.STATX, kinds(DIRFD, PATH, FLAGS, INT, PTR));
        m.put(Sys.SOCKET, kinds(INT, FLAGS, INT));
        m.put(Sys.CONNECT, kinds(FD, PTR, SIZE));
        m.put(Sys.SENDTO, kinds(FD, PTR, SIZE, FLAGS, PTR, SIZE));
        m.put(Sys.RECVFROM, kinds(FD, PTR, SIZE, FLAGS, PTR, PTR));
        m.put(Sys.SHUTDOWN, kinds(FD, INT));
        m.put(Sys.GETSOCKNAME, kinds(FD, PTR, PTR));
        m.put(Sys.GETPEERNAME, kinds(FD, PTR, PTR));
        m.put(Sys.SETSOCKOPT, kinds(FD, INT, INT, PTR, SIZE));
        m.put(Sys.GETSOCKOPT, kinds(FD, INT, INT, PTR, PTR));
        return m;
    }

    private static Kind[] kinds(Kind... k) {
        return k;
    }

    /** Random system-call arguments: drawn by kind, and one in five from anything, weighted towards edge values. */
    private final class Arguments {
        private final Random random;
        /** Where {@code long} arithmetic wraps: a value plus a small one passes the end. */
        private final long[] endsOfLong = {
                Long.MAX_VALUE, Long.MAX_VALUE - 1, Long.MAX_VALUE - 8, Long.MAX_VALUE - 100, Long.MAX_VALUE - 4095,
                Long.MAX_VALUE - 4096, Long.MIN_VALUE, Long.MIN_VALUE + 4096, -1, -2, -4095, -4096,
                Integer.MAX_VALUE, Integer.MAX_VALUE - 16, Integer.MIN_VALUE, 0xFFFF_FFFFL, 1L << 31, 1L << 32,
        };
        /** The edges of the address space and of this fixture's memory. */
        private final long[] addressEdges = {
                0, 1, PAGE - 1, PAGE, PAGE + 1, AddressSpace.MIN_USER_VA, AddressSpace.MIN_USER_VA - 1,
                AddressSpace.MIN_USER_VA - PAGE, AddressSpace.USER_VA_END, AddressSpace.USER_VA_END - 1,
                AddressSpace.USER_VA_END + 1, AddressSpace.USER_VA_END - PAGE, AddressSpace.USER_VA_END + PAGE,
                AddressSpace.MMAP_TOP, AddressSpace.MMAP_TOP - PAGE, AddressSpace.MMAP_TOP + PAGE, 1L << 47,
                (1L << 47) - 1, 0x7fff_ffff_ffff_f000L, 0xffff_8000_0000_0000L, 0xffff_ffff_ffe0_0000L, -PAGE,
                BUF, BUF + BUF_BYTES, BUF + BUF_BYTES - 1, BUF - PAGE, HEAP, HEAP + PAGE, HEAP - 1,
        };
        private final long[] lengthEdges = {
                0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, BUF_BYTES, BUF_BYTES + 1, LIMIT, LIMIT - PAGE, LIMIT + PAGE,
                LIMIT / 2, TMP_LIMIT, TMP_LIMIT + 1, 1L << 20, (1L << 20) + 1, AddressSpace.USER_VA_END,
                AddressSpace.USER_VA_END - PAGE, AddressSpace.USER_VA_END + PAGE, 1L << 40, 1L << 46, 1L << 47,
        };
        private final String[] paths = {
                "/tmp/x", "/tmp/d", "/tmp/d/x", "/tmp", "/tmp/file", "/var/task/data.txt", "/var/task", "data.txt",
                "lib/big.bin", "/dev/null", "/dev/zero", "/dev/urandom", "/", "", ".", "..", "../../..", "/proc/self/exe",
                "/tmp/" + "n".repeat(300), "/var/task/empty", "/tmp/x/y/z", "a/b/../../c", "/tmp/file/x",
        };

        Arguments(Random random) {
            this.random = random;
        }

        long[] next(long nr) {
            Kind[] signature = SIGNATURES.getOrDefault((int) nr, new Kind[0]);
            long[] a = new long[6];
            for (int i = 0; i < 6; i++) a[i] = i < signature.length && random.nextInt(5) != 0 ? of(signature[i]) : any();
            return a;
        }

        private long pick(long[] values) {
            return values[random.nextInt(values.length)];
        }

        private long of(Kind kind) {
            int p = random.nextInt(100);
            return switch (kind) {
                case FD -> p < 70 ? random.nextInt(0, 11) : p < 85 ? pick(new long[] {-1, -100, 1023, 1024, 1L << 32})
                        : random.nextInt(0, 1100);
                case DIRFD -> p < 30 ? -100 : of(Kind.FD);
                case PTR -> p < 45 ? BUF + random.nextLong(BUF_BYTES + 1) : p < 60 ? BUF + BUF_BYTES - random.nextInt(1, 65)
                        : p < 75 ? mappingEdge() : p < 90 ? pick(addressEdges) : pick(endsOfLong);
                case PATH -> p < 85 ? pathPointer() : of(Kind.PTR);
                case SIZE -> p < 40 ? random.nextInt(0, 65) : p < 60 ? pick(lengthEdges) : p < 70 ? random.nextInt(0, 2 << 20)
                        : pick(endsOfLong);
                case OFFSET -> p < 30 ? random.nextInt(0, 65) : p < 40 ? pick(new long[] {18, 3 * PAGE + 17, PAGE})
                        : p < 80 ? pick(endsOfLong) : p < 90 ? pick(lengthEdges) : random.nextLong();
                case ADDR -> p < 35 ? mappingEdge() : p < 60 ? pageBoundary() : p < 85 ? pick(addressEdges) : pick(endsOfLong);
                case LEN -> p < 30 ? PAGE * random.nextInt(0, 17) + random.nextInt(-1, 2) : p < 60 ? pick(lengthEdges)
                        : p < 80 ? pick(endsOfLong) : random.nextLong(1L << 48);
                case FLAGS -> p < 20 ? 0 : p < 75 ? random.nextInt(1 << 21) & random.nextInt(1 << 21) : p < 85
                        ? random.nextInt(0, 8) : pick(endsOfLong);
                case INT -> p < 60 ? random.nextInt(-2, 21) : p < 70 ? pick(new long[] {0x1001, 0x1002, 0x1003, 0x1004, 1030, 128, 137, 139})
                        : pick(endsOfLong);
                case ANY -> any();
            };
        }

        private long any() {
            int kind = random.nextInt(100);
            if (kind < 15) return pick(endsOfLong);
            if (kind < 30) return pick(addressEdges);
            if (kind < 40) return pick(lengthEdges);
            if (kind < 50) return BUF + random.nextLong(BUF_BYTES + 1); // a pointer into the buffers, or just past them
            if (kind < 55) return pathPointer();
            if (kind < 65) return mappingEdge();
            if (kind < 80) return random.nextInt(-3, 16); // descriptors, small sizes, flags, commands
            if (kind < 90) return pageBoundary();
            return random.nextLong();
        }

        private long pathPointer() {
            String p = paths[random.nextInt(paths.length)];
            try {
                space.copyOutBytes(PATH_PTR, (p + "\0").getBytes(StandardCharsets.UTF_8));
            } catch (MemoryFault e) {
                throw new AssertionError("the fixture's path page is mapped", e);
            }
            return PATH_PTR;
        }

        /** The start or end of an existing mapping, or one page around it, give or take one byte. */
        private long mappingEdge() {
            List<AddressSpace.Mapping> all = new ArrayList<>(space.mappings());
            if (all.isEmpty()) return BUF;
            AddressSpace.Mapping m = all.get(random.nextInt(all.size()));
            long base = random.nextBoolean() ? m.start() : m.end();
            return base + PAGE * random.nextInt(-1, 2) + random.nextInt(-1, 2);
        }

        private long pageBoundary() {
            long page = random.nextLong(AddressSpace.USER_VA_END / PAGE + 2) * PAGE;
            return page + random.nextInt(-1, 2);
        }
    }
}
