package dev.flicker.api;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static com.tngtech.archunit.base.DescribedPredicate.or;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideOutsideOfPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The module graph the README shows, enforced on the compiled main classes of every module (platform-api sits at the
 * top, so its test classpath holds them all): a module's classes use only the project modules below it that the graph
 * names, so that nothing reaches around a layer (platform-api into the VMM, the scheduler into KVM, the guest kernel
 * into Lambda, the engine into anything). Maven's own dependencies cannot say this: they are transitive.
 */
class ModuleGraphTest {
    /** A module: its Maven name, its package, and the modules its main classes may use besides itself. */
    record Module(String name, String pkg, List<String> mayUse) {}

    static final List<Module> GRAPH = List.of(
            new Module("kvm-engine", "dev.flicker.kvm", List.of()),
            new Module("snapshots", "dev.flicker.snapshots", List.of("kvm-engine")),
            new Module("guest-kernel", "dev.flicker.guest", List.of("kvm-engine")),
            new Module("lambda", "dev.flicker.lambda", List.of("guest-kernel")),
            new Module("vm-pool", "dev.flicker.pool", List.of("lambda", "snapshots", "guest-kernel", "kvm-engine")),
            new Module("scheduler", "dev.flicker.scheduler", List.of("vm-pool", "lambda", "guest-kernel")),
            new Module("platform-api", "dev.flicker.api", List.of("scheduler", "lambda")),
            new Module("test-support", "dev.flicker.testing", List.of()));

    /** Where a module's main classes come from: its build directory in the reactor, or its jar. */
    static final Pattern MODULE_LOCATION = Pattern.compile("/([a-z-]+)/target/classes/|/flicker-([a-z-]+)-\\d[^/]*\\.jar!");

    static final JavaClasses MAIN = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.flicker");

    static Module module(String name) {
        return GRAPH.stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
    }

    /** {@code m}'s classes depend on no class of the project outside {@code m} and what it may use. */
    static ArchRule staysInItsLayer(Module m) {
        List<String> allowed = new ArrayList<>(List.of(m.pkg() + ".."));
        for (String used : m.mayUse()) allowed.add(module(used).pkg() + "..");
        return classes().that().resideInAPackage(m.pkg() + "..")
                .should().onlyDependOnClassesThat(or(resideOutsideOfPackage("dev.flicker.."), resideInAnyPackage(allowed.toArray(String[]::new))))
                .as(m.name() + " uses no module but " + m.mayUse())
                .because("the module graph in the README is the one the build enforces");
    }

    @Test
    void everyModuleUsesOnlyTheModulesBelowItThatTheGraphNames() {
        for (Module m : GRAPH) staysInItsLayer(m).check(MAIN); // also fails when a module has no classes here
    }

    @Test
    void everyModuleKeepsItsClassesInItsOwnPackage() {
        List<String> misplaced = new ArrayList<>();
        for (JavaClass c : MAIN) {
            String location = c.getSource().map(s -> s.getUri().toString()).orElse("?");
            Matcher at = MODULE_LOCATION.matcher(location);
            if (!at.find()) {
                misplaced.add(c.getName() + " comes from no module (" + location + ")");
                continue;
            }
            String name = at.group(1) != null ? at.group(1) : at.group(2);
            if (name.equals("deploy")) continue; // not on this classpath, and above everything
            Module m = GRAPH.stream().filter(g -> g.name().equals(name)).findFirst().orElse(null);
            if (m == null) misplaced.add(c.getName() + " is in module " + name + ", which the graph does not name");
            else if (!c.getPackageName().equals(m.pkg()) && !c.getPackageName().startsWith(m.pkg() + ".")) {
                misplaced.add(c.getName() + " is in module " + name + ", outside its package " + m.pkg());
            }
        }
        assertEquals(List.of(), misplaced);
        for (Module m : GRAPH) {
            assertTrue(MAIN.stream().anyMatch(c -> c.getPackageName().startsWith(m.pkg())), m.name() + "'s classes were found");
        }
    }

    /** An API class that reaches around the scheduler into the engine: what the rule must refuse. */
    static final class ReachesAroundTheScheduler {
        boolean onPvm() {
            return dev.flicker.kvm.Kvm.isPvm();
        }
    }

    @Test
    void anImportAroundALayerFails() {
        JavaClasses bad = new ClassFileImporter().importClasses(ReachesAroundTheScheduler.class);
        AssertionError refused = assertThrows(AssertionError.class, () -> staysInItsLayer(module("platform-api")).check(bad));
        assertTrue(refused.getMessage().contains("dev.flicker.kvm.Kvm"), refused.getMessage());
    }
}
