package dev.snapscore.engine.spec;

import dev.snapscore.engine.ModelFormatException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How an int8 model stores its activations: the network input's encoding and, per quantised conv or
 * dense layer, the encoding of its output. A quantised layer has s8 weights with one f32 scale per output
 * channel ({@code <name>.weight_scale}) and an f32 bias; layers not listed stay f32.
 *
 * @param method            how the activation ranges were calibrated, for the record (e.g. "percentile 99.99")
 * @param calibrationImages how many inputs the calibration saw
 */
public record Quantization(Encoding input, Map<String, Encoding> layers, String method, int calibrationImages) {

    /**
     * An activation tensor's storage: real value = scale × stored value (zero point 0). F32 has scale 1.
     */
    public record Encoding(ElementType type, float scale) {
        public static final Encoding F32 = new Encoding(ElementType.F32, 1f);

        public Encoding {
            Objects.requireNonNull(type, "type");
            if (!(scale > 0) || !Float.isFinite(scale)) {
                throw new ModelFormatException("quantisation scale must be a positive finite number, got " + scale);
            }
            if (type == ElementType.F32 && scale != 1f) {
                throw new ModelFormatException("an f32 activation has no scale (got " + scale + ")");
            }
        }

        @Override
        public String toString() {
            return type == ElementType.F32 ? "f32" : type.specName() + "×" + scale;
        }
    }

    public Quantization {
        Objects.requireNonNull(input, "input");
        layers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layers));
        method = method == null ? "" : method;
    }

    public boolean isQuantised(String layerName) {
        return layers.containsKey(layerName);
    }

    /** The weight-scale tensor of a quantised layer. */
    public static String weightScaleName(String layerName) {
        return layerName + ".weight_scale";
    }
}
