package dev.snapscore.dnnl;

import java.lang.foreign.MemorySegment;

/**
 * Primitive attributes: always a user-managed scratchpad (each session passes its own, so primitives can
 * be shared by sessions on several threads), optionally a fused ReLU post-op and int8 scales.
 */
public final class PrimitiveAttr extends NativeHandle<PrimitiveAttr> {
    private PrimitiveAttr(MemorySegment handle) {
        super("primitive_attr", handle, Dnnl.primitive_attr_destroy);
    }

    public static PrimitiveAttr create(boolean fuseRelu) {
        PrimitiveAttr attr = new PrimitiveAttr(create("dnnl_primitive_attr_create",
                (out, tmp) -> (int) Dnnl.primitive_attr_create.invokeExact(out)));
        try {
            Dnnl.check((int) Dnnl.primitive_attr_set_scratchpad_mode.invokeExact(attr.handle(), Dnnl.SCRATCHPAD_MODE_USER),
                    "dnnl_primitive_attr_set_scratchpad_mode");
            if (fuseRelu) {
                MemorySegment postOps = create("dnnl_post_ops_create",
                        (out, tmp) -> (int) Dnnl.post_ops_create.invokeExact(out));
                try {
                    Dnnl.check((int) Dnnl.post_ops_append_eltwise.invokeExact(postOps, Dnnl.ELTWISE_RELU, 0f, 0f),
                            "dnnl_post_ops_append_eltwise");
                    Dnnl.check((int) Dnnl.primitive_attr_set_post_ops.invokeExact(attr.handle(), postOps),
                            "dnnl_primitive_attr_set_post_ops");
                } finally {
                    // The attribute keeps its own copy of the post-ops.
                    Dnnl.check((int) Dnnl.post_ops_destroy.invokeExact(postOps), "dnnl_post_ops_destroy");
                }
            }
            return attr;
        } catch (Throwable t) {
            attr.close();
            throw Dnnl.rethrow(t);
        }
    }

    /**
     * Declares that argument {@code arg} (e.g. {@link Arg#SRC}) is scaled at execution time by a f32
     * vector passed as {@code arg.scales()}: one value for the whole tensor ({@code mask} 0)
     * or one per index of each dimension whose bit is set (mask 1 on weights: per output channel).
     */
    public PrimitiveAttr scales(Arg arg, int mask) {
        if (arg.isScales()) throw new IllegalArgumentException("scales are declared on a tensor argument, not on " + arg);
        try {
            Dnnl.check((int) Dnnl.primitive_attr_set_scales_mask.invokeExact(handle(), arg.value, mask),
                    "dnnl_primitive_attr_set_scales_mask");
            return this;
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    /**
     * Lets a floating-point primitive read s8/u8 weights, converting each to f32 (times its scale) inside
     * the kernel: oneDNN's weights decompression, so integer weights stay a quarter of the size in memory.
     */
    public PrimitiveAttr integerWeightsInFloat() {
        try {
            Dnnl.check((int) Dnnl.primitive_attr_set_fpmath_mode_v2.invokeExact(handle(), Dnnl.FPMATH_MODE_STRICT, 1),
                    "dnnl_primitive_attr_set_fpmath_mode_v2");
            return this;
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }
}
