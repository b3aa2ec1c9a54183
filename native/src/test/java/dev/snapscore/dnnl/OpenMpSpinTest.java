package dev.snapscore.dnnl;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Loading oneDNN gives libgomp a short spin unless the user chose a wait policy (see NativeLibraries.SPIN_COUNT). */
class OpenMpSpinTest {

    @Test
    void libgompIsLoadedWithAShortSpinCount() throws Throwable {
        assumeTrue(System.getenv("OMP_WAIT_POLICY") == null && System.getenv("GOMP_SPINCOUNT") == null,
                "the environment chose its own OpenMP wait policy");
        Dnnl.cpuIsaName(); // loads libgomp and oneDNN
        assertEquals(NativeLibraries.SPIN_COUNT, nativeEnv("GOMP_SPINCOUNT"));
    }

    private static String nativeEnv(String name) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = (MemorySegment) getenv.invokeExact(arena.allocateFrom(name));
            return value.equals(MemorySegment.NULL) ? null : value.reinterpret(64).getString(0);
        }
    }
}
