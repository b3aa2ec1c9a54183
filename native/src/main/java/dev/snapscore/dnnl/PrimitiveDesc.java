package dev.snapscore.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A primitive descriptor: oneDNN's chosen implementation and layouts for one operation at fixed shapes.
 * Query the layouts it picked, create the {@link Primitive}, then close it.
 */
public final class PrimitiveDesc extends NativeHandle<PrimitiveDesc> {
    private PrimitiveDesc(MemorySegment handle) {
        super("primitive_desc", handle, Dnnl.primitive_desc_destroy);
    }

    /**
     * Forward-inference direct 2-D convolution. {@code padBegin}/{@code padEnd} are (top, left) and (bottom, right);
     * {@code bias} may be null.
     */
    public static PrimitiveDesc convolution(DnnlEngine engine, MemoryDesc src, MemoryDesc weights,
                                            MemoryDesc bias, MemoryDesc dst, long[] strides, long[] padBegin,
                                            long[] padEnd, PrimitiveAttr attr) {
        MemorySegment biasHandle = bias == null ? MemorySegment.NULL : bias.handle();
        return new PrimitiveDesc(create("dnnl_convolution_forward_primitive_desc_create", (out, tmp) ->
                (int) Dnnl.convolution_forward_primitive_desc_create.invokeExact(out, engine.handle(),
                        Dnnl.FORWARD_INFERENCE, Dnnl.CONVOLUTION_DIRECT, src.handle(), weights.handle(), biasHandle, dst.handle(),
                        dims(tmp, strides), dims(tmp, new long[strides.length]), dims(tmp, padBegin),
                        dims(tmp, padEnd), attr.handle())));
    }

    /** Forward-inference max pooling without dilation. */
    public static PrimitiveDesc maxPooling(DnnlEngine engine, MemoryDesc src, MemoryDesc dst, long[] strides,
                                           long[] kernel, long[] padBegin, long[] padEnd, PrimitiveAttr attr) {
        return pooling(engine, Dnnl.POOLING_MAX, src, dst, strides, kernel, padBegin, padEnd, attr);
    }

    /** Forward-inference average pooling without dilation; padding is left out of each window's count. */
    public static PrimitiveDesc averagePooling(DnnlEngine engine, MemoryDesc src, MemoryDesc dst, long[] strides,
                                               long[] kernel, long[] padBegin, long[] padEnd, PrimitiveAttr attr) {
        return pooling(engine, Dnnl.POOLING_AVG_EXCLUDE_PADDING, src, dst, strides, kernel, padBegin, padEnd, attr);
    }

    private static PrimitiveDesc pooling(DnnlEngine engine, int algorithm, MemoryDesc src, MemoryDesc dst, long[] strides,
                                         long[] kernel, long[] padBegin, long[] padEnd, PrimitiveAttr attr) {
        return new PrimitiveDesc(create("dnnl_pooling_forward_primitive_desc_create", (out, tmp) ->
                (int) Dnnl.pooling_forward_primitive_desc_create.invokeExact(out, engine.handle(),
                        Dnnl.FORWARD_INFERENCE, algorithm, src.handle(), dst.handle(),
                        dims(tmp, strides), dims(tmp, kernel), dims(tmp, new long[kernel.length]),
                        dims(tmp, padBegin), dims(tmp, padEnd), attr.handle())));
    }

    /** Forward-inference inner product (dense layer); {@code src} may be 4-D, flattened by oneDNN. */
    public static PrimitiveDesc innerProduct(DnnlEngine engine, MemoryDesc src, MemoryDesc weights, MemoryDesc bias,
                                             MemoryDesc dst, PrimitiveAttr attr) {
        return new PrimitiveDesc(create("dnnl_inner_product_forward_primitive_desc_create", (out, tmp) ->
                (int) Dnnl.inner_product_forward_primitive_desc_create.invokeExact(out, engine.handle(),
                        Dnnl.FORWARD_INFERENCE, src.handle(), weights.handle(), bias.handle(), dst.handle(),
                        attr.handle())));
    }

    /**
     * Matrix multiplication {@code dst = src × weights + bias}: (M, K) × (K, N), bias (1, N). Unlike an inner
     * product it can read integer weights into a floating-point computation (see
     * {@link PrimitiveAttr#integerWeightsInFloat()}). Leading dimensions beyond the last two are batches;
     * {@code bias} may be null.
     */
    public static PrimitiveDesc matmul(DnnlEngine engine, MemoryDesc src, MemoryDesc weights, MemoryDesc bias,
                                       MemoryDesc dst, PrimitiveAttr attr) {
        MemorySegment biasHandle = bias == null ? MemorySegment.NULL : bias.handle();
        return new PrimitiveDesc(create("dnnl_matmul_primitive_desc_create", (out, tmp) ->
                (int) Dnnl.matmul_primitive_desc_create.invokeExact(out, engine.handle(), src.handle(),
                        weights.handle(), biasHandle, dst.handle(), attr.handle())));
    }

    /** Forward-inference softmax over {@code axis}. */
    public static PrimitiveDesc softmax(DnnlEngine engine, MemoryDesc src, MemoryDesc dst, int axis,
                                        PrimitiveAttr attr) {
        return new PrimitiveDesc(create("dnnl_softmax_forward_primitive_desc_create", (out, tmp) ->
                (int) Dnnl.softmax_forward_primitive_desc_create.invokeExact(out, engine.handle(),
                        Dnnl.FORWARD_INFERENCE, Dnnl.SOFTMAX_ACCURATE, src.handle(), dst.handle(), axis,
                        attr.handle())));
    }

    /** A reorder (layout conversion) from {@code src} to {@code dst} on one engine. */
    public static PrimitiveDesc reorder(DnnlEngine engine, MemoryDesc src, MemoryDesc dst, PrimitiveAttr attr) {
        return new PrimitiveDesc(create("dnnl_reorder_primitive_desc_create", (out, tmp) ->
                (int) Dnnl.reorder_primitive_desc_create.invokeExact(out, src.handle(), engine.handle(),
                        dst.handle(), engine.handle(), attr.handle())));
    }

    public MemoryDesc srcDesc() {
        return desc(Arg.SRC);
    }

    public MemoryDesc weightsDesc() {
        return desc(Arg.WEIGHTS);
    }

    public MemoryDesc dstDesc() {
        return desc(Arg.DST);
    }

    /** The scratchpad this primitive needs; its size may be 0. */
    public MemoryDesc scratchpadDesc() {
        return desc(Arg.SCRATCHPAD);
    }

    /** oneDNN's name for the implementation it chose, e.g. "brg_conv_fwd:avx512_core". */
    public String implementation() {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ADDRESS);
            Dnnl.check((int) Dnnl.primitive_desc_query.invokeExact(handle(), Dnnl.QUERY_IMPL_INFO_STR, 0, out),
                    "dnnl_primitive_desc_query(impl_info_str)");
            return out.get(ADDRESS, 0).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    public Primitive createPrimitive() {
        return new Primitive(create("dnnl_primitive_create",
                (out, tmp) -> (int) Dnnl.primitive_create.invokeExact(out, handle())));
    }

    /** The layout the primitive takes {@code arg} in (a zero descriptor for an argument it does not take). */
    MemoryDesc desc(Arg arg) {
        MemorySegment borrowed;
        try {
            borrowed = (MemorySegment) Dnnl.primitive_desc_query_md.invokeExact(handle(), Dnnl.QUERY_EXEC_ARG_MD, arg.value);
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
        if (borrowed.equals(MemorySegment.NULL)) {
            throw new DnnlException("primitive descriptor has no memory descriptor for " + arg);
        }
        return MemoryDesc.copyOf(borrowed);
    }

    private static MemorySegment dims(Arena tmp, long[] values) {
        MemorySegment d = tmp.allocate(JAVA_LONG, Dnnl.MAX_NDIMS);
        MemorySegment.copy(values, 0, d, JAVA_LONG, 0, values.length);
        return d;
    }
}
