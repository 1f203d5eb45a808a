package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.lambda.LambdaClient;
import software.amazon.awssdk.services.lambda.model.GetFunctionConfigurationResponse;
import software.amazon.awssdk.services.lambda.model.InvokeResponse;
import software.amazon.awssdk.services.lambda.model.State;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One well-behaved function beside a hostile tenant, on one platform (issue 9): the victim is invoked at a steady
 * rate, first alone, then while the tenant's functions flood the Runtime API, flood {@code /tmp} with entries, and
 * spin in their init (re-initialised again and again). {@code flicker bench hostile} prints what the victim's
 * latency and the platform's heap do; {@code HostileTenantTest} asserts what must hold whatever the timing.
 */
final class HostileTenants {
    static final String VICTIM = "victim", FLOOD = "attack-flood", TMP = "attack-tmp", INIT = "attack-init";
    /** The attackers' Timeout: each of their invocations must end by it. */
    static final int ATTACK_TIMEOUT_SECONDS = 2;
    private static final byte[] VICTIM_EVENT = "{\"name\":\"victim\"}".getBytes(StandardCharsets.UTF_8);

    private HostileTenants() {}

    /** One attacker invocation: how long it took and how it ended (the error type, or "none"). */
    record AttackInvocation(String function, long millis, String errorType) {}

    /** One round of the spinning init: how long its preparation took and how it ended. */
    record InitRound(long millis, String state, String reason) {}

    /**
     * What happened. Victim latencies are client-side milliseconds of each Invoke; {@code attackedQueuedMillis} are the
     * platform's own record of how long each attacked call waited for a run slot ({@code queuedMs});
     * {@code victimFailures} counts answers that were not the victim's greeting; the heap is the platform JVM's,
     * sampled from its overview.
     */
    record Outcome(List<Double> soloMillis, List<Double> attackedMillis, List<Double> attackedQueuedMillis,
                   List<String> victimFailures, List<AttackInvocation> attacks, List<InitRound> initRounds, long heapBeforeKib,
                   long heapPeakKib) {}

    /**
     * Deploys the four functions from {@code programs} (guest-kernel's test programs) and runs both phases for
     * {@code phase} each, invoking the victim {@code victimPerSecond} times a second.
     */
    static Outcome run(PlatformClient client, Path programs, Duration phase, int victimPerSecond, Duration settleLimit)
            throws Exception {
        LambdaClient lambda = client.lambda();
        byte[] victimZip = FnCommand.zipDirectory(programs.resolve("c-runtime"));
        byte[] attackZip = FnCommand.zipDirectory(programs.resolve("attack-runtime"));
        create(lambda, VICTIM, victimZip, 3, Map.of());
        create(lambda, FLOOD, attackZip, ATTACK_TIMEOUT_SECONDS, Map.of("ATTACK", "api-flood"));
        create(lambda, TMP, attackZip, ATTACK_TIMEOUT_SECONDS, Map.of("ATTACK", "tmp-names"));
        for (String fn : List.of(VICTIM, FLOOD, TMP)) {
            Optional<GetFunctionConfigurationResponse> settled = client.awaitSettled(fn, null, settleLimit);
            if (settled.isEmpty() || settled.get().state() != State.ACTIVE) {
                throw new IllegalStateException(fn + " did not become Active: " + settled.map(GetFunctionConfigurationResponse::stateReason));
            }
        }
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        int warmCalls = 20;
        for (int i = 0; i < warmCalls; i++) invokeVictim(lambda, failures); // warm: the pool learns the rate
        List<Double> solo = victimAtRate(lambda, phase, victimPerSecond, failures);

        long heapBefore = heapUsedKib(client);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong heapPeak = new AtomicLong(heapBefore);
        List<AttackInvocation> attacks = Collections.synchronizedList(new ArrayList<>());
        List<InitRound> rounds = Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        for (String fn : List.of(FLOOD, TMP)) threads.add(Thread.ofPlatform().name(fn).start(() -> attack(lambda, fn, stop, attacks)));
        threads.add(Thread.ofPlatform().name(INIT).start(() -> spinInits(client, attackZip, stop, rounds, settleLimit)));
        threads.add(Thread.ofPlatform().name("heap").start(() -> sampleHeap(client, stop, heapPeak)));
        List<Double> attacked;
        try {
            attacked = victimAtRate(lambda, phase, victimPerSecond, failures);
        } finally {
            stop.set(true);
            for (Thread t : threads) t.join();
        }
        List<Double> queued = newestQueuedMillis(client, warmCalls + solo.size() + attacked.size(), attacked.size(), settleLimit);
        return new Outcome(solo, attacked, queued, List.copyOf(failures), List.copyOf(attacks), List.copyOf(rounds), heapBefore,
                heapPeak.get());
    }

    /**
     * The {@code queuedMs} of the victim's {@code newest} last invocations, once all {@code total} of its records are
     * written (the platform writes them in the background), or what is there after {@code limit}.
     */
    private static List<Double> newestQueuedMillis(PlatformClient client, int total, int newest, Duration limit)
            throws IOException, InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (client.getJson("/admin/invocations", Map.of("function", VICTIM, "limit", "1", "offset", Integer.toString(total - 1))).isEmpty()
                && System.nanoTime() < end) {
            Thread.sleep(100);
        }
        List<Double> queued = new ArrayList<>();
        for (int offset = 0; offset < newest; offset += 1000) {
            String page = Integer.toString(Math.min(1000, newest - offset));
            for (JsonNode r : client.getJson("/admin/invocations", Map.of("function", VICTIM, "limit", page, "offset", Integer.toString(offset)))) {
                queued.add(r.path("queuedMs").asDouble());
            }
        }
        return queued;
    }

    private static void create(LambdaClient lambda, String name, byte[] zip, int timeoutSeconds, Map<String, String> env) {
        lambda.createFunction(b -> b.functionName(name).runtime("provided.al2023").handler("h").memorySize(128)
                .timeout(timeoutSeconds).environment(e -> e.variables(env)).code(c -> c.zipFile(SdkBytes.fromByteArray(zip))));
    }

    /** The victim at a steady rate for {@code phase}: one call every 1/rate s, each measured; late calls are not skipped. */
    private static List<Double> victimAtRate(LambdaClient lambda, Duration phase, int perSecond, List<String> failures)
            throws InterruptedException {
        long interval = 1_000_000_000L / perSecond, start = System.nanoTime(), end = start + phase.toNanos();
        List<Double> millis = new ArrayList<>();
        for (long next = start; next < end; next += interval) {
            long wait = next - System.nanoTime();
            if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            long t0 = System.nanoTime();
            invokeVictim(lambda, failures);
            millis.add((System.nanoTime() - t0) / 1e6);
        }
        return millis;
    }

    private static void invokeVictim(LambdaClient lambda, List<String> failures) {
        try {
            InvokeResponse r = lambda.invoke(b -> b.functionName(VICTIM).payload(SdkBytes.fromByteArray(VICTIM_EVENT)));
            String body = r.payload().asUtf8String();
            if (r.functionError() != null || !body.equals("{\"greeting\":\"hello, victim\"}")) failures.add(r.functionError() + ": " + body);
        } catch (RuntimeException e) {
            failures.add(e.toString());
        }
    }

    /** Invokes an attacker again and again, one at a time, until stopped; each invocation must end by its timeout. */
    private static void attack(LambdaClient lambda, String fn, AtomicBoolean stop, List<AttackInvocation> attacks) {
        while (!stop.get()) {
            long t0 = System.nanoTime();
            String error;
            try {
                InvokeResponse r = lambda.invoke(b -> b.functionName(fn).payload(SdkBytes.fromUtf8String("{}")));
                error = r.functionError() == null ? "none" : errorType(r.payload().asUtf8String());
            } catch (RuntimeException e) {
                error = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            attacks.add(new AttackInvocation(fn, (System.nanoTime() - t0) / 1_000_000, error));
        }
    }

    private static String errorType(String payload) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(payload).path("errorType").asText("?");
        } catch (IOException e) {
            return "unparsable: " + payload;
        }
    }

    /** Creates the spinning-init function and re-initialises it (a new environment each round) until stopped. */
    private static void spinInits(PlatformClient client, byte[] zip, AtomicBoolean stop, List<InitRound> rounds, Duration settleLimit) {
        LambdaClient lambda = client.lambda();
        try {
            create(lambda, INIT, zip, ATTACK_TIMEOUT_SECONDS, Map.of("ATTACK", "init-spin", "ROUND", "0"));
            for (int round = 1; ; round++) {
                long t0 = System.nanoTime();
                Optional<GetFunctionConfigurationResponse> settled = client.awaitSettled(INIT, null, settleLimit);
                rounds.add(new InitRound((System.nanoTime() - t0) / 1_000_000, settled.map(c -> c.stateAsString()).orElse("Pending"),
                        settled.map(GetFunctionConfigurationResponse::stateReason).orElse("still Pending after " + settleLimit)));
                if (stop.get() || settled.isEmpty()) return;
                String n = Integer.toString(round);
                lambda.updateFunctionConfiguration(b -> b.functionName(INIT).environment(e -> e.variables(Map.of("ATTACK", "init-spin", "ROUND", n))));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            rounds.add(new InitRound(0, "error", e.toString()));
        }
    }

    private static void sampleHeap(PlatformClient client, AtomicBoolean stop, AtomicLong peak) {
        while (!stop.get()) {
            try {
                peak.accumulateAndGet(heapUsedKib(client), Math::max);
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // a missed sample; the next one counts
            }
        }
    }

    private static long heapUsedKib(PlatformClient client) throws IOException {
        JsonNode overview = client.getJson("/admin/overview", Map.of());
        return overview.path("jvm").path("heapUsedKib").asLong();
    }
}
