package dev.flicker.testing;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Marks a test class or method that runs real VMs on {@code /dev/kvm}. The tag {@value #TAG} lets
 * {@code ./flicker test} choose where it runs: natively where {@code /dev/kvm} exists, inside the emulated SVM host
 * ({@code deploy/svm-host}) where it does not, and there too as the SVM pass. Run anywhere without {@code /dev/kvm},
 * the test fails at once with a message that says so; it is never skipped.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag(NeedsKvm.TAG)
@ExtendWith(NeedsKvm.Check.class)
public @interface NeedsKvm {
    String TAG = "kvm";

    final class Check implements BeforeAllCallback, BeforeEachCallback {
        private static final Path DEVICE = Path.of("/dev/kvm");

        @Override
        public void beforeAll(ExtensionContext context) {
            check(context);
        }

        @Override
        public void beforeEach(ExtensionContext context) {
            check(context);
        }

        private static void check(ExtensionContext context) {
            if (Files.isReadable(DEVICE) && Files.isWritable(DEVICE)) return;
            throw new IllegalStateException(context.getDisplayName() + " runs VMs and needs a readable, writable "
                    + DEVICE + ", which this host " + (Files.exists(DEVICE) ? "does not let this user open" : "lacks")
                    + ". ./flicker test runs such tests inside an emulated SVM host (deploy/svm-host) when /dev/kvm is "
                    + "missing; to run them natively, load kvm_intel, kvm_amd or kvm_pvm.");
        }
    }
}
