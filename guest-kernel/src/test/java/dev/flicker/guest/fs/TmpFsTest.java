package dev.flicker.guest.fs;

import dev.flicker.guest.HostMemoryBudget;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /tmp's accounting: file bytes and entries against its own limit and its VM's budget, and its snapshots. */
class TmpFsTest {
    @Test
    void entriesCountTheirNamesAndRemovingThemGivesTheRoomBack() {
        HostMemoryBudget budget = new HostMemoryBudget(1L << 20);
        TmpFs tmp = new TmpFs(1L << 20, budget);
        TmpFs.TmpDirectory d = tmp.root().createDirectory("dir");
        Node.TmpFile f = d.createFile("file");
        assertEquals(TmpFs.entryBytes("dir") + TmpFs.entryBytes("file"), tmp.usedBytes());
        assertTrue(tmp.resize(f, 10_000));
        assertEquals(tmp.usedBytes(), budget.usedBytes());
        d.remove("file"); // not open: its bytes go back with its name
        tmp.root().remove("dir");
        assertEquals(0, tmp.usedBytes());
        assertEquals(0, budget.usedBytes());
    }

    @Test
    void theBudgetOfTheVmLimitsTmpToo() {
        HostMemoryBudget budget = new HostMemoryBudget(64 * 1024);
        TmpFs tmp = new TmpFs(1L << 20, budget);
        assertTrue(budget.tryCharge(60 * 1024)); // say, the VM's sockets
        Node.TmpFile f = tmp.root().createFile("f");
        assertNotNull(f);
        assertTrue(!tmp.resize(f, 8 * 1024), "4 KiB left in the budget");
        int made = 0;
        while (tmp.root().createFile("n" + made) != null) made++;
        assertTrue(made > 0 && made < 20, made + " entries");
        assertNull(tmp.root().createDirectory("more"));
        assertTrue(budget.usedBytes() <= budget.limitBytes());
    }

    @Test
    void aTmpTooDeepToRestoreIsNotSnapshotted() throws IOException {
        TmpFs tmp = new TmpFs(1L << 20);
        TmpFs.TmpDirectory d = tmp.root();
        for (int i = 0; i < 64; i++) d = d.createDirectory("d");
        ByteArrayOutputStream ok = new ByteArrayOutputStream();
        tmp.save(new DataOutputStream(ok));
        new TmpFs(1L << 20).load(new DataInputStream(new ByteArrayInputStream(ok.toByteArray())));
        d.createDirectory("d").createDirectory("d");
        assertThrows(IOException.class, () -> tmp.save(new DataOutputStream(new ByteArrayOutputStream())));
    }

    @Test
    void aSnapshotThatDoesNotFitTheBudgetDoesNotRestore() throws IOException {
        TmpFs big = new TmpFs(1L << 20);
        for (int i = 0; i < 100; i++) big.root().createDirectory("entry-" + i);
        ByteArrayOutputStream state = new ByteArrayOutputStream();
        big.save(new DataOutputStream(state));
        TmpFs small = new TmpFs(1L << 20, new HostMemoryBudget(4096));
        assertThrows(IOException.class,
                () -> small.load(new DataInputStream(new ByteArrayInputStream(state.toByteArray()))));
    }

    @Test
    void aTmpSavedWithAnotherLayoutIsRefusedByName() throws IOException {
        TmpFs tmp = new TmpFs(1L << 20);
        tmp.root().createFile("f");
        ByteArrayOutputStream saved = new ByteArrayOutputStream();
        tmp.save(new DataOutputStream(saved));
        byte[] bytes = saved.toByteArray();
        bytes[2 + "tmp".length() + 3] = (byte) (TmpFs.STATE_VERSION + 1); // the version after the part's name
        IOException e = assertThrows(IOException.class,
                () -> new TmpFs(1L << 20).load(new DataInputStream(new ByteArrayInputStream(bytes))));
        assertTrue(e.getMessage().contains("tmp state has layout version " + (TmpFs.STATE_VERSION + 1)), e.getMessage());
    }
}
