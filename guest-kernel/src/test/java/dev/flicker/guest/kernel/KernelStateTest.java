package dev.flicker.guest.kernel;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Layer;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.net.Loopback;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The kernel state's part of a snapshot, saved and loaded beside it. */
class KernelStateTest {
    @TempDir
    Path temp;

    private KernelState fresh(HostMemoryBudget budget, String exe) {
        return new KernelState(null, new OutputCapture(64), new OutputCapture(64), budget, exe);
    }

    @Test
    void theStateLoadsAsSavedAndAStateOfAnotherLayoutIsRefused() throws IOException {
        Files.createDirectories(temp.resolve("bundle"));
        Files.writeString(temp.resolve("bundle/fn"), "the program");
        HostMemoryBudget budget = new HostMemoryBudget(1 << 20);
        try (Bundle bundle = Bundle.open(temp.resolve("bundle"))) {
            FileTree tree = new FileTree(bundle, new TmpFs(1 << 20, budget), new SecureRandom());
            Loopback loopback = new Loopback(budget, List.of());
            KernelState state = fresh(budget, "/var/task/fn");
            state.setCwd("/tmp");
            state.setUmask(077);
            state.setBrkStart(0x40_0000);
            state.setBrkEnd(0x40_2000);
            state.fds().installAt(7, state.fds().get(1), true); // stdout, duplicated
            ByteArrayOutputStream saved = new ByteArrayOutputStream();
            state.save(new DataOutputStream(saved), tree, loopback);

            KernelState loaded = fresh(budget, null);
            loaded.load(new DataInputStream(new ByteArrayInputStream(saved.toByteArray())), tree, loopback);
            assertEquals("/tmp", loaded.cwd());
            assertEquals(077, loaded.umask());
            assertEquals(0x40_2000, loaded.brkEnd());
            assertEquals("/var/task/fn", loaded.executablePath());
            assertSame(loaded.fds().get(1), loaded.fds().get(7), "duplicated descriptors share one description");
            assertTrue(loaded.fds().closeOnExec(7));

            // The executable must be a file of the tree it is restored on.
            KernelState elsewhere = fresh(budget, "/var/task/gone");
            elsewhere.setBrkStart(0x40_0000);
            ByteArrayOutputStream gone = new ByteArrayOutputStream();
            elsewhere.save(new DataOutputStream(gone), tree, loopback);
            IOException missing = assertThrows(IOException.class, () -> fresh(budget, null)
                    .load(new DataInputStream(new ByteArrayInputStream(gone.toByteArray())), tree, loopback));
            assertTrue(missing.getMessage().contains("bad executable /var/task/gone"), missing.getMessage());

            // A snapshot is restored only on the runtime layer it was taken on: its files are named by path.
            Files.createDirectories(temp.resolve("layer/usr/bin"));
            Files.writeString(temp.resolve("layer/usr/bin/python3.11"), "an interpreter");
            try (Layer layer = Layer.open(temp.resolve("layer"), "python3.11-0123456789abcdef")) {
                FileTree onLayer = new FileTree(bundle, layer, new TmpFs(1 << 20, budget), new SecureRandom());
                KernelState python = fresh(budget, "/usr/bin/python3.11");
                python.setBrkStart(0x40_0000);
                ByteArrayOutputStream onIt = new ByteArrayOutputStream();
                python.save(new DataOutputStream(onIt), onLayer, loopback);
                fresh(budget, null).load(new DataInputStream(new ByteArrayInputStream(onIt.toByteArray())), onLayer, loopback);
                IOException other = assertThrows(IOException.class, () -> fresh(budget, null)
                        .load(new DataInputStream(new ByteArrayInputStream(onIt.toByteArray())), tree, loopback));
                assertEquals("snapshot taken on runtime layer 'python3.11-0123456789abcdef', restored on ''", other.getMessage());
            }

            byte[] bytes = saved.toByteArray();
            bytes[2 + "kernel".length() + 3] = (byte) (KernelState.STATE_VERSION + 1);
            IOException e = assertThrows(IOException.class, () -> fresh(budget, null)
                    .load(new DataInputStream(new ByteArrayInputStream(bytes)), tree, loopback));
            assertTrue(e.getMessage().contains("kernel state has layout version"), e.getMessage());
        }
    }
}
