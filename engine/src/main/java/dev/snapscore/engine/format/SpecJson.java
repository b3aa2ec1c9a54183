package dev.snapscore.engine.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Window;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Locale;

/**
 * {@code spec.json}, the human-readable half of snapscore's model format (documented in
 * {@code models/README.md}). Keys it does not know are ignored, so specs can carry notes.
 */
public final class SpecJson {
    /** Only writing uses a mapper, made on first use: reading goes through {@link JsonTree}, light at start-up. */
    private static final class Writer {
        static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }

    private SpecJson() {
    }

    /** A parsed spec and the name of its weights file (relative to the spec's directory). */
    public record Parsed(ModelSpec spec, String weightsFile) {
    }

    /** Reads and checks a spec file. */
    public static Parsed read(Path specJson) {
        if (!Files.isRegularFile(specJson)) throw new ModelFormatException("no such spec file: " + specJson);
        JsonNode root;
        try {
            root = JsonTree.read(specJson);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(specJson + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ModelFormatException(specJson + ": cannot read: " + e.getMessage(), e);
        }
        try {
            return parse(root);
        } catch (ModelFormatException | IllegalArgumentException e) {
            throw new ModelFormatException(specJson + ": " + e.getMessage(), e);
        }
    }

    static Parsed parse(JsonNode root) {
        if (root == null || !root.isObject()) throw new ModelFormatException("the spec is not a JSON object");
        String name = root.path("name").asText("model");
        JsonNode in = required(root, "input", "spec");
        InputShape input = new InputShape(integer(in, "channels", "input"), integer(in, "height", "input"),
                integer(in, "width", "input"), inputLayout(in.path("layout").asText("NCHW")));
        Preprocess preprocess = Preprocess.CAFFE;
        JsonNode pre = root.get("preprocess");
        if (pre != null) {
            JsonNode mean = required(pre, "mean", "preprocess");
            if (!mean.isArray() || mean.size() != 3) throw new ModelFormatException("preprocess.mean must be 3 numbers, got " + mean);
            float[] m = new float[3];
            for (int i = 0; i < 3; i++) m[i] = (float) number(mean.get(i), "preprocess.mean[" + i + "]");
            float[] s = {1, 1, 1};
            JsonNode scale = pre.get("scale");
            if (scale != null && scale.isArray()) {
                if (scale.size() != 3) throw new ModelFormatException("preprocess.scale must be a number or 3 numbers, got " + scale);
                for (int i = 0; i < 3; i++) s[i] = (float) number(scale.get(i), "preprocess.scale[" + i + "]");
            } else if (scale != null) {
                s[0] = s[1] = s[2] = (float) number(scale, "preprocess.scale");
            }
            preprocess = new Preprocess(pre.path("channel_order").asText("BGR").toUpperCase(Locale.ROOT), m, s);
        }
        JsonNode layersNode = required(root, "layers", "spec");
        if (!layersNode.isArray()) throw new ModelFormatException("layers must be an array");
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < layersNode.size(); i++) layers.add(layer(layersNode.get(i), i));
        int classes = 0;
        for (Layer l : layers) if (l instanceof Layer.Dense d) classes = d.out();
        List<String> labels = ModelSpec.indexLabels(classes);
        if (root.has("labels")) {
            labels = new ArrayList<>();
            for (JsonNode l : root.get("labels")) {
                if (labels.contains(l.asText())) throw new ModelFormatException("labels must be distinct: '" + l.asText() + "' appears twice");
                labels.add(l.asText());
            }
        }
        List<Double> values = null;
        if (root.has("values") && !root.get("values").isNull()) {
            values = new ArrayList<>();
            JsonNode v = root.get("values");
            for (int i = 0; i < v.size(); i++) values.add(number(v.get(i), "values[" + i + "]"));
        }
        String weights = root.path("weights").asText("weights.safetensors");
        Quantization quantization = root.hasNonNull("quantization") ? quantization(root.get("quantization")) : null;
        return new Parsed(new ModelSpec(name, input, preprocess, layers, labels, values, quantization), weights);
    }

    private static Quantization quantization(JsonNode q) {
        if (!q.isObject()) throw new ModelFormatException("quantization must be an object");
        Quantization.Encoding input = encoding(required(q, "input", "quantization"), "quantization.input");
        JsonNode layersNode = required(q, "layers", "quantization");
        if (!layersNode.isObject()) throw new ModelFormatException("quantization.layers must map layer names to encodings");
        Map<String, Quantization.Encoding> layers = new LinkedHashMap<>();
        layersNode.fields().forEachRemaining(e ->
                layers.put(e.getKey(), encoding(e.getValue(), "quantization.layers." + e.getKey())));
        return new Quantization(input, layers, q.path("method").asText(""), q.path("calibration_images").asInt(0));
    }

    private static Quantization.Encoding encoding(JsonNode node, String where) {
        String type = required(node, "type", where).asText().toLowerCase(Locale.ROOT);
        return switch (type) {
            case "f32" -> Quantization.Encoding.F32;
            case "s8", "u8" -> new Quantization.Encoding(type.equals("s8") ? ElementType.S8 : ElementType.U8,
                    (float) number(required(node, "scale", where), where + ".scale"));
            default -> throw new ModelFormatException(where + ": type must be f32, s8 or u8, got '" + type + "'");
        };
    }

    private static Layer layer(JsonNode node, int index) {
        String where = "layer " + index;
        String type = required(node, "type", where).asText();
        where = where + " (" + type + ")";
        return switch (type) {
            case "conv" -> new Layer.Conv(required(node, "name", where).asText(), integer(node, "out", where),
                    window(node, where, true), activation(node, where));
            case "maxpool" -> new Layer.MaxPool(window(node, where, false));
            case "global_avgpool" -> new Layer.GlobalAveragePool();
            case "flatten" -> new Layer.Flatten(flattenOrder(node.path("order").asText("NCHW"), where));
            case "dense" -> new Layer.Dense(required(node, "name", where).asText(), integer(node, "out", where),
                    activation(node, where));
            case "dropout" -> new Layer.Dropout(dropoutRate(node, where));
            default -> throw new ModelFormatException(where + ": unknown layer type '" + type
                    + "'; snapscore knows conv, maxpool, global_avgpool, flatten, dense, dropout");
        };
    }

    private static Window window(JsonNode node, String where, boolean isConv) {
        int[] k = pair(required(node, "kernel", where), where + ".kernel");
        int[] s = node.has("stride") ? pair(node.get("stride"), where + ".stride") : (isConv ? new int[] {1, 1} : k);
        int[] p = {0, 0, 0, 0};
        JsonNode pad = node.get("pad");
        if (pad != null) {
            if (pad.isArray() && pad.size() == 4) {
                for (int i = 0; i < 4; i++) p[i] = (int) number(pad.get(i), where + ".pad");
            } else {
                int[] hw = pair(pad, where + ".pad");
                p = new int[] {hw[0], hw[1], hw[0], hw[1]};
            }
        }
        return new Window(k[0], k[1], s[0], s[1], p[0], p[1], p[2], p[3]);
    }

    private static int[] pair(JsonNode v, String where) {
        if (v.isArray() && v.size() == 2) return new int[] {(int) number(v.get(0), where), (int) number(v.get(1), where)};
        int x = (int) number(v, where);
        return new int[] {x, x};
    }

    private static Activation activation(JsonNode node, String where) {
        String a = node.path("activation").asText("none").toLowerCase(Locale.ROOT);
        return switch (a) {
            case "relu" -> Activation.RELU;
            case "none", "linear" -> Activation.NONE;
            case "softmax" -> Activation.SOFTMAX;
            default -> throw new ModelFormatException(where + ": unknown activation '" + a + "'; use relu, none or softmax");
        };
    }

    /** A dropout rate is a number in [0, 1) (absent: 0); anything else is a spec snapscore does not understand. */
    private static float dropoutRate(JsonNode node, String where) {
        JsonNode rate = node.path("rate");
        if (rate.isMissingNode()) return 0;
        if (!rate.isNumber() || !(rate.asDouble() >= 0 && rate.asDouble() < 1)) {
            throw new ModelFormatException(where + ": dropout rate must be a number in [0, 1), got " + rate);
        }
        return (float) rate.asDouble();
    }

    private static InputLayout inputLayout(String layout) {
        return switch (layout.toUpperCase(Locale.ROOT)) {
            case "NCHW" -> InputLayout.NCHW;
            case "NHWC" -> InputLayout.NHWC;
            default -> throw new ModelFormatException("input.layout must be NCHW or NHWC, got '" + layout + "'");
        };
    }

    private static FlattenOrder flattenOrder(String order, String where) {
        return switch (order.toUpperCase(Locale.ROOT)) {
            case "NCHW" -> FlattenOrder.NCHW;
            case "NHWC" -> FlattenOrder.NHWC;
            default -> throw new ModelFormatException(where + ": flatten order must be NCHW or NHWC, got '" + order + "'");
        };
    }

    private static JsonNode required(JsonNode node, String key, String where) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) throw new ModelFormatException(where + ": missing '" + key + "'");
        return v;
    }

    private static int integer(JsonNode node, String key, String where) {
        JsonNode v = required(node, key, where);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ModelFormatException(where + ": '" + key + "' must be an integer, got " + v);
        }
        return v.intValue();
    }

    private static double number(JsonNode v, String where) {
        if (v == null || !v.isNumber()) throw new ModelFormatException(where + " must be a number, got " + v);
        return v.doubleValue();
    }

    /** Writes {@code spec} (compact: square windows as single ints), atomically. */
    public static void write(Path specJson, ModelSpec spec, String weightsFile) throws IOException {
        ObjectNode root = Writer.JSON.createObjectNode();
        root.put("name", spec.name());
        ObjectNode in = root.putObject("input");
        in.put("channels", spec.input().channels()).put("height", spec.input().height()).put("width", spec.input().width());
        if (spec.input().layout() != InputLayout.NCHW) in.put("layout", spec.input().layout().name());
        ObjectNode pre = root.putObject("preprocess");
        pre.put("channel_order", spec.preprocess().channelOrder());
        ArrayNode mean = pre.putArray("mean");
        for (float m : spec.preprocess().mean()) mean.add((double) m);
        float[] scale = spec.preprocess().scale();
        if (spec.preprocess().uniformScale()) pre.put("scale", (double) scale[0]);
        else pre.putArray("scale").add((double) scale[0]).add((double) scale[1]).add((double) scale[2]);
        ArrayNode layers = root.putArray("layers");
        for (Layer layer : spec.layers()) {
            ObjectNode l = layers.addObject();
            switch (layer) {
                case Layer.Conv c -> {
                    l.put("type", "conv").put("name", c.name()).put("out", c.out());
                    putWindow(l, c.window());
                    l.put("activation", c.activation().name().toLowerCase(Locale.ROOT));
                }
                case Layer.MaxPool p -> {
                    l.put("type", "maxpool");
                    putWindow(l, p.window());
                }
                case Layer.GlobalAveragePool g -> l.put("type", "global_avgpool");
                case Layer.Flatten f -> l.put("type", "flatten").put("order", f.order().name());
                case Layer.Dense d -> l.put("type", "dense").put("name", d.name()).put("out", d.out())
                        .put("activation", d.activation().name().toLowerCase(Locale.ROOT));
                case Layer.Dropout d -> l.put("type", "dropout").put("rate", (double) d.rate());
            }
        }
        ArrayNode labels = root.putArray("labels");
        spec.labels().forEach(labels::add);
        if (spec.values() != null) {
            ArrayNode values = root.putArray("values");
            spec.values().forEach(values::add);
        }
        root.put("weights", weightsFile);
        Quantization q = spec.quantization();
        if (q != null) {
            ObjectNode qn = root.putObject("quantization");
            qn.put("method", q.method()).put("calibration_images", q.calibrationImages());
            putEncoding(qn.putObject("input"), q.input());
            ObjectNode layerEncodings = qn.putObject("layers");
            q.layers().forEach((layer, e) -> putEncoding(layerEncodings.putObject(layer), e));
        }
        byte[] bytes = Writer.JSON.writeValueAsBytes(root);
        AtomicFiles.write(specJson, channel -> channel.write(ByteBuffer.wrap(bytes)));
    }

    private static void putEncoding(ObjectNode node, Quantization.Encoding e) {
        node.put("type", e.type().specName());
        if (e.type().isInteger()) node.put("scale", (double) e.scale());
    }

    private static void putWindow(ObjectNode l, Window w) {
        if (w.kernelH() == w.kernelW()) l.put("kernel", w.kernelH());
        else l.putArray("kernel").add(w.kernelH()).add(w.kernelW());
        if (w.strideH() == w.strideW()) l.put("stride", w.strideH());
        else l.putArray("stride").add(w.strideH()).add(w.strideW());
        if (w.padTop() == w.padLeft() && w.padTop() == w.padBottom() && w.padTop() == w.padRight()) l.put("pad", w.padTop());
        else l.putArray("pad").add(w.padTop()).add(w.padLeft()).add(w.padBottom()).add(w.padRight());
    }
}
