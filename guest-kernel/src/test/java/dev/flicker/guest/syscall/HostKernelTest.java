package dev.flicker.guest.syscall;

import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.guest.net.Loopback;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.flicker.guest.abi.Errno.EBADF;
import static dev.flicker.guest.abi.Errno.EEXIST;
import static dev.flicker.guest.abi.Errno.EFAULT;
import static dev.flicker.guest.abi.Errno.EFBIG;
import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Errno.EIO;
import static dev.flicker.guest.abi.Errno.EISDIR;
import static dev.flicker.guest.abi.Errno.ENOENT;
import static dev.flicker.guest.abi.Errno.ENOMEM;
import static dev.flicker.guest.abi.Errno.ENOSPC;
import static dev.flicker.guest.abi.Errno.ENOSYS;
import static dev.flicker.guest.abi.Errno.ENOTDIR;
import static dev.flicker.guest.abi.Errno.ENOTTY;
import static dev.flicker.guest.abi.Errno.EROFS;
import static dev.flicker.guest.abi.Errno.ESPIPE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** System calls handled by the host half, called directly: no vCPU, no /dev/kvm. */
class HostKernelTest {
    private static final long PAGE = 4096;
    private static final long MEMORY = 64L << 20;
    private static final long LIMIT = 32L << 20;
    private static final long BUF = 0x1000_0000L;
    private static final long PATH = BUF + 3 * PAGE;
    private static final long HEAP = 0x2000_0000L;
    private static final int AT_FDCWD = -100;
    private static final int MAP_PRIVATE = 0x02, MAP_SHARED = 0x01, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
    private static final String BUNDLE_TEXT = "hello from the bundle\n";
    private static final byte[] STDIN = "{\"event\":1}".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path temp;

    private GuestMemory memory;
    private AddressSpace space;
    private Bundle bundle;
    private OutputCapture stdout;
    private OutputCapture stderr;
    private HostKernel kernel;
    private TmpFs tmp;

    @BeforeEach
    void setUp() throws IOException {
        Path root = temp.resolve("bundle");
        Files.createDirectories(root.resolve("lib"));
        Files.writeString(root.resolve("data.txt"), BUNDLE_TEXT);
        Files.writeString(root.resolve("lib/x.py"), "print(1)\n");
        Files.writeString(temp.resolve("outside.txt"), "host secret\n");
        // A link out of the bundle: the bundle must leave it out.
        Files.createSymbolicLink(root.resolve("link"), temp.resolve("outside.txt"));

        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        PhysicalPages frames = new PhysicalPages(memory, 2L << 20, MEMORY);
        PageTables tables = new PageTables(memory, frames.allocate(), frames::allocate);
        space = new AddressSpace(memory, tables, frames, LIMIT);
        assertTrue(space.map(BUF, 4 * PAGE, Mman.PROT_READ | Mman.PROT_WRITE, "buffers"));
        bundle = Bundle.open(root);
        stdout = new OutputCapture(1 << 20);
        stderr = new OutputCapture(1 << 20);
        kernel = newKernel(stdout);
    }

    private HostKernel newKernel(OutputCapture out) {
        return newKernel(out, 1 << 20);
    }

    private HostKernel newKernel(OutputCapture out, long tmpBytes) {
        tmp = new TmpFs(tmpBytes);
        HostKernel k = new HostKernel(space, new FileTree(bundle, tmp, new SecureRandom()),
                new Loopback(tmp.budget(), List.of()), STDIN, out, stderr, value -> {},
                new SecureRandom(), "/var/task/hello");
        k.setDeadline(System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
        return k;
    }

    @AfterEach
    void tearDown() {
        bundle.close();
        memory.close();
    }

    private long call(HostKernel k, int nr, long... args) {
        long[] a = Arrays.copyOf(args, 6);
        return k.handle(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }

    private long call(int nr, long... args) {
        return call(kernel, nr, args);
    }

    private long pathUnchecked(String s) {
        try {
            return path(s);
        } catch (MemoryFault e) {
            throw new AssertionError(e);
        }
    }

    private long path(String s) throws MemoryFault {
        space.copyOutBytes(PATH, (s + "\0").getBytes(StandardCharsets.UTF_8));
        return PATH;
    }

    private void put(long va, String s) throws MemoryFault {
        space.copyOutBytes(va, s.getBytes(StandardCharsets.UTF_8));
    }

    private String get(long va, int n) throws MemoryFault {
        return new String(space.copyInBytes(va, n), StandardCharsets.UTF_8);
    }

    private long open(String p, int flags) throws MemoryFault {
        return call(Sys.OPENAT, AT_FDCWD, path(p), flags, 0644);
    }

    // ---- write and read ----

    @Test
    void writeToStdoutAndStderrIsCaptured() throws MemoryFault {
        put(BUF, "hi there");
        assertEquals(8, call(Sys.WRITE, 1, BUF, 8));
        assertEquals(3, call(Sys.WRITE, 2, BUF, 3));
        assertEquals(5, call(Sys.WRITE, 1, BUF + 3, 5));
        assertEquals("hi therethere", new String(stdout.bytes(), StandardCharsets.UTF_8));
        assertEquals("hi ", new String(stderr.bytes(), StandardCharsets.UTF_8));
        assertEquals(0, call(Sys.WRITE, 1, BUF, 0));
        assertEquals(0, kernel.unknownCalls());
        assertEquals(4, kernel.counts()[Sys.WRITE]);
    }

    @Test
    void writeWithABadPointerIsEfault() throws MemoryFault {
        put(BUF, "x");
        assertEquals(-EFAULT, call(Sys.WRITE, 1, 0xDEAD_0000L, 4));
        assertEquals(-EFAULT, call(Sys.WRITE, 1, 0, 1));
        assertEquals(-EFAULT, call(Sys.WRITE, 1, 0xFFFF_FFFF_8000_0000L, 1), "kernel window");
        assertEquals(-EFAULT, call(Sys.WRITE, 1, 0x0000_8000_0000_0000L, 1), "non-canonical");
        // Runs off the end of the mapping.
        assertEquals(-EFAULT, call(Sys.WRITE, 1, BUF + 4 * PAGE - 2, 4));
        assertEquals(0, stdout.bytes().length, "nothing was captured");
    }

    @Test
    void writeToBadDescriptorsIsEbadf() throws MemoryFault {
        put(BUF, "x");
        assertEquals(-EBADF, call(Sys.WRITE, 7, BUF, 1));
        assertEquals(-EBADF, call(Sys.WRITE, -1, BUF, 1));
        assertEquals(-EBADF, call(Sys.WRITE, 0, BUF, 1), "stdin is read-only");
        assertEquals(-EBADF, call(Sys.READ, 1, BUF, 1), "stdout is write-only");
        assertEquals(-EINVAL, call(Sys.WRITE, 1, BUF, -1));
    }

    @Test
    void fullOutputStillChecksThePointer() throws MemoryFault {
        OutputCapture small = new OutputCapture(8);
        HostKernel k = newKernel(small);
        put(BUF, "0123456789abcdefghij");
        assertEquals(20, call(k, Sys.WRITE, 1, BUF, 20));
        assertEquals("01234567", new String(small.bytes(), StandardCharsets.UTF_8));
        assertEquals(12, small.droppedBytes());
        assertTrue(small.full());
        assertEquals(5, call(k, Sys.WRITE, 1, BUF, 5));
        assertEquals(17, small.droppedBytes());
        assertEquals(-EFAULT, call(k, Sys.WRITE, 1, 0xDEAD_0000L, 5));
        assertEquals(17, small.droppedBytes());
    }

    @Test
    void writevGathersBuffers() throws MemoryFault {
        put(BUF + 100, "abc");
        put(BUF + 200, "defg");
        space.copyOutLong(BUF, BUF + 100);
        space.copyOutLong(BUF + 8, 3);
        space.copyOutLong(BUF + 16, BUF + 200);
        space.copyOutLong(BUF + 24, 4);
        assertEquals(7, call(Sys.WRITEV, 1, BUF, 2));
        assertEquals("abcdefg", new String(stdout.bytes(), StandardCharsets.UTF_8));
        assertEquals(-EFAULT, call(Sys.WRITEV, 1, 0xDEAD_0000L, 1));
        assertEquals(-EINVAL, call(Sys.WRITEV, 1, BUF, -1));
    }

    @Test
    void readFromStdin() throws MemoryFault {
        assertEquals(5, call(Sys.READ, 0, BUF, 5));
        assertEquals("{\"eve", get(BUF, 5));
        assertEquals(STDIN.length - 5, call(Sys.READ, 0, BUF + 100, 100));
        assertEquals("nt\":1}", get(BUF + 100, STDIN.length - 5));
        assertEquals(0, call(Sys.READ, 0, BUF, 100), "end of input");
        assertEquals(-EFAULT, newKernelRead(0xDEAD_0000L));
    }

    private long newKernelRead(long buf) {
        return call(newKernel(stdout), Sys.READ, 0, buf, 4);
    }

    // ---- files ----

    @Test
    void openAndReadABundleFile() throws MemoryFault {
        long fd = open("/var/task/data.txt", Fcntl.O_RDONLY);
        assertEquals(3, fd, "lowest free descriptor");
        assertEquals(BUNDLE_TEXT.length(), call(Sys.READ, fd, BUF, 1000));
        assertEquals(BUNDLE_TEXT, get(BUF, BUNDLE_TEXT.length()));
        assertEquals(0, call(Sys.READ, fd, BUF, 1000));
        assertEquals(0, call(Sys.LSEEK, fd, 0, 0));
        assertEquals(5, call(Sys.READ, fd, BUF, 5));
        assertEquals("hello", get(BUF, 5));
        // pread does not move the offset.
        assertEquals(3, call(Sys.PREAD64, fd, BUF, 3, 6));
        assertEquals("fro", get(BUF, 3));
        assertEquals(1, call(Sys.READ, fd, BUF, 1));
        assertEquals(" ", get(BUF, 1));
        // Relative to the working directory, which starts at /var/task.
        long fd2 = open("lib/x.py", Fcntl.O_RDONLY);
        assertEquals(4, fd2);
        assertEquals(9, call(Sys.READ, fd2, BUF, 100));
        assertEquals("print(1)\n", get(BUF, 9));
        assertEquals(0, call(Sys.CLOSE, fd));
        assertEquals(-EBADF, call(Sys.CLOSE, fd));
        assertEquals(-EBADF, call(Sys.READ, fd, BUF, 1));
        assertEquals(3, open("data.txt", Fcntl.O_RDONLY), "descriptor 3 is reused");
        assertEquals(-EFAULT, call(Sys.READ, 3, 0xDEAD_0000L, 10));
    }

    @Test
    void aBundleFileChangedOrRemovedAfterIndexingIsEio() throws Exception {
        long fd = open("/var/task/data.txt", Fcntl.O_RDONLY);
        long lib = open("/var/task/lib/x.py", Fcntl.O_RDONLY);
        // Mapping the indexed size of a file that shrank would fault inside the JVM when read.
        Files.writeString(temp.resolve("bundle/data.txt"), "short");
        Files.delete(temp.resolve("bundle/lib/x.py"));
        assertEquals(-EIO, call(Sys.READ, fd, BUF, 100));
        assertEquals(-EIO, call(Sys.PREAD64, lib, BUF, 4, 0));
        assertEquals(-EIO, call(Sys.MMAP, 0, PAGE, 1, MAP_PRIVATE, fd, 0));
        assertEquals(1, space.mappings().size(), "the failed mmap left no mapping");
        assertEquals(0, bundle.mappedFiles());
    }

    @Test
    void pathsCannotLeaveTheNamespace() throws MemoryFault {
        assertEquals(-ENOENT, open("../../etc/passwd", Fcntl.O_RDONLY));
        assertEquals(-ENOENT, open("/var/task/../../../etc/passwd", Fcntl.O_RDONLY));
        assertEquals(-ENOENT, open("../outside.txt", Fcntl.O_RDONLY));
        assertEquals(-ENOENT, open("/var/task/../../outside.txt", Fcntl.O_RDONLY));
        assertEquals(-ENOENT, open("/var/task/link", Fcntl.O_RDONLY), "symbolic links are left out");
        assertEquals(-ENOENT, open("/var/task/missing", Fcntl.O_RDONLY));
        assertEquals(-ENOENT, open("", Fcntl.O_RDONLY));
        // ".." at the root stays at the root.
        long fd = open("/../../../var/./task//data.txt", Fcntl.O_RDONLY);
        assertTrue(fd >= 3);
        assertEquals(-EFAULT, call(Sys.OPENAT, AT_FDCWD, 0xDEAD_0000L, 0, 0));
    }

    @Test
    void theBundleIsReadOnly() throws MemoryFault {
        assertEquals(-EROFS, open("/var/task/new.txt", Fcntl.O_WRONLY | Fcntl.O_CREAT));
        assertEquals(-EROFS, open("new.txt", Fcntl.O_RDWR | Fcntl.O_CREAT));
        assertEquals(-EROFS, open("/var/task/data.txt", Fcntl.O_RDWR));
        assertEquals(-EROFS, open("/var/task/data.txt", Fcntl.O_WRONLY | Fcntl.O_TRUNC));
        assertEquals(-ENOENT, open("/var/task/nodir/new.txt", Fcntl.O_WRONLY | Fcntl.O_CREAT));
        assertEquals(-EISDIR, open("/var/task", Fcntl.O_WRONLY));
        assertEquals(-EROFS, call(Sys.UNLINKAT, AT_FDCWD, path("/var/task/data.txt"), 0));
        assertEquals(-EROFS, call(Sys.MKDIRAT, AT_FDCWD, path("/var/task/newdir"), 0755));
        assertNotNull(bundle.file("data.txt"), "still there");
        assertFalse(Files.exists(temp.resolve("bundle/new.txt")), "nothing was created on the host");
        assertEquals(-ENOTDIR, open("/var/task/data.txt", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY));
    }

    @Test
    void tmpFilesCanBeCreatedWrittenReadAndUnlinked() throws MemoryFault {
        long fd = open("/tmp/f.txt", Fcntl.O_RDWR | Fcntl.O_CREAT);
        assertEquals(3, fd);
        put(BUF, "temporary");
        assertEquals(9, call(Sys.WRITE, fd, BUF, 9));
        assertEquals(0, call(Sys.LSEEK, fd, 0, 0));
        assertEquals(9, call(Sys.READ, fd, BUF + 100, 100));
        assertEquals("temporary", get(BUF + 100, 9));
        assertEquals(9, call(Sys.LSEEK, fd, 0, 2), "SEEK_END is the size");
        assertEquals(0, call(Sys.CLOSE, fd));

        assertEquals(-EEXIST, open("/tmp/f.txt", Fcntl.O_RDWR | Fcntl.O_CREAT | Fcntl.O_EXCL));
        // Reopened, appended to, then truncated.
        long app = open("/tmp/f.txt", Fcntl.O_WRONLY | Fcntl.O_APPEND);
        put(BUF, "!!");
        assertEquals(2, call(Sys.WRITE, app, BUF, 2));
        long rd = open("/tmp/f.txt", Fcntl.O_RDONLY);
        assertEquals(11, call(Sys.READ, rd, BUF + 200, 100));
        assertEquals("temporary!!", get(BUF + 200, 11));
        long tr = open("/tmp/f.txt", Fcntl.O_WRONLY | Fcntl.O_TRUNC);
        assertTrue(tr >= 3);
        assertEquals(0, call(Sys.LSEEK, rd, 0, 2));

        assertEquals(0, call(Sys.UNLINKAT, AT_FDCWD, path("/tmp/f.txt"), 0));
        assertEquals(-ENOENT, open("/tmp/f.txt", Fcntl.O_RDONLY));
        assertEquals(-ENOENT, call(Sys.UNLINK, path("/tmp/f.txt")));

        // Directories in /tmp.
        assertEquals(0, call(Sys.MKDIR, path("/tmp/d"), 0755));
        assertEquals(-EEXIST, call(Sys.MKDIR, path("/tmp/d"), 0755));
        assertTrue(open("/tmp/d/inner", Fcntl.O_WRONLY | Fcntl.O_CREAT) >= 3);
        assertEquals(-ENOENT, open("/tmp/nodir/inner", Fcntl.O_WRONLY | Fcntl.O_CREAT));
        assertEquals(-EISDIR, call(Sys.UNLINKAT, AT_FDCWD, path("/tmp/d"), 0));
        assertEquals(-39, call(Sys.UNLINKAT, AT_FDCWD, path("/tmp/d"), 0x200), "ENOTEMPTY");
        assertEquals(0, call(Sys.UNLINKAT, AT_FDCWD, path("/tmp/d/inner"), 0));
        assertEquals(0, call(Sys.UNLINKAT, AT_FDCWD, path("/tmp/d"), 0x200));
        assertEquals(-EROFS, call(Sys.UNLINKAT, AT_FDCWD, path("/tmp"), 0x200));
    }

    @Test
    void aTmpFileRemovedWhileOpenKeepsItsBytesUntilItsLastDescriptorCloses() throws MemoryFault {
        final long ENOSPC = -28, TMP_LIMIT = 1 << 20;
        long fd = open("/tmp/scratch", Fcntl.O_RDWR | Fcntl.O_CREAT);
        put(BUF, "keep me");
        assertEquals(7, call(Sys.WRITE, fd, BUF, 7));
        assertEquals(0, call(Sys.FTRUNCATE, fd, TMP_LIMIT * 3 / 4));
        assertEquals(0, call(Sys.UNLINK, path("/tmp/scratch")));
        long copy = call(Sys.DUP, fd);
        assertEquals(0, call(Sys.CLOSE, fd));

        // Still readable through the other descriptor, and still counted against /tmp's limit.
        assertEquals(0, call(Sys.LSEEK, copy, 0, 0));
        assertEquals(7, call(Sys.READ, copy, BUF + 100, 7));
        assertEquals("keep me", get(BUF + 100, 7));
        long other = open("/tmp/other", Fcntl.O_RDWR | Fcntl.O_CREAT);
        assertEquals(ENOSPC, call(Sys.FTRUNCATE, other, TMP_LIMIT / 2));

        assertEquals(0, call(Sys.CLOSE, copy)); // the last one: its bytes go back
        assertEquals(0, call(Sys.FTRUNCATE, other, TMP_LIMIT / 2));
        assertEquals(-EINVAL, call(Sys.FTRUNCATE, other, -1));
        assertEquals(-EINVAL, call(Sys.FTRUNCATE, 1, 0), "stdout is not a file");
        assertEquals(-EBADF, call(Sys.FTRUNCATE, 999, 0));
    }

    /** Decodes linux_dirent64 records: name and d_type. */
    private List<String> dirents(long buf, int length) throws MemoryFault {
        MemorySegment b = MemorySegment.ofArray(space.copyInBytes(buf, length));
        List<String> out = new ArrayList<>();
        long at = 0;
        while (at < length) {
            int reclen = Short.toUnsignedInt(b.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 16));
            assertEquals(0, reclen % 8, "records are 8-byte aligned");
            int type = b.get(ValueLayout.JAVA_BYTE, at + 18);
            int end = (int) (at + 19);
            while (b.get(ValueLayout.JAVA_BYTE, end) != 0) end++;
            String name = new String(b.asSlice(at + 19, end - at - 19).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            out.add(name + ":" + type);
            at += reclen;
        }
        assertEquals(length, at);
        return out;
    }

    @Test
    void getdents64ListsNames() throws MemoryFault {
        long fd = open("/var/task", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY);
        assertTrue(fd >= 3);
        long n = call(Sys.GETDENTS64, fd, BUF, 2 * PAGE);
        assertTrue(n > 0);
        List<String> names = dirents(BUF, (int) n);
        List<String> expected = new ArrayList<>(List.of(".:" + FileMode.DT_DIR, "..:" + FileMode.DT_DIR,
                "data.txt:" + FileMode.DT_REG, "lib:" + FileMode.DT_DIR));
        assertEquals(expected, names, "sorted, no symbolic link");
        assertEquals(0, call(Sys.GETDENTS64, fd, BUF, 2 * PAGE), "end of directory");

        // A buffer too small for one record.
        long fd2 = open("/var/task", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY);
        assertEquals(-EINVAL, call(Sys.GETDENTS64, fd2, BUF, 10));
        // A buffer for one record at a time (the longest, "data.txt", takes 32 bytes).
        List<String> one = new ArrayList<>();
        long r;
        while ((r = call(Sys.GETDENTS64, fd2, BUF, 32)) > 0) {
            List<String> got = dirents(BUF, (int) r);
            assertEquals(1, got.size());
            one.addAll(got);
        }
        assertEquals(0, r);
        assertEquals(4, one.size());

        long file = open("/var/task/data.txt", Fcntl.O_RDONLY);
        assertEquals(-ENOTDIR, call(Sys.GETDENTS64, file, BUF, PAGE));
        assertEquals(-EBADF, call(Sys.GETDENTS64, 99, BUF, PAGE));

        // /tmp lists what was created in it; /dev its devices.
        assertTrue(open("/tmp/made", Fcntl.O_WRONLY | Fcntl.O_CREAT) >= 3);
        long tmp = open("/tmp", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY);
        long tn = call(Sys.GETDENTS64, tmp, BUF, PAGE);
        assertTrue(dirents(BUF, (int) tn).contains("made:" + FileMode.DT_REG));
        long dev = open("/dev", Fcntl.O_RDONLY);
        long dn = call(Sys.GETDENTS64, dev, BUF, PAGE);
        assertTrue(dirents(BUF, (int) dn).containsAll(List.of("null:" + FileMode.DT_CHR, "urandom:" + FileMode.DT_CHR)));
        long root = open("/", Fcntl.O_RDONLY);
        long rn = call(Sys.GETDENTS64, root, BUF, PAGE);
        assertEquals(List.of(".:4", "..:4", "dev:4", "tmp:4", "var:4"), dirents(BUF, (int) rn));
    }

    @Test
    void oneGetdents64ReturnsAtMostOneMebibyteHoweverLargeItsCount() throws MemoryFault {
        kernel = newKernel(stdout, 8 << 20); // room for the entries: each costs /tmp its name and a node
        assertEquals(0, call(Sys.MKDIR, path("/tmp/many"), 0755));
        String longName = "n".repeat(200);
        int files = 6000; // about 1.3 MiB of records
        for (int i = 0; i < files; i++) {
            long fd = open("/tmp/many/" + longName + i, Fcntl.O_WRONLY | Fcntl.O_CREAT);
            assertEquals(0, call(Sys.CLOSE, fd));
        }
        long buf = call(Sys.MMAP, 0, 2 << 20, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        long dir = open("/tmp/many", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY);
        int entries = 0;
        long n;
        while ((n = call(Sys.GETDENTS64, dir, buf, Long.MAX_VALUE)) > 0) {
            assertTrue(n <= 1 << 20, "one call returned " + n + " bytes");
            entries += dirents(buf, (int) n).size();
        }
        assertEquals(0, n);
        assertEquals(files + 2, entries, "every entry, over several calls");
    }

    // ---- unknown calls ----

    @Test
    void unknownSyscallsAreEnosysAndCounted() {
        assertEquals(-ENOSYS, call(999));
        assertEquals(1, kernel.unknownCalls());
        assertEquals(1, kernel.counts()[511], "numbers above 510 share the last slot");
        assertEquals(-ENOSYS, call(500));
        assertEquals(2, kernel.unknownCalls());
        assertEquals(1, kernel.counts()[500]);
        assertEquals(-ENOSYS, kernel.handle(-1, 0, 0, 0, 0, 0, 0));
        assertEquals(-ENOSYS, kernel.handle(1L << 40, 0, 0, 0, 0, 0, 0));
        assertEquals(4, kernel.unknownCalls());
        // Known calls that are refused on purpose are not "unknown".
        assertEquals(-ENOSYS, call(Sys.RSEQ, 0, 0, 0, 0));
        assertEquals(4, kernel.unknownCalls());
    }

    // ---- memory ----

    @Test
    void anonymousMmapAndMunmap() throws MemoryFault {
        long before = space.committedBytes();
        long addr = call(Sys.MMAP, 0, 10_000, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assertTrue(addr > 0 && addr % PAGE == 0, Long.toHexString(addr));
        assertEquals(AddressSpace.MMAP_TOP - 3 * PAGE, addr, "top-down, rounded up to pages");
        assertEquals(before + 3 * PAGE, space.committedBytes());
        assertArrayEquals(new byte[10_000], space.copyInBytes(addr, 10_000), "zero-filled");
        space.copyOutLong(addr + 3 * PAGE - 8, 42);
        assertEquals(42, space.copyInLong(addr + 3 * PAGE - 8));

        long second = call(Sys.MMAP, 0, PAGE, 1, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assertEquals(addr - PAGE, second);
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(second, new byte[1]), "PROT_READ");

        assertEquals(0, call(Sys.MUNMAP, addr, 10_000));
        assertEquals(before + PAGE, space.committedBytes());
        assertThrows(MemoryFault.class, () -> space.copyInBytes(addr, 1));
        assertEquals(0, call(Sys.MUNMAP, second, PAGE));
        assertEquals(before, space.committedBytes());

        // A hint that is free is used; MAP_FIXED replaces what is there.
        assertEquals(0x3000_0000L, call(Sys.MMAP, 0x3000_0000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        space.copyOutLong(0x3000_0000L, 7);
        assertEquals(0x3000_0000L, call(Sys.MMAP, 0x3000_0000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        assertEquals(0, space.copyInLong(0x3000_0000L), "the fixed mapping is fresh");
        assertEquals(before + PAGE, space.committedBytes());
    }

    @Test
    void mmapArgumentsAreValidated() {
        long anon = MAP_PRIVATE | MAP_ANONYMOUS;
        assertEquals(-EINVAL, call(Sys.MMAP, 0, 0, 3, anon, -1, 0), "zero length");
        assertEquals(-EINVAL, call(Sys.MMAP, 0, PAGE, 3, MAP_ANONYMOUS, -1, 0), "neither shared nor private");
        assertEquals(-EINVAL, call(Sys.MMAP, 0, PAGE, 3, anon, -1, 100), "unaligned offset");
        assertEquals(-EINVAL, call(Sys.MMAP, 0, PAGE, 8, anon, -1, 0), "unknown protection bits");
        assertEquals(-EINVAL, call(Sys.MMAP, 0x3000_0001L, PAGE, 3, anon | MAP_FIXED, -1, 0), "unaligned fixed");
        assertEquals(-ENOMEM, call(Sys.MMAP, 0x1000, PAGE, 3, anon | MAP_FIXED, -1, 0), "below mmap_min_addr");
        assertEquals(-ENOMEM, call(Sys.MMAP, 0, LIMIT + PAGE, 3, anon, -1, 0), "past the limit");
        assertEquals(-ENOMEM, call(Sys.MMAP, 0, Long.MAX_VALUE, 3, anon, -1, 0));
        assertEquals(-EBADF, call(Sys.MMAP, 0, PAGE, 1, MAP_PRIVATE, 77, 0), "file mapping of a bad descriptor");
        assertEquals(-EINVAL, call(Sys.MUNMAP, BUF + 1, PAGE));
        assertEquals(-EINVAL, call(Sys.MUNMAP, BUF, 0));
        assertEquals(-ENOMEM, call(Sys.MPROTECT, 0x5000_0000L, PAGE, 1), "not mapped");
        assertEquals(1, space.mappings().size(), "only the test's buffers");
    }

    @Test
    void mmapOfABundleFileCopiesItsContents() throws MemoryFault {
        long fd = open("/var/task/data.txt", Fcntl.O_RDONLY);
        long addr = call(Sys.MMAP, 0, PAGE, 1, MAP_PRIVATE, fd, 0);
        assertTrue(addr > 0);
        assertEquals(BUNDLE_TEXT, get(addr, BUNDLE_TEXT.length()));
        assertArrayEquals(new byte[16], space.copyInBytes(addr + BUNDLE_TEXT.length(), 16), "zero past the end");
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(addr, new byte[1]), "mapped read-only");
        assertEquals(-13, call(Sys.MMAP, 0, PAGE, 3, MAP_SHARED, fd, 0), "EACCES: shared writable file mapping");
    }

    @Test
    void mprotectChangesAccess() throws MemoryFault {
        long addr = call(Sys.MMAP, 0, 2 * PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        put(addr, "data");
        assertEquals(0, call(Sys.MPROTECT, addr, PAGE, 1));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(addr, new byte[1]));
        assertEquals("data", get(addr, 4));
        assertEquals(0, call(Sys.MPROTECT, addr, PAGE, 0));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(addr, 1));
        assertEquals(0, call(Sys.MPROTECT, addr, PAGE, 3));
        assertEquals("data", get(addr, 4));
        assertEquals(-EINVAL, call(Sys.MPROTECT, addr + 1, PAGE, 1));
        assertEquals(-ENOMEM, call(Sys.MPROTECT, addr, 3 * PAGE, 1), "runs past the mapping");
    }

    @Test
    void brkGrowsAndShrinksTheHeap() throws MemoryFault {
        kernel.setBrk(HEAP);
        long before = space.committedBytes();
        assertEquals(HEAP, call(Sys.BRK, 0), "query");
        assertEquals(HEAP + 10_000, call(Sys.BRK, HEAP + 10_000));
        assertEquals(before + 3 * PAGE, space.committedBytes());
        AddressSpace.Mapping m = space.mappingAt(HEAP);
        assertNotNull(m);
        assertEquals("[heap]", m.name());
        space.copyOutLong(HEAP + 3 * PAGE - 8, 99);
        assertEquals(HEAP + 10_000, call(Sys.BRK, 0));

        assertEquals(HEAP + 5 * PAGE, call(Sys.BRK, HEAP + 5 * PAGE));
        assertEquals(before + 5 * PAGE, space.committedBytes());
        assertEquals(99, space.copyInLong(HEAP + 3 * PAGE - 8), "growing keeps the old contents");

        assertEquals(HEAP + 100, call(Sys.BRK, HEAP + 100));
        assertEquals(before + PAGE, space.committedBytes());
        assertThrows(MemoryFault.class, () -> space.copyInBytes(HEAP + PAGE, 1));
        space.copyOutLong(HEAP, 1);

        assertEquals(HEAP, call(Sys.BRK, HEAP));
        assertEquals(before, space.committedBytes());
        assertNull(space.mappingAt(HEAP));
        assertEquals(HEAP, call(Sys.BRK, HEAP - PAGE), "below the start: unchanged");

        // Grown again, the heap reads zero.
        assertEquals(HEAP + 3 * PAGE, call(Sys.BRK, HEAP + 3 * PAGE));
        assertEquals(0, space.copyInLong(HEAP + 3 * PAGE - 8));
        assertEquals(0, space.copyInLong(HEAP));

        // Past the limit: unchanged.
        assertEquals(HEAP + 3 * PAGE, call(Sys.BRK, HEAP + LIMIT * 2));
        assertEquals(before + 3 * PAGE, space.committedBytes());
        // Into an existing mapping: unchanged.
        assertEquals(0x2010_0000L, call(Sys.MMAP, 0x2010_0000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        assertEquals(HEAP + 3 * PAGE, call(Sys.BRK, 0x2020_0000L));
    }

    // ---- arguments near the ends of long and of user space (issue 9): errnos, never host exceptions ----

    private static final int MREMAP_MAYMOVE = 1;

    private List<String> layout() {
        return space.mappings().stream().map(m -> Long.toHexString(m.start()) + "-" + Long.toHexString(m.end()) + "/" + m.prot())
                .toList();
    }

    @Test
    void mremapAtTheTopOfTheLongRangeIsEfaultNotAnOverflow() {
        // oldAddr + oldLen wrapped past Long.MAX_VALUE: the range looked mapped and the mapping was null.
        assertEquals(-EFAULT, call(Sys.MREMAP, 0x7fff_ffff_ffff_f000L, PAGE, 2 * PAGE, 0));
        assertEquals(-EFAULT, call(Sys.MREMAP, 0x7fff_ffff_ffff_f000L, PAGE, 2 * PAGE, MREMAP_MAYMOVE));
        assertEquals(-EFAULT, call(Sys.MREMAP, AddressSpace.USER_VA_END, PAGE, 2 * PAGE, 0), "the end of user space");
        assertEquals(-EFAULT, call(Sys.MREMAP, BUF, 0x7fff_ffff_ffff_f000L & AddressSpace.USER_VA_END, 2 * PAGE, 0),
                "an old size that runs past the end of user space");
        assertEquals(-EINVAL, call(Sys.MREMAP, BUF, Long.MAX_VALUE, 2 * PAGE, 0), "an old size past user space");
        assertEquals(-EFAULT, call(Sys.MREMAP, 0x5000_0000L, PAGE, 2 * PAGE, 0), "nothing mapped there");
    }

    @Test
    void mremapToAHugeSizeIsEnomemAndUnmapsNothing() throws MemoryFault {
        long below = call(Sys.MMAP, 0x3000_0000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        long addr = call(Sys.MMAP, 0x3001_0000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        put(below, "below");
        List<String> before = layout();
        long committed = space.committedBytes();
        // Rounded up, Long.MAX_VALUE - 100 wrapped to a negative length: a "shrink" that unmapped everything below.
        assertEquals(-ENOMEM, call(Sys.MREMAP, addr, PAGE, Long.MAX_VALUE - 100, 0));
        assertEquals(-ENOMEM, call(Sys.MREMAP, addr, PAGE, Long.MAX_VALUE - 100, MREMAP_MAYMOVE));
        assertEquals(-ENOMEM, call(Sys.MREMAP, addr, PAGE, AddressSpace.USER_VA_END + PAGE, MREMAP_MAYMOVE));
        assertEquals(-EINVAL, call(Sys.MREMAP, addr, PAGE, -1, MREMAP_MAYMOVE), "an unsigned size that rounds up to 0");
        assertEquals(-EINVAL, call(Sys.MREMAP, addr, PAGE, 0, 0));
        assertEquals(before, layout());
        assertEquals(committed, space.committedBytes());
        assertEquals("below", get(below, 5));
    }

    @Test
    void mremapGrowsOnlyARangeOfOneProtectionAndMovesItsContents() throws MemoryFault {
        long addr = call(Sys.MMAP, 0x3000_0000L, 2 * PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        assertEquals(0, call(Sys.MPROTECT, addr + PAGE, PAGE, 1));
        assertEquals(-EFAULT, call(Sys.MREMAP, addr, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE), "two protections: not one mapping");
        assertEquals(addr, call(Sys.MREMAP, addr, 2 * PAGE, PAGE, 0), "shrinking needs no single mapping");

        // A PROT_NONE range keeps its contents when it moves (the host copies through a readable mapping).
        long none = call(Sys.MMAP, 0x3100_0000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        put(none, "hidden");
        assertEquals(0, call(Sys.MPROTECT, none, PAGE, 0));
        assertEquals(none + PAGE, call(Sys.MMAP, none + PAGE, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        long committed = space.committedBytes();
        long moved = call(Sys.MREMAP, none, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
        assertTrue(moved > 0 && moved != none, Long.toHexString(moved));
        assertEquals(0, space.mappingAt(moved).prot());
        assertEquals(committed, space.committedBytes(), "still PROT_NONE: nothing committed");
        assertNull(space.mappingAt(none));
        assertEquals(0, call(Sys.MPROTECT, moved, 3 * PAGE, 3));
        assertEquals("hidden", get(moved, 6));
    }

    @Test
    void pwriteAndWriteAtTheEndOfLongAreEfbig() throws MemoryFault {
        long fd = open("/tmp/big", Fcntl.O_RDWR | Fcntl.O_CREAT);
        long entryBytes = tmp.usedBytes(); // the entry itself: its node and name
        put(BUF, "0123456789abcdef");
        // at + n wrapped to a negative end: the array copy got a negative index.
        assertEquals(-EFBIG, call(Sys.PWRITE64, fd, BUF, 16, Long.MAX_VALUE - 8));
        assertEquals(-EFBIG, call(Sys.PWRITE64, fd, BUF, 8, Long.MAX_VALUE - 8));
        assertEquals(Long.MAX_VALUE, call(Sys.LSEEK, fd, Long.MAX_VALUE, 0), "Linux allows the offset on tmpfs");
        assertEquals(-EFBIG, call(Sys.WRITE, fd, BUF, 8));
        assertEquals(-EFBIG, call(Sys.PWRITE64, fd, BUF, 8, TmpFs.MAX_FILE_BYTES));
        assertEquals(-ENOSPC, call(Sys.PWRITE64, fd, BUF, 8, TmpFs.MAX_FILE_BYTES - 4), "/tmp is 1 MiB here");
        assertEquals(0, call(Sys.PREAD64, fd, BUF, 8, Long.MAX_VALUE - 8), "reading past the end is the end");
        assertEquals(0, call(Sys.FSTAT, fd, BUF));
        assertEquals(0, space.copyInLong(BUF + 48), "the file is still empty");
        assertEquals(entryBytes, tmp.usedBytes(), "no data bytes are held");
    }

    @Test
    void lseekThatWouldOverflowIsEinval() {
        long fd = call(Sys.OPENAT, AT_FDCWD, pathUnchecked("/var/task/data.txt"), Fcntl.O_RDONLY, 0);
        assertEquals(Long.MAX_VALUE - 1, call(Sys.LSEEK, fd, Long.MAX_VALUE - 1, 0));
        assertEquals(-EINVAL, call(Sys.LSEEK, fd, 2, 1), "SEEK_CUR past Long.MAX_VALUE");
        assertEquals(Long.MAX_VALUE - 1, call(Sys.LSEEK, fd, 0, 1), "unchanged");
        assertEquals(-EINVAL, call(Sys.LSEEK, fd, Long.MAX_VALUE, 2), "SEEK_END past Long.MAX_VALUE");
        assertEquals(-EINVAL, call(Sys.LSEEK, fd, Long.MIN_VALUE, 1), "negative");
        assertEquals(0, call(Sys.READ, fd, BUF, 8));
    }

    @Test
    void streamsAndSocketsCannotSeek() {
        assertEquals(-ESPIPE, call(Sys.PREAD64, 0, BUF, 4, 0), "stdin");
        assertEquals(-ESPIPE, call(Sys.PWRITE64, 1, BUF, 4, 0), "stdout");
        long sock = call(Sys.SOCKET, 2, 1, 0);
        assertEquals(-ESPIPE, call(Sys.LSEEK, sock, 0, 0));
        assertEquals(-ESPIPE, call(Sys.PREAD64, sock, BUF, 4, 0));
        assertEquals(-EINVAL, call(Sys.PREAD64, 0, BUF, 4, -1), "a negative offset first, as Linux");
        assertEquals(-EBADF, call(Sys.PREAD64, 99, BUF, 4, 0));
    }

    @Test
    void brkPastTheEndIsRefusedAndTheHeapStillWorks() throws MemoryFault {
        kernel.setBrk(HEAP);
        assertEquals(HEAP + PAGE, call(Sys.BRK, HEAP + PAGE));
        put(HEAP, "heap");
        List<String> before = layout();
        // Rounded up, Long.MAX_VALUE wrapped below the heap: everything under it was unmapped, and the next brk threw.
        for (long huge : new long[] {Long.MAX_VALUE, Long.MAX_VALUE - 4095, AddressSpace.MMAP_TOP + 1, AddressSpace.USER_VA_END}) {
            assertEquals(HEAP + PAGE, call(Sys.BRK, huge), Long.toHexString(huge));
        }
        assertEquals(before, layout());
        assertEquals("heap", get(HEAP, 4));
        assertEquals(HEAP + 2 * PAGE, call(Sys.BRK, HEAP + 2 * PAGE), "a later brk works");
        assertEquals(HEAP + 10, call(Sys.BRK, HEAP + 10));
        assertEquals("heap", get(HEAP, 4));
    }

    @Test
    void openIgnoresFlagBitsLinuxDoesNotKnow() throws MemoryFault {
        long fd = call(Sys.OPENAT, AT_FDCWD, path("/var/task/data.txt"), 0xFFFF_FFFF_8000_0000L | Fcntl.O_NONBLOCK, 0);
        assertTrue(fd >= 3, "opened: " + fd);
        assertEquals(Fcntl.O_NONBLOCK, call(Sys.FCNTL, fd, 3, 0), "F_GETFL shows only flags Linux keeps");
    }

    @Test
    void madviseDontneedClearsOnlyWritableMemoryAndSkipsTheRest() throws MemoryFault {
        long addr = call(Sys.MMAP, 0x3000_0000L, 3 * PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        put(addr, "first");
        put(addr + PAGE, "second");
        put(addr + 2 * PAGE, "third");
        assertEquals(0, call(Sys.MPROTECT, addr + PAGE, PAGE, 0));
        final int MADV_DONTNEED = 4;
        assertEquals(0, call(Sys.MADVISE, addr, 3 * PAGE, MADV_DONTNEED), "was EFAULT at the PROT_NONE page");
        assertArrayEquals(new byte[5], space.copyInBytes(addr, 5));
        assertArrayEquals(new byte[5], space.copyInBytes(addr + 2 * PAGE, 5));
        assertEquals(-EINVAL, call(Sys.MADVISE, addr, Long.MAX_VALUE, MADV_DONTNEED));
        assertEquals(-EINVAL, call(Sys.MADVISE, 0x7fff_ffff_ffff_f000L, PAGE, MADV_DONTNEED));
    }

    @Test
    void oneVectoredCallMovesAtMostOneMebibyte() throws MemoryFault {
        long devNull = open("/dev/null", Fcntl.O_WRONLY);
        for (int i = 0; i < 3; i++) {
            space.copyOutLong(BUF + 16L * i, BUF);
            space.copyOutLong(BUF + 16L * i + 8, 1 << 20);
        }
        assertEquals(1 << 20, call(Sys.WRITEV, devNull, BUF, 3), "a short count, as after a partial write");
    }

    @Test
    void munmapMprotectAndMmapRangesPastUserSpaceAreRefused() {
        assertEquals(-EINVAL, call(Sys.MUNMAP, 0x7fff_ffff_ffff_f000L, PAGE));
        assertEquals(-EINVAL, call(Sys.MUNMAP, BUF, Long.MAX_VALUE));
        assertEquals(-ENOMEM, call(Sys.MPROTECT, 0x7fff_ffff_ffff_f000L, PAGE, 1));
        assertEquals(-ENOMEM, call(Sys.MPROTECT, BUF, Long.MAX_VALUE - 100, 1));
        assertEquals(-ENOMEM, call(Sys.MMAP, 0x7fff_ffff_ffff_f000L, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        assertEquals(-ENOMEM, call(Sys.MMAP, BUF, Long.MAX_VALUE - 100, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        assertEquals(1, space.mappings().size(), "only the test's buffers");
    }

    // ---- time, randomness, process ----

    @Test
    void clockGettimeWritesAPlausibleTimespec() throws MemoryFault {
        long nowSeconds = Instant.now().getEpochSecond();
        assertEquals(0, call(Sys.CLOCK_GETTIME, 0, BUF));
        long sec = space.copyInLong(BUF), nsec = space.copyInLong(BUF + 8);
        assertTrue(Math.abs(sec - nowSeconds) <= 5, "CLOCK_REALTIME " + sec + " vs " + nowSeconds);
        assertTrue(nsec >= 0 && nsec < 1_000_000_000L);

        long mono = System.nanoTime();
        assertEquals(0, call(Sys.CLOCK_GETTIME, 1, BUF + 16));
        long m = space.copyInLong(BUF + 16) * 1_000_000_000L + space.copyInLong(BUF + 24);
        assertTrue(Math.abs(m - mono) < TimeUnit.SECONDS.toNanos(5), "CLOCK_MONOTONIC");
        assertEquals(0, call(Sys.CLOCK_GETTIME, 1, BUF + 32));
        long m2 = space.copyInLong(BUF + 32) * 1_000_000_000L + space.copyInLong(BUF + 40);
        assertTrue(m2 >= m, "monotonic");

        assertEquals(-EINVAL, call(Sys.CLOCK_GETTIME, 99, BUF));
        assertEquals(-EFAULT, call(Sys.CLOCK_GETTIME, 0, 0xDEAD_0000L));
        assertEquals(-EFAULT, call(Sys.CLOCK_GETTIME, 0, BUF + 4 * PAGE - 8), "timespec runs off the mapping");

        assertEquals(0, call(Sys.GETTIMEOFDAY, BUF + 48));
        assertTrue(Math.abs(space.copyInLong(BUF + 48) - nowSeconds) <= 5);
        long usec = space.copyInLong(BUF + 56);
        assertTrue(usec >= 0 && usec < 1_000_000);
        long t = call(Sys.TIME, 0);
        assertTrue(Math.abs(t - nowSeconds) <= 5);
    }

    private long cpuClock(HostKernel k) throws MemoryFault {
        final int CLOCK_PROCESS_CPUTIME_ID = 2;
        assertEquals(0, call(k, Sys.CLOCK_GETTIME, CLOCK_PROCESS_CPUTIME_ID, BUF));
        return space.copyInLong(BUF) * 1_000_000_000L + space.copyInLong(BUF + 8);
    }

    @Test
    void theCpuClockCountsOnlyThisVmsRuns() throws MemoryFault {
        // This thread has used CPU before (JUnit, class loading); none of it may show in a VM's clock.
        assertEquals(0, cpuClock(kernel), "no run yet");
        kernel.runStarted();
        long spin = 0;
        for (long until = System.nanoTime() + 20_000_000; System.nanoTime() < until; ) spin++;
        kernel.runEnded();
        long used = cpuClock(kernel);
        assertTrue(used > 0 && spin > 0, "a run's CPU time counts: " + used);
        assertEquals(used, cpuClock(kernel), "and stops counting when the run ends");
        HostKernel next = newKernel(stdout); // another VM on the same host thread
        assertEquals(0, cpuClock(next));
        assertEquals(0, call(next, Sys.SYSINFO, BUF));
        assertTrue(space.copyInLong(BUF) <= 1, "uptime is the VM's, in seconds: " + space.copyInLong(BUF));
    }

    @Test
    void getrandomReturnsFreshBytes() throws MemoryFault {
        assertEquals(32, call(Sys.GETRANDOM, BUF, 32, 0));
        assertEquals(32, call(Sys.GETRANDOM, BUF + 64, 32, 0));
        byte[] a = space.copyInBytes(BUF, 32), b = space.copyInBytes(BUF + 64, 32);
        assertFalse(Arrays.equals(a, b));
        assertFalse(Arrays.equals(new byte[32], a));
        // Only the requested bytes are written.
        assertArrayEquals(new byte[32], space.copyInBytes(BUF + 32, 32));
        assertEquals(-EFAULT, call(Sys.GETRANDOM, 0xDEAD_0000L, 16, 0));
        assertEquals(-EINVAL, call(Sys.GETRANDOM, BUF, -1, 0));
    }

    @Test
    void getrlimitReportsTheStackThatWasMapped() throws MemoryFault {
        final int RLIMIT_STACK = 3;
        assertEquals(0, call(Sys.GETRLIMIT, RLIMIT_STACK, BUF));
        assertEquals(8L << 20, space.copyInLong(BUF), "Linux's default until the loader says otherwise");
        kernel.setStackLimit(1L << 20);
        assertEquals(0, call(Sys.PRLIMIT64, 0, RLIMIT_STACK, 0, BUF));
        assertEquals(1L << 20, space.copyInLong(BUF));
        assertEquals(1L << 20, space.copyInLong(BUF + 8));
    }

    @Test
    void exitGroupSetsTheStatus() {
        assertFalse(kernel.exited());
        assertEquals(0, call(Sys.EXIT_GROUP, 3));
        assertTrue(kernel.exited());
        assertEquals(3, kernel.exitStatus());

        HostKernel k = newKernel(stdout);
        call(k, Sys.EXIT, 256 + 7);
        assertTrue(k.exited());
        assertEquals(7, k.exitStatus(), "only the low 8 bits");
    }

    @Test
    void processIdentityIsFixed() throws MemoryFault {
        assertEquals(1, call(Sys.GETPID));
        assertEquals(1, call(Sys.GETTID));
        assertEquals(0, call(Sys.GETPPID));
        assertEquals(1000, call(Sys.GETUID));
        assertEquals(1000, call(Sys.GETEGID));
        long n = call(Sys.GETCWD, BUF, 100);
        assertEquals("/var/task".length() + 1, n);
        assertEquals("/var/task", space.copyInString(BUF, 100));
        assertEquals(0, call(Sys.CHDIR, path("/tmp")));
        call(Sys.GETCWD, BUF, 100);
        assertEquals("/tmp", space.copyInString(BUF, 100));
        assertEquals(-ENOTDIR, call(Sys.CHDIR, path("/var/task/data.txt")));
        long r = call(Sys.READLINK, path("/proc/self/exe"), BUF, 100);
        assertEquals("/var/task/hello".length(), r);
        assertEquals("/var/task/hello", get(BUF, (int) r));
    }

    // ---- what CPython and its modules ask for (docs/python-survey.md) ----

    @Test
    void recordLocksAreCheckedAndAlwaysGranted() throws MemoryFault {
        long fd = open("/tmp/db", Fcntl.O_RDWR | Fcntl.O_CREAT);
        long ro = open("/var/task/data.txt", Fcntl.O_RDONLY);
        long lock = BUF + PAGE;
        putLock(lock, 1, 0, 0, 0, 0); // F_WRLCK of the whole file
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_SETLK, lock), "SQLite's write lock is granted");
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_SETLKW, lock));
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_GETLK, lock));
        assertEquals(2, space.copyInBytes(lock, 1)[0], "F_GETLK: nothing conflicts, F_UNLCK");
        putLock(lock, 2, 0, 0, 0, 0);
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_SETLK, lock), "unlock");
        assertEquals(-EINVAL, call(Sys.FCNTL, fd, Fcntl.F_GETLK, lock), "F_GETLK of F_UNLCK");
        putLock(lock, 1, 0, 0, 0, 0);
        assertEquals(-EBADF, call(Sys.FCNTL, ro, Fcntl.F_SETLK, lock), "a write lock needs a writable descriptor");
        putLock(lock, 0, 0, 0, 0, 0);
        assertEquals(0, call(Sys.FCNTL, ro, Fcntl.F_SETLK, lock), "a read lock of a read-only one is fine");
        putLock(lock, 7, 0, 0, 0, 0);
        assertEquals(-EINVAL, call(Sys.FCNTL, fd, Fcntl.F_SETLK, lock), "no such lock type");
        putLock(lock, 0, 9, 0, 0, 0);
        assertEquals(-EINVAL, call(Sys.FCNTL, fd, Fcntl.F_SETLK, lock), "no such whence");
        putLock(lock, 0, 0, 0, 0, 1);
        assertEquals(-EINVAL, call(Sys.FCNTL, fd, Fcntl.F_OFD_SETLK, lock), "an OFD lock's l_pid must be 0");
        putLock(lock, 0, 0, 0, 0, 0);
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_OFD_SETLKW, lock));
        assertEquals(-EFAULT, call(Sys.FCNTL, fd, Fcntl.F_SETLK, 0x10));
        assertEquals(-EBADF, call(Sys.FCNTL, 77, Fcntl.F_SETLK, lock));
    }

    private void putLock(long at, int type, int whence, long start, long length, int pid) throws MemoryFault {
        MemorySegment b = MemorySegment.ofArray(new byte[32]);
        b.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) type);
        b.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) whence);
        b.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, start);
        b.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, length);
        b.set(ValueLayout.JAVA_INT_UNALIGNED, 24, pid);
        space.copyOut(at, b, 0, 32);
    }

    @Test
    void fionbioAndFioclexWorkOnEveryDescriptorAndOtherRequestsAreEnotty() throws MemoryFault {
        long fd = open("/var/task/data.txt", Fcntl.O_RDONLY);
        space.copyOutInt(BUF, 1);
        assertEquals(0, call(Sys.IOCTL, fd, 0x5421, BUF), "FIONBIO on");
        assertEquals(Fcntl.O_NONBLOCK, call(Sys.FCNTL, fd, Fcntl.F_GETFL) & Fcntl.O_NONBLOCK);
        space.copyOutInt(BUF, 0);
        assertEquals(0, call(Sys.IOCTL, fd, 0x5421, BUF), "FIONBIO off");
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_GETFL) & Fcntl.O_NONBLOCK);
        assertEquals(-EFAULT, call(Sys.IOCTL, fd, 0x5421, 0x10));
        assertEquals(0, call(Sys.IOCTL, fd, 0x5451, 0), "FIOCLEX, as CPython sets it on the script it opens");
        assertEquals(Fcntl.FD_CLOEXEC, call(Sys.FCNTL, fd, Fcntl.F_GETFD));
        assertEquals(0, call(Sys.IOCTL, fd, 0x5450, 0), "FIONCLEX");
        assertEquals(0, call(Sys.FCNTL, fd, Fcntl.F_GETFD));
        assertEquals(-ENOTTY, call(Sys.IOCTL, 1, 0x5401, BUF), "TCGETS: no terminal");
        assertEquals(-EBADF, call(Sys.IOCTL, 99, 0x5451, 0));
    }

    @Test
    void fsyncSucceedsOnFilesAndIsEinvalOnStreams() throws MemoryFault {
        long fd = open("/tmp/f", Fcntl.O_RDWR | Fcntl.O_CREAT);
        assertEquals(0, call(Sys.FSYNC, fd));
        assertEquals(0, call(Sys.FDATASYNC, fd));
        assertEquals(0, call(Sys.FSYNC, open("/tmp", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY)));
        assertEquals(-EINVAL, call(Sys.FSYNC, 1));
        assertEquals(-EBADF, call(Sys.FDATASYNC, 99));
    }

    @Test
    void sigkillsActionCanBeReadButNotChanged() throws MemoryFault {
        long act = BUF, old = BUF + 64;
        space.copyOutBytes(act, new byte[32]);
        assertEquals(0, call(Sys.RT_SIGACTION, 9, 0, old, 8), "CPython reads every signal's action");
        assertEquals(0, call(Sys.RT_SIGACTION, 19, 0, old, 8));
        assertEquals(-EINVAL, call(Sys.RT_SIGACTION, 9, act, old, 8));
        assertEquals(-EINVAL, call(Sys.RT_SIGACTION, 19, act, 0, 8));
        assertEquals(0, call(Sys.RT_SIGACTION, 2, act, old, 8));
    }

    @Test
    void threadsProcessesAndEpollAreEnosysOnPurposeNotUnknown() {
        for (int nr : new int[] {Sys.CLONE, Sys.CLONE3, Sys.FORK, Sys.VFORK, Sys.EPOLL_CREATE, Sys.EPOLL_CREATE1}) {
            assertEquals(-ENOSYS, call(nr, 0, 0, 0, 0), "call " + nr);
        }
        assertEquals(0, kernel.unknownCalls());
    }

    @Test
    void pollWithNothingReadySleepsItsTimeoutAndAZeroTimeoutDoesNot() throws MemoryFault {
        space.copyOutInt(BUF, -1); // no descriptor: as selectors polls an empty set
        space.copyOutInt(BUF + 4, 1);
        long t0 = System.nanoTime();
        assertEquals(0, call(Sys.POLL, BUF, 1, 300));
        long sleptMillis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(sleptMillis >= 300, "poll slept its timeout: " + sleptMillis + " ms");
        assertEquals(0, call(Sys.POLL, BUF, 1, 0));
        t0 = System.nanoTime();
        kernel.setDeadline(t0 + TimeUnit.MILLISECONDS.toNanos(200));
        assertEquals(0, call(Sys.POLL, BUF, 1, -1), "an infinite wait ends at the deadline");
        assertEquals(0, call(Sys.POLL, BUF, 1, 60_000), "and so does a long one");
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "never past the deadline");
        space.copyOutInt(BUF, 0); // stdin: ready at once, whatever the timeout
        assertEquals(1, call(Sys.POLL, BUF, 1, 60_000));
    }
}
