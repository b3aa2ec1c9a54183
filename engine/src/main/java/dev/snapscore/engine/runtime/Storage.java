package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.DataType;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.Quantization.Encoding;

/** How an activation buffer holds its values: real value = scale × stored value (scale 1 for f32 and bf16). */
record Storage(DataType type, float scale) {
    static final Storage F32 = new Storage(DataType.F32, 1f);
    static final Storage BF16 = new Storage(DataType.BF16, 1f);

    static Storage of(Encoding e) {
        return new Storage(typeOf(e.type()), e.scale());
    }

    /** The oneDNN type a tensor of {@code type} is stored in. */
    static DataType typeOf(ElementType type) {
        return switch (type) {
            case F32 -> DataType.F32;
            case BF16 -> DataType.BF16;
            case S8 -> DataType.S8;
            case U8 -> DataType.U8;
        };
    }

    @Override
    public String toString() {
        return type.isInteger() ? type.name().toLowerCase() + "×" + scale : type.name().toLowerCase();
    }
}
