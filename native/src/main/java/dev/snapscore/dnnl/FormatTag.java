package dev.snapscore.dnnl;

/**
 * Plain layouts ({@code dnnl_format_tag_t}, values from the shipped {@code dnnl_types.h}, checked in tests):
 * letters name dimensions in order, outermost first. Blocked layouts are only ever chosen by oneDNN, via {@link #ANY}.
 */
public enum FormatTag {
    /** Whatever layout the primitive prefers (usually blocked). */
    ANY(1),
    /** 1-D: x (bias). */
    A(2),
    /** 2-D row-major: nc (activations), oi (dense weights [out, in]). */
    AB(3),
    /** 3-D row-major. */
    ABC(4),
    /** 4-D: nchw (activations), oihw (conv weights). */
    ABCD(5),
    /** 2-D column-major: a matmul's (in, out) weights stored as dense weights [out, in]. */
    BA(14),
    /** 4-D channels last: nhwc, or ohwi for dense weights over an NHWC-flattened feature map. */
    ACDB(22);

    final int value;

    FormatTag(int value) {
        this.value = value;
    }
}
