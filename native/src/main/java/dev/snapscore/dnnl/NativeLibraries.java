package dev.snapscore.dnnl;

import org.bytedeco.javacpp.Loader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * Finds oneDNN ({@code libdnnl.so.3}) and its OpenMP runtime ({@code libgomp.so.1}) inside the JavaCPP
 * preset jar on the classpath, extracts them to JavaCPP's cache (once per machine) and opens them for FFM.
 * No JNI code runs: JavaCPP is used only as a resource extractor.
 */
final class NativeLibraries {
    private static final String RESOURCE_DIR = "/org/bytedeco/dnnl/" + Loader.getPlatform() + "/";

    /** Process-wide: a shared library is mapped once per process and stays for the JVM's lifetime. */
    private static final Arena LIBRARY_ARENA = Arena.ofAuto();

    /**
     * How long (in spin iterations) an idle OpenMP thread spins before it sleeps, unless the environment sets
     * OMP_WAIT_POLICY or GOMP_SPINCOUNT. libgomp's own default, 300,000 iterations of PAUSE, is about 15 ms on a
     * recent Xeon: after every primitive the idle thread kept a core busy that photo decoding needed, and {@code
     * serve} lost 30–40% of its throughput. That default applies only while a process has no more OpenMP threads
     * than cores; with more, libgomp already spins just 1,000, which is why it showed only where one thread ran
     * every primitive (a plan-cache hit). 1,000 still spans the gap between two layers of one run.
     */
    static final String SPIN_COUNT = "1000";

    static final SymbolLookup GOMP;
    static final SymbolLookup DNNL;

    static {
        boolean userChoice = System.getenv("OMP_WAIT_POLICY") != null || System.getenv("GOMP_SPINCOUNT") != null;
        if (!userChoice) setNativeEnv("GOMP_SPINCOUNT", SPIN_COUNT);
        // libgomp first: libdnnl.so.3 names it as a dependency, and the dynamic linker reuses an already
        // loaded object with a matching soname instead of searching the system for one. It reads its
        // environment once, when it is loaded.
        GOMP = open("libgomp.so.1");
        DNNL = open("libdnnl.so.3");
    }

    private NativeLibraries() {
    }

    /** Sets a variable in the C environment (Java's own copy is read-only), keeping a value already there. */
    private static void setNativeEnv(String name, String value) {
        Linker linker = Linker.nativeLinker();
        var setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) setenv.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 0);
            if (rc != 0) throw new DnnlException("setenv(" + name + ") failed");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new DnnlException("setenv(" + name + ") failed: " + t, t);
        }
    }

    private static SymbolLookup open(String name) {
        Path path;
        try {
            var file = Loader.cacheResource(RESOURCE_DIR + name);
            if (file == null) {
                throw new DnnlException("the oneDNN preset jar for " + Loader.getPlatform()
                        + " is not on the classpath (missing resource " + RESOURCE_DIR + name + ")");
            }
            path = file.toPath();
        } catch (IOException e) {
            throw new DnnlException("cannot extract " + name + " from the oneDNN preset jar: " + e.getMessage(), e);
        }
        return SymbolLookup.libraryLookup(path, LIBRARY_ARENA);
    }
}
