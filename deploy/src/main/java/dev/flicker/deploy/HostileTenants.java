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
import java.util.function.BooleanSupplier;

/**
 * One well-behaved function beside a hostile tenant, on one platform (issue 9): the victim is invoked at a steady
 * rate, alone and while the tenant's functions flood the Runtime API, flood {@code /tmp} with entries, and spin in
 * their init (re-initialised again and again). Alone and attacked alternate in rounds, so that whatever else loads
 * the host weighs on both alike (on a shared machine, one solo phase then one attacked phase measured the load's
 * changes as much as the attack). An attacked phase lasts until every attack has ended, and then
 * {@link #AFTERMATH} longer: what the attack leaves behind (its VMs' teardown, its garbage) counts as the attack's. {@code flicker bench hostile} prints what the victim's
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

    /** How long after the last attack ended the victim's calls still count as attacked. */
    static final Duration AFTERMATH = Duration.ofSeconds(2);
    private static final long NOT_YET = Long.MIN_VALUE;

    /**
     * Deploys the four functions from {@code programs} (guest-kernel's test programs) and runs {@code rounds} rounds of
     * a solo phase and an attacked phase, the solo phases {@code phase} in all and the attacks as long, invoking the
     * victim {@code victimPerSecond} times a second throughout.
     */
    static Outcome run(PlatformClient client, Path programs, Duration phase, int rounds, int victimPerSecond, Duration settleLimit)
            throws Exception {
        if (rounds < 1) throw new IllegalArgumentException("rounds must be at least 1, was " + rounds);
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
        long heapBefore = heapUsedKib(client);
        AtomicLong heapPeak = new AtomicLong(heapBefore);
        List<Double> solo = new ArrayList<>(), attacked = new ArrayList<>();
        List<Boolean> callAttacked = new ArrayList<>(Collections.nCopies(warmCalls, false)); // each call, in order
        List<AttackInvocation> attacks = Collections.synchronizedList(new ArrayList<>());
        List<InitRound> initRounds = Collections.synchronizedList(new ArrayList<>());
        long roundNanos = phase.toNanos() / rounds;
        for (int round = 0; round < rounds; round++) {
            long soloEnd = System.nanoTime() + roundNanos;
            List<Double> alone = victimWhile(lambda, () -> System.nanoTime() < soloEnd, victimPerSecond, failures);
            solo.addAll(alone);
            callAttacked.addAll(Collections.nCopies(alone.size(), false));

            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (String fn : List.of(FLOOD, TMP)) threads.add(Thread.ofPlatform().name(fn).start(() -> attack(lambda, fn, stop, attacks)));
            boolean first = round == 0;
            threads.add(Thread.ofPlatform().name(INIT).start(() -> spinInits(client, attackZip, first, stop, initRounds, settleLimit)));
            threads.add(Thread.ofPlatform().name("heap").start(() -> sampleHeap(client, stop, heapPeak)));
            long attackEnd = System.nanoTime() + roundNanos;
            AtomicLong allEnded = new AtomicLong(NOT_YET); // when the last attack thread ended
            Thread stopper = Thread.ofPlatform().name("stopper").start(() -> {
                try {
                    Thread.sleep(Duration.ofNanos(roundNanos));
                    stop.set(true);
                    for (Thread t : threads) t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    stop.set(true);
                    allEnded.set(System.nanoTime());
                }
            });
            try {
                BooleanSupplier attackOrAftermath = () -> {
                    long now = System.nanoTime(), ended = allEnded.get();
                    return now < attackEnd || ended == NOT_YET || now - ended < AFTERMATH.toNanos();
                };
                List<Double> beside = victimWhile(lambda, attackOrAftermath, victimPerSecond, failures);
                attacked.addAll(beside);
                callAttacked.addAll(Collections.nCopies(beside.size(), true));
            } finally {
                stop.set(true);
                stopper.interrupt();
                stopper.join();
                for (Thread t : threads) t.join();
            }
        }
        List<Double> queued = queuedMillis(client, callAttacked, settleLimit);
        return new Outcome(solo, attacked, queued, List.copyOf(failures), List.copyOf(attacks), List.copyOf(initRounds), heapBefore,
                heapPeak.get());
    }

    /**
     * The {@code queuedMs} of the victim's calls for which {@code attacked} (one entry per call, oldest first) is true,
     * once all its records are written (the platform writes them in the background), or what is there after
     * {@code limit}. The victim is called one call at a time, so its records' order is its calls'.
     */
    private static List<Double> queuedMillis(PlatformClient client, List<Boolean> attacked, Duration limit)
            throws IOException, InterruptedException {
        int total = attacked.size();
        long end = System.nanoTime() + limit.toNanos();
        while (client.getJson("/admin/invocations", Map.of("function", VICTIM, "limit", "1", "offset", Integer.toString(total - 1))).isEmpty()
                && System.nanoTime() < end) {
            Thread.sleep(100);
        }
        List<Double> newestFirst = new ArrayList<>();
        for (int offset = 0; offset < total; offset += 1000) {
            String page = Integer.toString(Math.min(1000, total - offset));
            for (JsonNode r : client.getJson("/admin/invocations", Map.of("function", VICTIM, "limit", page, "offset", Integer.toString(offset)))) {
                newestFirst.add(r.path("queuedMs").asDouble());
            }
        }
        List<Double> queued = new ArrayList<>();
        for (int i = 0; i < newestFirst.size(); i++) {
            if (attacked.get(total - 1 - i)) queued.add(newestFirst.get(i));
        }
        return queued;
    }

    private static void create(LambdaClient lambda, String name, byte[] zip, int timeoutSeconds, Map<String, String> env) {
        lambda.createFunction(b -> b.functionName(name).runtime("provided.al2023").handler("h").memorySize(128)
                .timeout(timeoutSeconds).environment(e -> e.variables(env)).code(c -> c.zipFile(SdkBytes.fromByteArray(zip))));
    }

    /** The victim at a steady rate while {@code going}: one call every 1/rate s, each measured; late calls are not skipped. */
    private static List<Double> victimWhile(LambdaClient lambda, BooleanSupplier going, int perSecond, List<String> failures)
            throws InterruptedException {
        long interval = 1_000_000_000L / perSecond;
        List<Double> millis = new ArrayList<>();
        for (long next = System.nanoTime(); going.getAsBoolean(); next += interval) {
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

    /**
     * Creates the spinning-init function ({@code create}) or initialises it again, and again each time its init failed,
     * until stopped; returns once the round under way has ended.
     */
    private static void spinInits(PlatformClient client, byte[] zip, boolean create, AtomicBoolean stop, List<InitRound> rounds,
                                  Duration settleLimit) {
        LambdaClient lambda = client.lambda();
        try {
            if (create) create(lambda, INIT, zip, ATTACK_TIMEOUT_SECONDS, Map.of("ATTACK", "init-spin", "ROUND", "0"));
            else reinitialise(lambda);
            while (true) {
                long t0 = System.nanoTime();
                Optional<GetFunctionConfigurationResponse> settled = client.awaitSettled(INIT, null, settleLimit);
                rounds.add(new InitRound((System.nanoTime() - t0) / 1_000_000, settled.map(c -> c.stateAsString()).orElse("Pending"),
                        settled.map(GetFunctionConfigurationResponse::stateReason).orElse("still Pending after " + settleLimit)));
                if (stop.get() || settled.isEmpty()) return;
                reinitialise(lambda);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            rounds.add(new InitRound(0, "error", e.toString()));
        }
    }

    /** A new environment: a new version of the spinning init, initialised again. */
    private static void reinitialise(LambdaClient lambda) {
        String round = Long.toString(System.nanoTime());
        lambda.updateFunctionConfiguration(b -> b.functionName(INIT).environment(e -> e.variables(Map.of("ATTACK", "init-spin", "ROUND", round))));
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
