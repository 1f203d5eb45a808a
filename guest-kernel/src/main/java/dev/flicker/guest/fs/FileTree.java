package dev.flicker.guest.fs;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's file namespace: {@code /var/task} is the bundle (read-only), {@code /tmp} is this VM's
 * in-memory tmpfs, {@code /dev} has null, zero, random and urandom. With a runtime {@link Layer}, the layer's tree
 * is the rest of {@code /} (read-only), with those three over it. Paths are resolved lexically, so {@code ..} never
 * leaves the namespace, and the namespace contains nothing of the host but the bundle and the layer.
 */
public final class FileTree {
    public static final String TASK_ROOT = "/var/task";

    private final StaticDirectory root = new StaticDirectory(2);
    private final TmpFs tmp;
    private final String layerId;

    /** The tree of a VM without a runtime layer, whose random devices read from {@code random}. */
    public FileTree(Bundle bundle, TmpFs tmp, SecureRandom random) {
        this(bundle, null, tmp, random);
    }

    /**
     * The tree of a VM whose root is {@code layer} (null: none), whose random devices read from {@code random}. The
     * layer's directories are shared by every VM; only {@code /} and {@code /var}, where the mounts go, are this VM's
     * own copies of the layer's entries.
     */
    public FileTree(Bundle bundle, Layer layer, TmpFs tmp, SecureRandom random) {
        this.tmp = tmp;
        this.layerId = layer == null ? "" : layer.id();
        StaticDirectory var = new StaticDirectory(3);
        if (layer != null) {
            root.children.putAll(layer.directory().children);
            if (layer.directory().child("var") instanceof StaticDirectory layerVar) var.children.putAll(layerVar.children);
        }
        var.put("task", (Node) bundle.directory());
        root.put("var", var);
        root.put("tmp", tmp.root());
        StaticDirectory dev = new StaticDirectory(4);
        dev.put("null", new Node.Device(5, DeviceDescription.Null::new));
        dev.put("zero", new Node.Device(6, DeviceDescription.Zero::new));
        Node.Device.Opener randomness = (device, path, flags) -> new DeviceDescription.Random(device, path, flags, random);
        dev.put("random", new Node.Device(7, randomness));
        dev.put("urandom", new Node.Device(8, randomness));
        root.put("dev", dev);
    }

    /** The id of the runtime layer at {@code /}, empty without one: a snapshot is restored only on the same layer. */
    public String layerId() {
        return layerId;
    }

    public TmpFs tmp() {
        return tmp;
    }

    /** Joins {@code path} to {@code cwd} and removes ".", ".." and empty parts; ".." at the root stays at the root. */
    public static List<String> normalize(String cwd, String path) {
        List<String> parts = new ArrayList<>();
        String full = path.startsWith("/") ? path : cwd + "/" + path;
        for (String p : full.split("/")) {
            if (p.isEmpty() || p.equals(".")) continue;
            if (p.equals("..")) {
                if (!parts.isEmpty()) parts.removeLast();
            } else {
                parts.add(p);
            }
        }
        return parts;
    }

    public static String join(List<String> parts) {
        return parts.isEmpty() ? "/" : "/" + String.join("/", parts);
    }

    /** The node at the normalized {@code parts}, or null. */
    public Node lookup(List<String> parts) {
        Node at = root;
        for (String p : parts) {
            if (!(at instanceof Node.Directory d)) return null;
            at = d.child(p);
            if (at == null) return null;
        }
        return at;
    }
}
