package dev.flicker.api;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethod;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.smallrye.mutiny.Uni;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The API's handlers run on Vert.x's event loop and never block it. A handler that waited for the database there
 * (the {@code Db.await} bridge) stalled every other request of its loop: under load the dashboard's requests timed
 * out, or counted an invocation short. Checked on the compiled classes of platform-api.
 */
class EventLoopTest {
    static final JavaClasses API = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.flicker.api");
    static final Set<String> HTTP_METHODS = Set.of("jakarta.ws.rs.GET", "jakarta.ws.rs.POST", "jakarta.ws.rs.PUT",
            "jakarta.ws.rs.DELETE");

    @Test
    void everyLambdaAndAdminHandlerReturnsAUni() {
        List<JavaMethod> handlers = API.stream().filter(c -> c.getSimpleName().matches("FunctionsResource|ConcurrencyResource|AdminResource"))
                .flatMap(c -> c.getMethods().stream())
                .filter(m -> m.getAnnotations().stream().anyMatch(a -> HTTP_METHODS.contains(a.getRawType().getName())))
                .toList();
        assertTrue(handlers.size() >= 17, "found only " + handlers.size() + " handlers");
        List<String> blocking = handlers.stream().filter(m -> !m.getRawReturnType().isEquivalentTo(Uni.class))
                .map(JavaMethod::getFullName).toList();
        assertEquals(List.of(), blocking, "handlers that do not return a Uni");
    }

    @Test
    void nothingWaitsForHibernateReactiveButTheStartOnTheMainThread() {
        // subscribeAndAwait throws on an event loop, and on a worker it holds the thread for a database round trip.
        List<String> callers = API.stream().flatMap(c -> c.getMethodCallsFromSelf().stream()).filter(EventLoopTest::subscribeAndAwait)
                .map(c -> c.getOwner().getFullName()).distinct().toList();
        assertEquals(List.of("dev.flicker.api.Preparation.onStart(io.quarkus.runtime.StartupEvent)"), callers);
    }

    private static boolean subscribeAndAwait(JavaMethodCall call) {
        return call.getTargetOwner().getName().equals("io.quarkus.vertx.VertxContextSupport") && call.getName().equals("subscribeAndAwait");
    }
}
