package dev.flicker.deploy;

import dev.flicker.guest.GuestImage;
import dev.flicker.guest.HostCallAbi;
import dev.flicker.kvm.Kvm;

/**
 * {@code flicker up}: today it checks the engine (KVM opens, the guest image matches the host-call ABI) and
 * says so; the HTTP control plane that {@code up} will start is the control-plane issue's work.
 */
final class UpCommand {
    private UpCommand() {}

    static int main(String[] args) {
        try (Kvm kvm = Kvm.open()) {
            GuestImage image = GuestImage.builtIn();
            System.out.println("flicker: engine ready: /dev/kvm (" + (Kvm.isPvm() ? "PVM, software" : "hardware")
                    + "), micro guest image ABI " + image.header().abiVersion() + " (host speaks " + HostCallAbi.VERSION + ")");
            System.out.println("flicker: the HTTP API and dashboard are not built yet (control-plane issue);");
            System.out.println("flicker: run a static program now with: ./flicker run BUNDLE_DIR PROGRAM [ARGS...]");
            return 0;
        }
    }
}
