package dev.snapscore.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.util.Statistics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The suite's results as summary.json, summary.md (with the cross-check that preceded them) and PNG charts. */
record Report(List<Row> rows, List<Latency> latencies, List<FrontEnd> frontEnd, double gflopPerImage, Machine machine,
              CrossCheck crossCheck) {

    /** One throughput measurement; p50/p99 come from the latency benchmark, at batch 1 only. */
    record Row(String engine, String model, int batch, double images_per_s, double error, Double p50_ms, Double p99_ms) {
    }

    record Latency(String engine, double p50, double p90, double p99) {
    }

    record FrontEnd(String benchmark, double ms, double error) {
    }

    static Report of(Collection<RunResult> runs, ModelSpec spec, String model, Machine machine, CrossCheck crossCheck) {
        List<Latency> latencies = new ArrayList<>();
        List<FrontEnd> frontEnd = new ArrayList<>();
        List<RunResult> throughput = new ArrayList<>();
        for (RunResult r : runs) {
            String name = r.getParams().getBenchmark();
            if (name.endsWith("LatencyBenchmark.inferOne")) {
                Statistics s = r.getPrimaryResult().getStatistics();
                latencies.add(new Latency(r.getParams().getParam("engine"), s.getPercentile(50), s.getPercentile(90), s.getPercentile(99)));
            } else if (name.contains("FrontEndBenchmark")) {
                frontEnd.add(new FrontEnd(name.substring(name.lastIndexOf('.') + 1), r.getPrimaryResult().getScore(),
                        r.getPrimaryResult().getScoreError()));
            } else {
                throughput.add(r);
            }
        }
        List<Row> rows = new ArrayList<>();
        for (RunResult r : throughput) {
            String engine = r.getParams().getParam("engine");
            int batch = Integer.parseInt(r.getParams().getParam("batch"));
            double score = r.getPrimaryResult().getScore(), error = r.getPrimaryResult().getScoreError();
            Latency l = batch == 1 ? latencies.stream().filter(x -> x.engine().equals(engine)).findFirst().orElse(null) : null;
            rows.add(new Row(engine, model, batch, score * batch, Double.isNaN(error) ? 0 : error * batch,
                    l == null ? null : l.p50(), l == null ? null : l.p99()));
        }
        return new Report(rows, latencies, frontEnd, gflopPerImage(spec), machine, crossCheck);
    }

    /** Multiply-adds × 2 of every conv and dense layer, for one image. */
    static double gflopPerImage(ModelSpec spec) {
        double flop = 0;
        long c = spec.input().channels();
        List<long[]> shapes = spec.outputShapes();
        long features = 0;
        for (int i = 0; i < spec.layers().size(); i++) {
            Layer layer = spec.layers().get(i);
            long[] out = shapes.get(i);
            switch (layer) {
                case Layer.Conv conv -> {
                    flop += 2.0 * conv.out() * c * conv.window().kernelH() * conv.window().kernelW() * out[1] * out[2];
                    c = conv.out();
                }
                case Layer.Dense d -> {
                    flop += 2.0 * features * d.out();
                    features = d.out();
                }
                case Layer.Flatten f -> features = out[0];
                default -> { }
            }
        }
        return flop / 1e9;
    }

    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("Peak fp32 estimate: ").append(machine.assumptions()).append("\n");
        md.append(String.format("Model cost: %.2f GFLOP per image.%n%n", gflopPerImage));
        md.append("| engine | model | batch | images/s | GFLOP/s | % of fp32 peak | × ONNX Runtime | p50 ms | p99 ms |\n");
        md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Row r : rows) {
            double ort = rows.stream().filter(o -> o.engine().equals("onnxruntime") && o.batch() == r.batch())
                    .mapToDouble(Row::images_per_s).findFirst().orElse(Double.NaN);
            double gflops = r.images_per_s() * gflopPerImage;
            md.append(String.format("| %s | %s | %d | %.2f ± %.2f | %.1f | %.0f%% | %.2f | %s | %s |%n", r.engine(), r.model(),
                    r.batch(), r.images_per_s(), r.error(), gflops, 100 * gflops / machine.peakGflops(), r.images_per_s() / ort,
                    r.p50_ms() == null ? "" : String.format("%.1f", r.p50_ms()), r.p99_ms() == null ? "" : String.format("%.1f", r.p99_ms())));
        }
        if (!frontEnd.isEmpty()) {
            md.append("\n| front end, per photo | ms |\n| --- | ---: |\n");
            for (FrontEnd f : frontEnd) md.append(String.format("| %s | %.2f ± %.2f |%n", f.benchmark(), f.ms(), Double.isNaN(f.error()) ? 0 : f.error()));
        }
        md.append("\n").append(crossCheck.markdown());
        return md.toString();
    }

    void write(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        json.writeValue(dir.resolve("summary.json").toFile(), rows);
        Files.writeString(dir.resolve("summary.md"), markdown());
        throughputChart().ifPresent(c -> save(c, dir.resolve("throughput.png")));
        if (!latencies.isEmpty()) save(latencyChart(), dir.resolve("latency.png"));
    }

    private java.util.Optional<CategoryChart> throughputChart() {
        if (rows.isEmpty()) return java.util.Optional.empty();
        CategoryChart chart = new CategoryChartBuilder().width(800).height(500).title("Throughput, " + rows.getFirst().model())
                .xAxisTitle("batch").yAxisTitle("images/s").build();
        Map<String, List<Row>> byEngine = new LinkedHashMap<>();
        for (Row r : rows) byEngine.computeIfAbsent(r.engine(), k -> new ArrayList<>()).add(r);
        byEngine.forEach((engine, list) -> chart.addSeries(engine, list.stream().map(r -> Integer.toString(r.batch())).toList(),
                list.stream().map(Row::images_per_s).toList(), list.stream().map(Row::error).toList()));
        return java.util.Optional.of(chart);
    }

    private CategoryChart latencyChart() {
        CategoryChart chart = new CategoryChartBuilder().width(800).height(500).title("Latency at batch 1")
                .xAxisTitle("percentile").yAxisTitle("ms").build();
        for (Latency l : latencies) chart.addSeries(l.engine(), List.of("p50", "p90", "p99"), List.of(l.p50(), l.p90(), l.p99()));
        return chart;
    }

    private static void save(CategoryChart chart, Path file) {
        try {
            BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
