package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.FormatTag;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.spec.Window;

import java.util.List;

/** Emits the pooling layers, reading the current activation in whatever layout and storage it has. */
final class Pools {
    private Pools() {
    }

    static void max(PlanBuilder b, Lowered.MaxPool p) {
        Window w = p.window();
        try (MemoryDesc dstAny = MemoryDesc.of(p.dst(), p.in().type(), FormatTag.ANY);
             PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.maxPooling(b.engine, b.currentDesc(), dstAny,
                     new long[] {w.strideH(), w.strideW()}, new long[] {w.kernelH(), w.kernelW()},
                     new long[] {w.padTop(), w.padLeft()}, new long[] {w.padBottom(), w.padRight()}, attr)) {
            b.then("maxpool", pd, List.of(), p.out());
        }
    }

    static void globalAverage(PlanBuilder b, Lowered.GlobalAveragePool p) {
        long[] kernel = {p.src()[2], p.src()[3]};
        try (MemoryDesc dstAny = MemoryDesc.of(p.dst(), p.in().type(), FormatTag.ANY);
             PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.averagePooling(b.engine, b.currentDesc(), dstAny, kernel, kernel,
                     new long[] {0, 0}, new long[] {0, 0}, attr)) {
            b.then("global_avgpool", pd, List.of(), p.out());
        }
    }
}
