package dev.snapscore.dnnl;

/** The element types snapscore stores tensors in, each with its {@code dnnl_data_type_t} value (checked in tests). */
public enum DataType {
    F32(3), BF16(2), S8(5), U8(6);

    final int value;

    DataType(int value) {
        this.value = value;
    }

    public boolean isInteger() {
        return this == S8 || this == U8;
    }

    /** The type of oneDNN's {@code value}; a type snapscore never creates is an error. */
    static DataType of(int value) {
        for (DataType t : values()) if (t.value == value) return t;
        throw new DnnlException("oneDNN data type " + value + " is none that snapscore uses");
    }
}
