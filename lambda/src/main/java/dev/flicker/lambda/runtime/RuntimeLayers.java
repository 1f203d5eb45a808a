package dev.flicker.lambda.runtime;

import dev.flicker.guest.fs.Layer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The runtime layers of this host, in one directory: {@code <dir>/<name>} links to {@code <name>-<hash>}, whose
 * {@code root} is the tree the guest sees at {@code /} (what runtimes/&lt;name&gt;/build.sh makes, for example
 * {@code runtimes/python3.11/build.sh <dir>}). Each layer is indexed once and shared by every VM and every function
 * of its runtime; its id is the directory's name, {@code <name>-<hash>}, which changes with its content.
 * Thread-safe.
 */
public final class RuntimeLayers implements AutoCloseable {
    private final Path directory;
    private final Map<String, Layer> open = new HashMap<>();

    public RuntimeLayers(Path directory) {
        this.directory = directory;
    }

    /**
     * The default directory: {@code FLICKER_RUNTIMES_DIR}, else {@code $XDG_CACHE_HOME/flicker/runtimes} (a cache:
     * the layers are rebuilt from their pinned packages), else {@code ~/.cache/flicker/runtimes}.
     */
    public static Path defaultDirectory() {
        String configured = System.getenv("FLICKER_RUNTIMES_DIR");
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        String cache = System.getenv("XDG_CACHE_HOME");
        Path base = cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("flicker/runtimes");
    }

    public Path directory() {
        return directory;
    }

    /**
     * The layer {@code name} as built now (a rebuild with other pins gives a new layer, and the VMs of the old one
     * keep it until this object closes). An {@link IllegalStateException} saying how to build it when it is missing.
     */
    public synchronized Layer layer(String name) {
        if (!name.matches("[A-Za-z0-9._-]{1,64}")) throw new IllegalArgumentException("bad runtime layer name '" + name + "'");
        Path link = directory.resolve(name);
        Path built;
        try {
            built = link.toRealPath();
        } catch (IOException e) {
            throw missing(name);
        }
        if (!Files.isDirectory(built.resolve("root"))) throw missing(name);
        String id = built.getFileName().toString();
        Layer layer = open.get(id);
        if (layer == null) {
            try {
                layer = Layer.open(built.resolve("root"), id);
            } catch (UncheckedIOException | IllegalArgumentException e) {
                throw new IllegalStateException("the runtime layer " + name + " at " + built + " cannot be read: " + e.getMessage(), e);
            }
            open.put(id, layer);
        }
        return layer;
    }

    private IllegalStateException missing(String name) {
        return new IllegalStateException("the " + name + " runtime layer is not built on this host: run runtimes/" + name
                + "/build.sh " + directory + " (./flicker up does)");
    }

    @Override
    public synchronized void close() {
        open.values().forEach(Layer::close);
        open.clear();
    }
}
