package dev.snapscore.engine.spec;

import java.util.Locale;

/** How one number is stored: in a weight tensor (safetensors dtype) or in an activation between layers. */
public enum ElementType {
    F32("F32", 4),
    /** bfloat16, the upper half of an f32: weights stored at half size ({@code convert --precision bf16}). */
    BF16("BF16", 2),
    /** Signed 8-bit: quantised weights, and activations that can be negative. */
    S8("I8", 1),
    /** Unsigned 8-bit: activations after a ReLU. */
    U8("U8", 1);

    /** The name safetensors headers use. */
    public final String safetensorsName;
    public final int bytes;

    ElementType(String safetensorsName, int bytes) {
        this.safetensorsName = safetensorsName;
        this.bytes = bytes;
    }

    public boolean isInteger() {
        return this == S8 || this == U8;
    }

    /** The largest magnitude a quantised value can hold (127 or 255). */
    public int maxLevel() {
        return switch (this) {
            case S8 -> 127;
            case U8 -> 255;
            case F32, BF16 -> throw new IllegalStateException(this + " is not quantised");
        };
    }

    /** The type whose safetensors dtype is {@code name}, or null. */
    public static ElementType ofSafetensors(String name) {
        for (ElementType t : values()) if (t.safetensorsName.equals(name)) return t;
        return null;
    }

    /** "f32", "bf16", "s8", "u8" as specs spell them. */
    public String specName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
