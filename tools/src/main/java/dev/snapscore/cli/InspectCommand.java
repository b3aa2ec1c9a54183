package dev.snapscore.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.onnx.ImportReport;
import dev.snapscore.engine.format.onnx.OnnxImporter;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Window;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** What the engine sees in a model file: the layer chain it built, and for ONNX what the import did or refused. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show what snapscore makes of a model (an .onnx file or a model directory): opset and producer,",
                "the layer chain with output shapes, parameters and GFLOP per layer, what the ONNX import removed or",
                "folded and why, the input layout and preprocessing; for a refused file every problem.",
                "Exit codes: 0 the model loads, 2 it is refused or unreadable."})
final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "An .onnx file or a snapscore model directory.")
    Path model;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model.toString());
        ModelSpec modelSpec;
        List<String> problems = List.of();
        if (Files.isDirectory(model) || !model.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            try (LoadedModel loaded = ModelFormats.read(model)) {
                modelSpec = loaded.spec();
                Map<String, Long> bytesByType = new java.util.TreeMap<>();
                for (var t : loaded.weights().tensors().values()) bytesByType.merge(t.type().specName(), t.data().byteSize(), Long::sum);
                out.put("weight_bytes", bytesByType);
            }
            out.put("format", "snapscore");
        } else {
            ImportReport report = OnnxImporter.inspect(model);
            modelSpec = report.spec();
            problems = report.problems();
            out.put("format", "onnx");
            out.put("opset", report.opset());
            out.put("producer", report.producer());
            out.put("rewrites", report.rewrites());
            out.put("preprocessing_source", report.preprocessing());
        }
        out.put("loads", problems.isEmpty());
        out.put("problems", problems);
        if (modelSpec != null) describe(modelSpec, out);
        PrintWriter w = spec.commandLine().getOut();
        if (json) w.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
        else text(out, w);
        return problems.isEmpty() ? SnapscoreCli.OK : SnapscoreCli.BAD_INPUT;
    }

    private static void describe(ModelSpec s, Map<String, Object> out) {
        out.put("name", s.name());
        out.put("input", Map.of("channels", s.input().channels(), "height", s.input().height(), "width", s.input().width(),
                "layout", s.input().layout().name()));
        Preprocess p = s.preprocess();
        out.put("preprocess", Map.of("channel_order", p.channelOrder(), "mean", p.mean(), "scale", p.scale()));
        List<Map<String, Object>> layers = new ArrayList<>();
        List<long[]> shapes = s.outputShapes();
        long in = s.input().channels(), features = 0, parameters = 0;
        double gflop = 0;
        for (int i = 0; i < s.layers().size(); i++) {
            Layer layer = s.layers().get(i);
            long[] shape = shapes.get(i);
            long params = 0;
            double flop = 0;
            switch (layer) {
                case Layer.Conv c -> {
                    long k = (long) c.window().kernelH() * c.window().kernelW();
                    params = c.out() * in * k + c.out();
                    flop = 2.0 * c.out() * in * k * shape[1] * shape[2];
                    in = c.out();
                }
                case Layer.Dense d -> {
                    params = d.out() * features + d.out();
                    flop = 2.0 * features * d.out();
                    features = d.out();
                }
                case Layer.Flatten f -> features = shape[0];
                default -> { }
            }
            parameters += params;
            gflop += flop / 1e9;
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("layer", describe(layer));
            row.put("output", shape);
            row.put("parameters", params);
            row.put("gflop", flop / 1e9);
            layers.add(row);
        }
        out.put("layers", layers);
        out.put("parameters", parameters);
        out.put("gflop", gflop);
        out.put("classes", s.classes());
    }

    /** One layer in a few words: "conv features.0 64 3x3/1 pad 1 relu". */
    static String describe(Layer layer) {
        return switch (layer) {
            case Layer.Conv c -> "conv " + c.name() + " " + c.out() + " " + window(c.window()) + " " + c.activation().name().toLowerCase(Locale.ROOT);
            case Layer.MaxPool p -> "maxpool " + window(p.window());
            case Layer.GlobalAveragePool g -> "global average pool";
            case Layer.Flatten f -> "flatten " + f.order().name().toLowerCase(Locale.ROOT);
            case Layer.Dense d -> "dense " + d.name() + " " + d.out() + " " + d.activation().name().toLowerCase(Locale.ROOT);
            case Layer.Dropout d -> "dropout " + d.rate();
        };
    }

    private static String window(Window w) {
        String pads = w.padTop() == w.padLeft() && w.padTop() == w.padBottom() && w.padTop() == w.padRight() ? Integer.toString(w.padTop())
                : w.padTop() + "," + w.padLeft() + "," + w.padBottom() + "," + w.padRight();
        return w.kernelH() + "x" + w.kernelW() + "/" + (w.strideH() == w.strideW() ? w.strideH() : w.strideH() + "x" + w.strideW())
                + (pads.equals("0") ? "" : " pad " + pads);
    }

    @SuppressWarnings("unchecked")
    private static void text(Map<String, Object> out, PrintWriter w) {
        w.printf("model: %s (%s)%n", out.get("model"), out.get("format"));
        if (out.containsKey("opset")) w.printf("opset %s, producer %s%n", out.get("opset"), out.get("producer"));
        List<String> problems = (List<String>) out.get("problems");
        if (!problems.isEmpty()) {
            w.printf("refused, %d problem(s):%n", problems.size());
            for (String p : problems) w.println("  " + p);
        }
        if (out.containsKey("rewrites")) {
            List<String> rewrites = (List<String>) out.get("rewrites");
            w.printf("normalisation: %d rewrite(s)%n", rewrites.size());
            for (String r : rewrites) w.println("  " + r);
        }
        if (!out.containsKey("layers")) return;
        Map<String, Object> input = (Map<String, Object>) out.get("input");
        w.printf("input: %s x %s x %s, layout %s%n", input.get("channels"), input.get("height"), input.get("width"), input.get("layout"));
        Map<String, Object> p = (Map<String, Object>) out.get("preprocess");
        w.printf("preprocessing: %s, minus %s, times %s%n", p.get("channel_order"), Arrays.toString((float[]) p.get("mean")),
                Arrays.toString((float[]) p.get("scale")));
        if (out.containsKey("preprocessing_source")) w.printf("  (%s)%n", out.get("preprocessing_source"));
        w.printf("%-4s %-44s %-16s %12s %10s%n", "#", "layer", "output", "parameters", "GFLOP");
        List<Map<String, Object>> layers = (List<Map<String, Object>>) out.get("layers");
        for (int i = 0; i < layers.size(); i++) {
            Map<String, Object> l = layers.get(i);
            w.printf(Locale.ROOT, "%-4d %-44s %-16s %,12d %10.4f%n", i, l.get("layer"), Arrays.toString((long[]) l.get("output")),
                    (long) l.get("parameters"), (double) l.get("gflop"));
        }
        w.printf(Locale.ROOT, "total: %,d parameters, %.3f GFLOP per image, %s classes%n", (long) out.get("parameters"),
                (double) out.get("gflop"), out.get("classes"));
        if (out.get("weight_bytes") instanceof Map<?, ?> stored) {
            List<String> parts = new ArrayList<>();
            stored.forEach((type, bytes) -> parts.add(String.format(Locale.ROOT, "%s %.1f MB", type, (long) bytes / 1e6)));
            w.println("weights stored: " + String.join(", ", parts));
        }
    }
}
