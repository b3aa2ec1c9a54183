package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DataType;
import dev.snapscore.dnnl.FormatTag;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.runtime.NetworkPlan.Constant;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;

import java.util.List;

/** Emits the dense layers: {@link Lowered.InnerProduct} and {@link Lowered.DecompressedDense}. */
final class DenseLayers {
    private DenseLayers() {
    }

    static void innerProduct(PlanBuilder b, Lowered.InnerProduct d) {
        Layer.Dense dense = d.layer();
        // [out, C*H*W] (NCHW) or [out, H*W*C] (NHWC) weights are the same bytes as (out, C, H, W) in oihw or ohwi.
        FormatTag userTag = d.flatten() == null ? FormatTag.AB : d.flatten() == FlattenOrder.NCHW ? FormatTag.ABCD : FormatTag.ACDB;
        long[] dstDims = {b.batch, dense.out()};
        try (MemoryDesc srcAny = MemoryDesc.of(d.src(), d.in().type(), FormatTag.ANY);
             MemoryDesc weightsAny = MemoryDesc.of(d.weights(), d.weightType(), FormatTag.ANY);
             MemoryDesc biasDesc = MemoryDesc.of(new long[] {dense.out()}, FormatTag.A);
             // Logits (always f32) land plain (N, classes) so callers read them without a reorder.
             MemoryDesc dst = MemoryDesc.of(dstDims, d.out().type(), d.logits() ? FormatTag.AB : FormatTag.ANY);
             PrimitiveAttr attr = Numerics.attr(dense.activation() == Activation.RELU, d.weightType(), d.out());
             PrimitiveDesc pd = b.sharingWeightsLayout(dense.weightName(), weightsAny,
                     weightsDesc -> PrimitiveDesc.innerProduct(b.engine, srcAny, weightsDesc, biasDesc, dst, attr))) {
            b.ensureInput(pd.srcDesc(), d.in(), dense.name());
            var weights = b.weights.get(dense.weightName(), d.weights(), userTag, pd);
            var bias = b.weights.vector(dense.biasName(), dense.out());
            b.then(dense.name(), pd, Numerics.constants(b.weights, dense.name(), dense.out(), weights, bias, d.weightType(),
                    d.in(), d.out()), d.out());
            if (d.logits()) b.moveToLogits();
        }
    }

    /**
     * A matmul of the (N, features) activations, read plain in flatten order, by the (features, out) weights
     * that the stored [out, features] tensor already is in column-major order, each weight multiplied by its
     * output's scale inside the kernel.
     */
    static void decompressed(PlanBuilder b, Lowered.DecompressedDense d) {
        Layer.Dense dense = d.layer();
        FormatTag plainTag = d.flatten() == null ? FormatTag.AB : d.flatten() == FlattenOrder.NCHW ? FormatTag.ABCD : FormatTag.ACDB;
        // A plain feature map in flatten order is already the matmul's (N, features) row-major input.
        b.ensureInput(MemoryDesc.of(d.src(), d.in().type(), plainTag), d.in(), dense.name());
        long[] weightDims = {d.features(), dense.out()};
        long[] dstDims = {b.batch, dense.out()};
        try (MemoryDesc src = MemoryDesc.of(new long[] {b.batch, d.features()}, FormatTag.AB);
             MemoryDesc weightsAny = MemoryDesc.of(weightDims, DataType.S8, FormatTag.ANY);
             MemoryDesc bias = MemoryDesc.of(new long[] {1, dense.out()}, FormatTag.AB);
             MemoryDesc dst = MemoryDesc.of(dstDims, FormatTag.AB);
             PrimitiveAttr attr = decompressing(PrimitiveAttr.create(dense.activation() == Activation.RELU));
             PrimitiveDesc pd = b.sharingWeightsLayout(dense.weightName(), weightsAny,
                     weightsDesc -> PrimitiveDesc.matmul(b.engine, src, weightsDesc, bias, dst, attr))) {
            List<Constant> constants = List.of(
                    new Constant(Arg.WEIGHTS, b.weights.get(dense.weightName(), weightDims, FormatTag.BA, pd)),
                    new Constant(Arg.BIAS, b.weights.row(dense.biasName(), dense.out())),
                    new Constant(Arg.WEIGHTS.scales(), b.weights.vector(d.scaleTensor(), dense.out())));
            b.then(dense.name(), pd, constants, d.out());
            if (d.logits()) b.moveToLogits();
        }
    }

    private static PrimitiveAttr decompressing(PrimitiveAttr attr) {
        try {
            // one scale per index of the weights' second (output) dimension
            return attr.scales(Arg.WEIGHTS, 1 << 1).integerWeightsInFloat();
        } catch (RuntimeException e) {
            attr.close();
            throw e;
        }
    }
}
