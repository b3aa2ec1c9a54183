package dev.snapscore.dnnl;

/**
 * A primitive's execution argument ({@code DNNL_ARG_*}, values from the shipped {@code dnnl_types.h}, checked in
 * tests): a tensor it reads or writes, or the runtime scales of one ({@link #scales()}).
 */
public final class Arg {
    public static final Arg SRC = new Arg("src", 1);
    public static final Arg DST = new Arg("dst", 17);
    public static final Arg WEIGHTS = new Arg("weights", 33);
    public static final Arg BIAS = new Arg("bias", 41);
    public static final Arg SCRATCHPAD = new Arg("scratchpad", 80);

    /** DNNL_ARG_ATTR_SCALES: OR-ed with an argument, that argument's scales. */
    private static final int ATTR_SCALES = 4096;

    private final String name;
    final int value;

    private Arg(String name, int value) {
        this.name = name;
        this.value = value;
    }

    /**
     * The f32 scales of this argument, passed at execution time ({@code DNNL_ARG_ATTR_SCALES | arg}) once
     * {@link PrimitiveAttr#scales} declared them.
     */
    public Arg scales() {
        if (isScales()) throw new IllegalArgumentException(name + " has no scales of its own");
        return new Arg("scales of " + name, ATTR_SCALES | value);
    }

    boolean isScales() {
        return (value & ATTR_SCALES) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Arg a && a.value == value;
    }

    @Override
    public int hashCode() {
        return value;
    }

    @Override
    public String toString() {
        return name;
    }
}
