package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.FormatTag;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Window;

/** Emits a {@link Lowered.DirectConv}: one oneDNN convolution in the layouts it picks. */
final class Convolutions {
    private Convolutions() {
    }

    static void direct(PlanBuilder b, Lowered.DirectConv c) {
        Layer.Conv conv = c.layer();
        Window w = conv.window();
        try (MemoryDesc srcAny = MemoryDesc.of(c.src(), c.in().type(), FormatTag.ANY);
             MemoryDesc weightsAny = MemoryDesc.of(c.weights(), c.weightType(), FormatTag.ANY);
             MemoryDesc biasDesc = MemoryDesc.of(new long[] {conv.out()}, FormatTag.A);
             MemoryDesc dstAny = MemoryDesc.of(c.dst(), c.out().type(), FormatTag.ANY);
             PrimitiveAttr attr = Numerics.attr(conv.activation() == Activation.RELU, c.weightType(), c.out());
             PrimitiveDesc pd = b.sharingWeightsLayout(conv.weightName(), weightsAny,
                     weightsDesc -> PrimitiveDesc.convolution(b.engine, srcAny, weightsDesc, biasDesc,
                             dstAny, new long[] {w.strideH(), w.strideW()}, new long[] {w.padTop(), w.padLeft()},
                             new long[] {w.padBottom(), w.padRight()}, attr))) {
            b.ensureInput(pd.srcDesc(), c.in(), conv.name());
            var weights = b.weights.get(conv.weightName(), c.weights(), FormatTag.ABCD, pd);
            var bias = b.weights.vector(conv.biasName(), conv.out());
            b.then(conv.name(), pd, Numerics.constants(b.weights, conv.name(), conv.out(), weights, bias, c.weightType(),
                    c.in(), c.out()), c.out());
        }
    }
}
