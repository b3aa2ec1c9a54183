package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DataType;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.engine.runtime.NetworkPlan.Constant;
import dev.snapscore.engine.spec.Quantization;

import java.util.ArrayList;
import java.util.List;

/** The attributes and constant arguments of a convolution or inner product, from the storage it reads and writes. */
final class Numerics {
    private Numerics() {
    }

    /** A fused ReLU if asked, and for int8 the source, per-output-channel weight and (integer) destination scales. */
    static PrimitiveAttr attr(boolean relu, DataType weightType, Storage out) {
        PrimitiveAttr attr = PrimitiveAttr.create(relu);
        try {
            if (weightType == DataType.S8) attr.scales(Arg.SRC, 0).scales(Arg.WEIGHTS, 1);
            if (out.type().isInteger()) attr.scales(Arg.DST, 0);
            return attr;
        } catch (RuntimeException e) {
            attr.close();
            throw e;
        }
    }

    /** Weights and bias, and the scales {@link #attr} declared. */
    static List<Constant> constants(ReorderedWeights weights, String layer, int channels, ReorderedWeights.Entry w,
                                    ReorderedWeights.Entry bias, DataType weightType, Storage in, Storage out) {
        List<Constant> c = new ArrayList<>(List.of(new Constant(Arg.WEIGHTS, w), new Constant(Arg.BIAS, bias)));
        if (weightType == DataType.S8) {
            c.add(new Constant(Arg.SRC.scales(), weights.scalar(in.scale())));
            c.add(new Constant(Arg.WEIGHTS.scales(), weights.vector(Quantization.weightScaleName(layer), channels)));
        }
        if (out.type().isInteger()) c.add(new Constant(Arg.DST.scales(), weights.scalar(out.scale())));
        return c;
    }
}
