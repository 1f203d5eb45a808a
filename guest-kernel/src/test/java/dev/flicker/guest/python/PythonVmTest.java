package dev.flicker.guest.python;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's unmodified python3.11 from the runtime layer in real micro VMs: its dynamic loader, its libraries and
 * lib-dynload's C modules, the system calls CPython makes (docs/python-survey.md), and what it costs in committed
 * memory when the layer's files are shared and when they are copied.
 */
@NeedsKvm
class PythonVmTest {
    static Kvm kvm;
    static MicroVmRunner runner;
    static Layer layer;
    @TempDir
    static Path task;
    static Bundle bundle;

    @BeforeAll
    static void start() {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        layer = Layer.open(PythonLayer.root(), "python3.11-test");
        bundle = Bundle.open(task);
    }

    @AfterAll
    static void stop() {
        runner.close();
        bundle.close();
        layer.close();
        kvm.close();
    }

    static RunRequest python(String... args) {
        return RunRequest.of(bundle, "/usr/bin/python3.11").withArgs(args).withEnv(Map.of("LANG", "C.UTF-8", "TZ", ":UTC"))
                .withLayer(layer).withLimits(Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(60_000)));
    }

    @Test
    void theInterpreterImportsItsCModulesAndMakesOnlyCallsTheGuestHas() {
        RunResult r = runner.run(python("-s", "-c", """
                import json, _json, _ssl, ssl, hashlib, _hashlib, decimal, _decimal, sqlite3, zlib, sys, os, threading, selectors
                db = sqlite3.connect("/tmp/t.db")
                db.execute("create table t (x)")
                db.execute("insert into t values (41)")
                db.commit()
                try:
                    threading.Thread(target=print).start()
                    thread = "started"
                except RuntimeError as e:
                    thread = str(e)
                try:
                    os.fork()
                    fork = "forked"
                except OSError as e:
                    fork = e.errno
                print(json.dumps({"sha": hashlib.sha256(b"x").hexdigest()[:8], "ssl": ssl.OPENSSL_VERSION.split()[0],
                    "decimal": str(decimal.Decimal(1) / 8), "sqlite": db.execute("select x + 1 from t").fetchone()[0],
                    "selector": selectors.DefaultSelector.__name__, "thread": thread, "fork": fork,
                    "exe": sys.executable, "prefix": sys.prefix}, sort_keys=True))
                """));
        assertTrue(r.exitedWith(0), () -> r + "\n" + r.stderrText());
        assertEquals("{\"decimal\": \"0.125\", \"exe\": \"/usr/bin/python3.11\", \"fork\": 38, \"prefix\": \"/usr\", "
                + "\"selector\": \"PollSelector\", \"sha\": \"2d711642\", \"sqlite\": 42, \"ssl\": \"OpenSSL\", "
                + "\"thread\": \"can't start new thread\"}\n", r.stdoutText());
        assertEquals(0, r.exits().unknownSyscalls(), r.exits()::toString);
        if (runner.vdsoClocks()) {
            assertTrue(!r.exits().syscalls().containsKey("clock_gettime"), "CPython's clock reads go through the vDSO");
        }
    }

    @Test
    void sharedLayerFilesCostThePythonVmNothingOfItsLimit() {
        long shared = committedWhenWaiting(runner);
        try (MicroVmRunner copying = new MicroVmRunner(kvm)) {
            copying.setShareFiles(false);
            long copied = committedWhenWaiting(copying);
            if (runner.sharesFiles()) {
                // The interpreter's 5.4 MiB of read-only segments, libc's, libm's, libz's, libexpat's: copied, they count.
                assertTrue(copied - shared >= 8L << 20, "committed " + (shared >> 10) + " KiB shared, " + (copied >> 10) + " copied");
            } else {
                assertEquals(copied, shared);
            }
        }
    }

    /** The committed memory of python3.11 waiting on stdin, its imports done. */
    private static long committedWhenWaiting(MicroVmRunner r) {
        try (MicroVm vm = r.boot(python("-s", "-c", "import json, ssl, sys; sys.stdin.read()"))) {
            RunResult init = vm.run();
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, init.outcome(), () -> init + "\n" + init.stderrText());
            return vm.committedBytes();
        }
    }
}
