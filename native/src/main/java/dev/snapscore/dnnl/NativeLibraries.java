package dev.snapscore.dnnl;

import org.bytedeco.javacpp.Loader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
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

    static final SymbolLookup GOMP;
    static final SymbolLookup DNNL;

    static {
        // libgomp first: libdnnl.so.3 names it as a dependency, and the dynamic linker reuses an already
        // loaded object with a matching soname instead of searching the system for one.
        GOMP = open("libgomp.so.1");
        DNNL = open("libdnnl.so.3");
    }

    private NativeLibraries() {
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
