package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.spec.ElementType;

/** The element types plans use, with oneDNN's {@code dnnl_data_type_t} value of each. */
enum DataType {
    F32(Dnnl.F32), BF16(Dnnl.BF16), S8(Dnnl.S8), U8(Dnnl.U8);

    final int dnnl;

    DataType(int dnnl) {
        this.dnnl = dnnl;
    }

    boolean isInteger() {
        return this == S8 || this == U8;
    }

    static DataType of(ElementType type) {
        return switch (type) {
            case F32 -> F32;
            case BF16 -> BF16;
            case S8 -> S8;
            case U8 -> U8;
        };
    }
}
