package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.spec.ElementType;

/** The oneDNN data type of each {@link ElementType}. */
final class DataTypes {
    private DataTypes() {
    }

    static int of(ElementType type) {
        return switch (type) {
            case F32 -> Dnnl.F32;
            case S8 -> Dnnl.S8;
            case U8 -> Dnnl.U8;
        };
    }
}
