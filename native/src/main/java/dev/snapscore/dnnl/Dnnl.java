package dev.snapscore.dnnl;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The part of oneDNN's C API (3.x, {@code oneapi/dnnl/dnnl.h}) that snapscore calls, as FFM downcall
 * handles, with the enum values it needs (read from {@code dnnl_types.h} of the shipped 3.11 build; the typed ones
 * callers pass are {@link DataType}, {@link FormatTag} and {@link Arg}).
 * Callers use the small owning wrappers in this package rather than these handles directly.
 */
public final class Dnnl {
    private Dnnl() {
    }

    // dnnl_status_t
    static final int STATUS_SUCCESS = 0;
    static final int STATUS_UNIMPLEMENTED = 3;
    private static final String[] STATUS_NAMES = {"success", "out_of_memory", "invalid_arguments",
            "unimplemented", "last_impl_reached", "runtime_error", "not_required", "invalid_graph",
            "invalid_graph_op", "invalid_shape", "invalid_data_type"};

    // dnnl_prop_kind_t, dnnl_alg_kind_t
    static final int FORWARD_INFERENCE = 96;
    static final int CONVOLUTION_DIRECT = 1;
    static final int ELTWISE_RELU = 0x20;
    static final int POOLING_MAX = 0x1ff;
    static final int POOLING_AVG_EXCLUDE_PADDING = 0x3ff;
    static final int SOFTMAX_ACCURATE = 0x30000;

    static final int ENGINE_CPU = 1;
    static final int STREAM_DEFAULT_FLAGS = 1;
    static final int SCRATCHPAD_MODE_USER = 1;
    static final int FPMATH_MODE_STRICT = 0;

    // dnnl_query_t
    static final int QUERY_IMPL_INFO_STR = 8;
    static final int QUERY_EXEC_ARG_MD = 255;
    static final int QUERY_DATA_TYPE = 258;

    static final int MAX_NDIMS = 12;

    /** dnnl_exec_arg_t: { int arg; dnnl_memory_t memory; } */
    static final MemoryLayout EXEC_ARG = MemoryLayout.structLayout(
            JAVA_INT.withName("arg"), MemoryLayout.paddingLayout(4), ADDRESS.withName("memory"));

    private static final Linker LINKER = Linker.nativeLinker();

    static final MethodHandle engine_create = dnnl("dnnl_engine_create", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG);
    static final MethodHandle engine_destroy = dnnl("dnnl_engine_destroy", JAVA_INT, ADDRESS);
    static final MethodHandle stream_create = dnnl("dnnl_stream_create", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
    static final MethodHandle stream_wait = dnnl("dnnl_stream_wait", JAVA_INT, ADDRESS);
    static final MethodHandle stream_destroy = dnnl("dnnl_stream_destroy", JAVA_INT, ADDRESS);

    static final MethodHandle memory_desc_create_with_tag = dnnl("dnnl_memory_desc_create_with_tag",
            JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle memory_desc_create_with_strides = dnnl("dnnl_memory_desc_create_with_strides",
            JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
    static final MethodHandle memory_desc_clone = dnnl("dnnl_memory_desc_clone", JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle memory_desc_destroy = dnnl("dnnl_memory_desc_destroy", JAVA_INT, ADDRESS);
    static final MethodHandle memory_desc_get_size = dnnl("dnnl_memory_desc_get_size", JAVA_LONG, ADDRESS);
    static final MethodHandle memory_desc_query = dnnl("dnnl_memory_desc_query", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
    static final MethodHandle memory_desc_equal = dnnl("dnnl_memory_desc_equal", JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle memory_desc_get_blob = dnnl("dnnl_memory_desc_get_blob", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle memory_desc_create_with_blob = dnnl("dnnl_memory_desc_create_with_blob",
            JAVA_INT, ADDRESS, ADDRESS);

    static final MethodHandle memory_create = dnnl("dnnl_memory_create", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle memory_set_data_handle = dnnl("dnnl_memory_set_data_handle", JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle memory_destroy = dnnl("dnnl_memory_destroy", JAVA_INT, ADDRESS);

    static final MethodHandle primitive_attr_create = dnnl("dnnl_primitive_attr_create", JAVA_INT, ADDRESS);
    static final MethodHandle primitive_attr_destroy = dnnl("dnnl_primitive_attr_destroy", JAVA_INT, ADDRESS);
    static final MethodHandle primitive_attr_set_scratchpad_mode = dnnl("dnnl_primitive_attr_set_scratchpad_mode",
            JAVA_INT, ADDRESS, JAVA_INT);
    static final MethodHandle primitive_attr_set_post_ops = dnnl("dnnl_primitive_attr_set_post_ops",
            JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle primitive_attr_set_scales_mask = dnnl("dnnl_primitive_attr_set_scales_mask",
            JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle primitive_attr_set_fpmath_mode_v2 = dnnl("dnnl_primitive_attr_set_fpmath_mode_v2",
            JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle post_ops_create = dnnl("dnnl_post_ops_create", JAVA_INT, ADDRESS);
    static final MethodHandle post_ops_append_eltwise = dnnl("dnnl_post_ops_append_eltwise",
            JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT);
    static final MethodHandle post_ops_destroy = dnnl("dnnl_post_ops_destroy", JAVA_INT, ADDRESS);

    static final MethodHandle convolution_forward_primitive_desc_create = dnnl(
            "dnnl_convolution_forward_primitive_desc_create", JAVA_INT,
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle pooling_forward_primitive_desc_create = dnnl(
            "dnnl_pooling_forward_primitive_desc_create", JAVA_INT,
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS,
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle inner_product_forward_primitive_desc_create = dnnl(
            "dnnl_inner_product_forward_primitive_desc_create", JAVA_INT,
            ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle matmul_primitive_desc_create = dnnl("dnnl_matmul_primitive_desc_create", JAVA_INT,
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle softmax_forward_primitive_desc_create = dnnl(
            "dnnl_softmax_forward_primitive_desc_create", JAVA_INT,
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
    static final MethodHandle reorder_primitive_desc_create = dnnl("dnnl_reorder_primitive_desc_create",
            JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);

    static final MethodHandle primitive_desc_query_md = dnnl("dnnl_primitive_desc_query_md",
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle primitive_desc_query = dnnl("dnnl_primitive_desc_query",
            JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS);
    static final MethodHandle primitive_desc_destroy = dnnl("dnnl_primitive_desc_destroy", JAVA_INT, ADDRESS);
    static final MethodHandle primitive_create = dnnl("dnnl_primitive_create", JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle primitive_execute = dnnl("dnnl_primitive_execute",
            JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
    static final MethodHandle primitive_destroy = dnnl("dnnl_primitive_destroy", JAVA_INT, ADDRESS);

    private static final MethodHandle version = dnnl("dnnl_version", ADDRESS);
    private static final MethodHandle get_effective_cpu_isa = dnnl("dnnl_get_effective_cpu_isa", JAVA_INT);

    // dnnl_cpu_isa_t bits that mean VNNI: avx2_vnni (0xf) adds 0x8 to avx2, avx512_core_vnni (0x67) adds 0x40
    private static final int ISA_AVX2_VNNI_BIT = 0x8, ISA_AVX512_VNNI_BIT = 0x40;
    // avx512_core_bf16 (0xe7) adds 0x80 to avx512_core_vnni; the AMX levels (0xfef and up) include it
    private static final int ISA_AVX512_BF16_BIT = 0x80;

    private static final MethodHandle omp_set_num_threads = downcall(NativeLibraries.GOMP, "omp_set_num_threads",
            FunctionDescriptor.ofVoid(JAVA_INT));
    private static final MethodHandle omp_get_max_threads = downcall(NativeLibraries.GOMP, "omp_get_max_threads",
            FunctionDescriptor.of(JAVA_INT));

    private static MethodHandle dnnl(String name, MemoryLayout result, MemoryLayout... args) {
        return downcall(NativeLibraries.DNNL, name, FunctionDescriptor.of(result, args));
    }

    private static MethodHandle downcall(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = lookup.find(name)
                .orElseThrow(() -> new DnnlException("symbol " + name + " not found in the native library"));
        return LINKER.downcallHandle(symbol, descriptor);
    }

    /** Throws a {@link DnnlException} naming the call and the status unless {@code status} is success. */
    static void check(int status, String call) {
        if (status != STATUS_SUCCESS) {
            String name = status >= 0 && status < STATUS_NAMES.length ? STATUS_NAMES[status] : "status " + status;
            throw new DnnlException(call + " failed: " + name, status, null);
        }
    }

    /** Rethrows what a downcall threw; the handles above throw only Errors and RuntimeExceptions. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new DnnlException("downcall failed", t);
    }

    /** "major.minor.patch" of the loaded oneDNN. */
    public static String version() {
        try {
            MemorySegment v = ((MemorySegment) version.invokeExact()).reinterpret(12);
            return v.get(JAVA_INT, 0) + "." + v.get(JAVA_INT, 4) + "." + v.get(JAVA_INT, 8);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@link #version()} and the git hash of its sources ("3.11.0+abc123…"), or the version alone where the build has none. */
    public static String build() {
        try {
            // dnnl_version_t: int major, minor, patch; const char *hash (at offset 16)
            MemorySegment v = ((MemorySegment) version.invokeExact()).reinterpret(24);
            MemorySegment hash = v.get(ADDRESS, 16);
            String h = hash.equals(MemorySegment.NULL) ? "" : hash.reinterpret(64).getString(0).trim();
            return h.isEmpty() ? version() : version() + "+" + h;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * How many oneDNN handles (engines, streams, descriptors, memories, attributes, primitives) this process holds:
     * created by these bindings and not yet destroyed. For leak checks.
     */
    public static long liveHandles() {
        return NativeHandle.LIVE.get();
    }

    /** The dnnl_cpu_isa_t oneDNN dispatches to on this CPU (after any ONEDNN_MAX_CPU_ISA limit). */
    public static int effectiveCpuIsa() {
        try {
            return (int) get_effective_cpu_isa.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The name of {@link #effectiveCpuIsa()}, as in {@code dnnl_cpu_isa_t} (e.g. "avx512_core_bf16"). */
    public static String cpuIsaName() {
        int isa = effectiveCpuIsa();
        return switch (isa) {
            case 0x1 -> "sse41";
            case 0x3 -> "avx";
            case 0x7 -> "avx2";
            case 0xf -> "avx2_vnni";
            case 0x1f -> "avx2_vnni_2";
            case 0x27 -> "avx512_core";
            case 0x67 -> "avx512_core_vnni";
            case 0xe7 -> "avx512_core_bf16";
            case 0x1ef -> "avx10_1_512";
            case 0xfef -> "avx10_1_512_amx";
            case 0x1fef -> "avx10_1_512_amx_fp16";
            default -> "isa 0x" + Integer.toHexString(isa);
        };
    }

    /**
     * Whether oneDNN's int8 kernels here use VNNI (u8×s8 products summed straight into s32). Without it
     * they pair products into saturating s16 sums first (vpmaddubsw), so a u8 input with full-range s8
     * weights can overflow: 255 × 127 × 2 > 32767.
     */
    public static boolean hasInt8Vnni() {
        int isa = effectiveCpuIsa();
        return (isa & (ISA_AVX2_VNNI_BIT | ISA_AVX512_VNNI_BIT)) != 0;
    }

    /**
     * Whether oneDNN has bf16 dot-product kernels here (AVX512_BF16 or AMX-BF16). Elsewhere its bf16 primitives,
     * where it has any, convert to f32 first and run slower than f32 itself.
     */
    public static boolean hasBf16() {
        return (effectiveCpuIsa() & ISA_AVX512_BF16_BIT) != 0;
    }

    /**
     * Sets how many OpenMP threads oneDNN uses for primitives executed from the calling thread
     * (an OpenMP per-thread setting, so each Java thread that runs primitives sets its own).
     */
    public static void setThreadsForCurrentThread(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        try {
            omp_set_num_threads.invokeExact(threads);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The OpenMP thread count primitives executed from the calling thread would use. */
    public static int maxThreadsForCurrentThread() {
        try {
            return (int) omp_get_max_threads.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
