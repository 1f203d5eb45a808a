package dev.flicker.lambda.runtime;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The example custom runtime (examples/c-runtime) talking to the Runtime API over the guest's loopback socket. */
@NeedsKvm
class RuntimeApiGuestTest {
    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle runtime, musl;

    @BeforeAll
    static void start() {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        runtime = GuestPrograms.bundle("c-runtime");
        musl = GuestPrograms.bundle("musl");
    }

    @AfterAll
    static void stop() {
        runner.close();
        runtime.close();
        musl.close();
        kvm.close();
    }

    static RunRequest bootstrap() {
        return new RunRequest(runtime, "bootstrap", List.of(), Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                new byte[0], Limits.DEFAULT.withMemoryMib(32), List.of(RuntimeApi.ENDPOINT));
    }

    static RuntimeApi.Event event(String payload) {
        return RuntimeApi.Event.of(payload.getBytes(StandardCharsets.UTF_8), "arn:aws:lambda:local:000000000000:function:hello",
                System.currentTimeMillis() + 3000);
    }

    @Test
    void customRuntimeServesOneInvocation() {
        try (MicroVm vm = runner.boot(bootstrap())) {
            RunResult init = vm.run();
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, init.outcome(), () -> init + init.stderrText());
            RuntimeApi.deliver(vm, new RuntimeApi.Event("{\"name\": \"Grace\"}".getBytes(StandardCharsets.UTF_8), "req-1",
                    System.currentTimeMillis() + 3000, "arn:aws:lambda:local:000000000000:function:hello", "Root=1-0-0"));
            RunResult r = vm.run();
            // Having answered, the runtime asks for the next event; that is where this VM's work ends.
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, r.outcome(), () -> r + r.stderrText());
            assertEquals("{\"greeting\":\"hello, Grace\"}", new String(RuntimeApi.of(vm).response(), StandardCharsets.UTF_8));
            assertNull(RuntimeApi.of(vm).error());
            assertTrue(r.exits().syscalls().containsKey("connect"), r.exits()::toString);
        }
    }

    @Test
    void aRunUntilAnsweredStopsAtTheResponse() {
        try (MicroVm vm = runner.boot(bootstrap())) {
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, vm.run().outcome());
            RuntimeApi.deliver(vm, event("{\"name\": \"Ada\"}"));
            RunResult r = vm.runUntil(RuntimeApi.of(vm)::answered);
            assertEquals(RunResult.Outcome.ANSWERED, r.outcome(), () -> r + r.stderrText());
            assertEquals("{\"greeting\":\"hello, Ada\"}", new String(RuntimeApi.of(vm).response(), StandardCharsets.UTF_8));
            // Counts cover the VM's life: one connection, kept open, with one send per request (/next, then the
            // response); the runtime did not get to read the 202 or to ask for its next event.
            assertEquals(1L, r.exits().syscalls().get("connect"), r.exits()::toString);
            assertEquals(2L, r.exits().syscalls().get("sendto"), r.exits()::toString);
            assertEquals(null, r.exits().syscalls().get("close"), r.exits()::toString);
        }
        try (MicroVm vm = runner.boot(bootstrap())) {
            vm.run();
            RuntimeApi.deliver(vm, event("{}"));
            RunResult r = vm.runUntil(RuntimeApi.of(vm)::answered);
            assertEquals(RunResult.Outcome.ANSWERED, r.outcome(), r::toString);
            assertTrue(new String(RuntimeApi.of(vm).error(), StandardCharsets.UTF_8).contains("MissingName"));
            assertEquals("event without a name\n", r.stderrText());
        }
    }

    @Test
    void functionErrorsArePostedToTheErrorPath() {
        try (MicroVm vm = runner.boot(bootstrap())) {
            vm.run();
            RuntimeApi.deliver(vm, event("{}"));
            RunResult r = vm.run();
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, r.outcome(), r::toString);
            assertNull(RuntimeApi.of(vm).response());
            assertEquals("MissingName", new String(RuntimeApi.of(vm).error(), StandardCharsets.UTF_8)
                    .replaceAll(".*\"errorType\":\"([^\"]+)\".*", "$1"));
            assertEquals("event without a name\n", r.stderrText());
        }
    }

    @Test
    void onlyTheRuntimeApiIsReachable() {
        RunResult r = runner.run(RunRequest.of(musl, "hostile").withArgs("connect-elsewhere")
                .withEndpoints(List.of(RuntimeApi.ENDPOINT)));
        assertTrue(r.exitedWith(0), () -> r + r.stdoutText());
        assertEquals("refused 4 of 4\n", r.stdoutText());
    }
}
