package dev.snapscore.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.dnnl.Dnnl;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;

/**
 * {@code snapscore bench --load}: cold-start cost and end-to-end throughput per engine. Each run is a fresh
 * child JVM ({@link LoadProbe}) that loads the model, runs one image, reports its peak RSS, then scores a
 * folder of JPEGs through the engine's decode → preprocess → batch pipeline. Runs of the engines are
 * interleaved, so a machine shared with other work slows them alike; each engine is reported as the median
 * and the best of its runs. Writes {@code load.json} (every run) and {@code load.md} (the table).
 */
final class LoadBench {
    static final List<String> ENGINES = List.of("snapscore", "snapscore-direct", "snapscore-winograd", "snapscore-auto", "snapscore-bf16",
            "snapscore-int8", "onnxruntime", "onnxruntime-int8");
    /** How a snapscore engine's runs in one repeat use the plan cache: none, then an empty cache (miss), then the one the miss wrote (hit). */
    static final List<String> CACHE_RUNS = List.of("off", "miss", "hit");
    /** The JIT the launcher gives every verb but serve (see ./snapscore): their Java runs briefly, C2 would only compete for the cores. */
    static final String LAUNCHER_JIT = "-XX:TieredStopAtLevel=1";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long CHILD_TIMEOUT_MINUTES = 10;

    /**
     * @param images  JPEGs scored end to end per run (0: only load and the first image)
     * @param batch   images per inference run in the end-to-end pass
     * @param workers threads decoding and preprocessing ahead of inference, for every engine
     * @param asLaunched start every child JVM as {@code ./snapscore} starts its command-line verbs ({@link #LAUNCHER_JIT},
     *                   and a JDK AOT cache that an untimed run of the same engine makes first), not with java's defaults
     */
    record Settings(Path modelDir, Path int8Dir, List<String> engines, int threads, int repeats, int images,
                    int batch, int workers, boolean asLaunched) {
        Settings {
            if (asLaunched && Runtime.version().feature() < 25) {
                throw new IllegalArgumentException("--as-launched needs JDK 25 or later (AOT caches), not " + Runtime.version());
            }
            for (String e : engines) {
                if (!ENGINES.contains(e)) throw new IllegalArgumentException("--load measures " + ENGINES + ", not " + e);
            }
            if (repeats < 1 || threads < 1 || images < 0 || batch < 1 || workers < 1) {
                throw new IllegalArgumentException("repeats, threads, batch and workers must be >= 1, images >= 0");
            }
        }
    }

    /** {@link #ENGINES} this CPU runs (bf16 only where oneDNN has bf16 kernels), less the defaults' twin of snapscore. */
    static List<String> defaultEngines() {
        return ENGINES.stream().filter(e -> !e.equals("snapscore-bf16") || Dnnl.hasBf16())
                .filter(e -> !e.equals(InferenceEngine.defaultsName())).toList();
    }

    /**
     * One child run, as it reported itself; the end-to-end fields are NaN when no photos were scored. {@code cache}: how a
     * snapscore load used its plan cache (off, miss, hit), "-" for ONNX Runtime.
     */
    record Run(String engine, String cache, int repeat, double launchToFirstResultMs, double processMs, double loadMs,
               double firstInferenceMs, double warmInferenceMs, double warmMedianMs, double peakRssMb, double anonRssMb,
               double e2eImagesPerSecond, double e2ePeakRssMb) {
        String label() {
            return cache.equals("-") ? engine : engine + " (cache " + cache + ")";
        }

        /** The first inference over a typical warm one (the median of the warm runs): 1 when the first costs nothing extra. */
        double firstOverWarm() {
            return firstInferenceMs / warmMedianMs;
        }
    }

    private LoadBench() {
    }

    /** Runs every engine {@code repeats} times and writes load.json and load.md into {@code results}. */
    static String run(Settings s, Path results) throws IOException, InterruptedException {
        String loadBefore = loadAverage();
        List<Run> runs = new ArrayList<>();
        Path photos = s.images() > 0 ? Files.createTempDirectory("snapscore-load-photos") : null;
        Path aotDir = s.asLaunched() ? Files.createTempDirectory("snapscore-load-aot") : null;
        try {
            if (photos != null) SyntheticPhotos.write(photos, s.images(), 7, "jpg");
            Map<String, Path> aotCaches = aotDir != null ? makeAotCaches(s, photos, aotDir) : Map.of();
            for (int r = 1; r <= s.repeats(); r++) {
                for (String engine : s.engines()) {
                    boolean snapscore = engine.startsWith("snapscore");
                    Path cacheDir = snapscore ? Files.createTempDirectory("snapscore-load-cache") : null;
                    try {
                        for (String cache : snapscore ? CACHE_RUNS : List.of("-")) {
                            Run run = runChild(engine, cache, r, s, photos, cacheDir, aotCaches.get(engine), false);
                            System.out.printf(Locale.ROOT, "%-30s run %d: load %.0f ms, first image %.0f ms (warm %.0f), peak RSS %.0f MB%s%n",
                                    run.label(), r, run.loadMs(), run.firstInferenceMs(), run.warmInferenceMs(), run.peakRssMb(),
                                    photos == null ? "" : String.format(Locale.ROOT, ", %.2f images/s", run.e2eImagesPerSecond()));
                            runs.add(run);
                        }
                    } finally {
                        if (cacheDir != null) deleteTree(cacheDir);
                    }
                }
            }
        } finally {
            if (aotDir != null) deleteTree(aotDir);
            if (photos != null) {
                try (Stream<Path> files = Files.list(photos)) {
                    for (Path f : files.toList()) Files.delete(f);
                }
                Files.delete(photos);
            }
        }
        String loadAfter = loadAverage();
        String markdown = markdown(s, runs, loadBefore, loadAfter);
        ObjectNode json = JSON.createObjectNode();
        json.put("model", s.modelDir().toString());
        json.put("int8Model", s.int8Dir().toString());
        json.put("threads", s.threads());
        json.put("repeats", s.repeats());
        json.put("images", s.images());
        json.put("batch", s.batch());
        json.put("workers", s.workers());
        json.put("asLaunched", s.asLaunched());
        json.put("loadAverageBefore", loadBefore);
        json.put("loadAverageAfter", loadAfter);
        ArrayNode list = json.putArray("runs");
        for (Run run : runs) {
            ObjectNode node = JSON.valueToTree(run);
            if (Double.isNaN(run.e2eImagesPerSecond())) node.putNull("e2eImagesPerSecond").putNull("e2ePeakRssMb");
            list.add(node);
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(results.resolve("load.json").toFile(), json);
        Files.writeString(results.resolve("load.md"), markdown);
        return markdown;
    }

    /**
     * One AOT cache per engine, made by an untimed run of its probe as the timed runs will start it: for snapscore, a
     * plan-cache hit (after a miss that writes the plan), so the cache holds the classes of the path the hits take.
     */
    private static Map<String, Path> makeAotCaches(Settings s, Path photos, Path dir) throws IOException, InterruptedException {
        Map<String, Path> caches = new LinkedHashMap<>();
        for (String engine : s.engines()) {
            System.out.println("making " + engine + "'s AOT cache (one untimed run)...");
            Path aot = dir.resolve(engine + ".aot");
            if (engine.startsWith("snapscore")) {
                Path cacheDir = Files.createTempDirectory("snapscore-load-cache");
                try {
                    runChild(engine, "miss", 0, s, photos, cacheDir, null, false);
                    runChild(engine, "hit", 0, s, photos, cacheDir, aot, true);
                } finally {
                    deleteTree(cacheDir);
                }
            } else {
                runChild(engine, "-", 0, s, photos, null, aot, true);
            }
            if (!Files.isRegularFile(aot)) throw new IllegalStateException("the JVM made no AOT cache for " + engine + " at " + aot);
            caches.put(engine, aot);
        }
        return caches;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    /**
     * One child JVM. With {@code aot}: started from that AOT cache, or, when {@code makeAot}, writing it as it exits
     * (then the run is a training run, its numbers not for the table). With {@code s.asLaunched()}, C1 only.
     */
    private static Run runChild(String engine, String cache, int repeat, Settings s, Path photos, Path cacheDir, Path aot,
                                boolean makeAot) throws IOException, InterruptedException {
        boolean int8 = engine.endsWith("-int8");
        String probe = int8 ? engine.replace("-int8", "") : engine;
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        String javacppCache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (javacppCache != null) command.add("-Dorg.bytedeco.javacpp.cachedir=" + javacppCache);
        if (s.asLaunched()) command.add(LAUNCHER_JIT);
        if (aot != null) command.add((makeAot ? "-XX:AOTCacheOutput=" : "-XX:AOTCache=") + aot);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), LoadProbe.class.getName(), probe,
                (int8 ? s.int8Dir() : s.modelDir()).toAbsolutePath().toString(), Integer.toString(s.threads()),
                cache.equals("-") || cache.equals("off") ? "-" : cacheDir.toString()));
        if (photos != null) {
            command.addAll(List.of(photos.toString(), Integer.toString(s.batch()), Integer.toString(s.workers())));
        }
        long launchedAt = System.currentTimeMillis();
        long launched = System.nanoTime();
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!child.waitFor(CHILD_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            child.destroyForcibly();
            throw new IllegalStateException(engine + " run " + repeat + ": no exit after " + CHILD_TIMEOUT_MINUTES + " minutes");
        }
        double processMs = (System.nanoTime() - launched) / 1e6;
        String line = output.lines().filter(l -> l.startsWith(LoadProbe.MARKER)).reduce((a, b) -> b).orElse(null);
        if (child.exitValue() != 0 || line == null) {
            throw new IllegalStateException(engine + " run " + repeat + " failed (exit " + child.exitValue() + "):\n" + tail(output));
        }
        JsonNode r = JSON.readTree(line.substring(LoadProbe.MARKER.length()));
        Run run = new Run(engine, cache, repeat, r.path("firstResultAtEpochMs").asLong() - launchedAt, processMs,
                r.path("loadMs").asDouble(), r.path("firstInferenceMs").asDouble(), r.path("warmInferenceMs").asDouble(),
                r.path("warmMedianMs").asDouble(), r.path("peakRssMb").asDouble(), r.path("anonRssMb").asDouble(),
                r.path("e2eImagesPerSecond").asDouble(Double.NaN), r.path("e2ePeakRssMb").asDouble(Double.NaN));
        // The probe says how the load used the cache; a "hit" that rebuilt something would measure the wrong thing.
        String used = r.path("cache").asText();
        if (!cache.equals("-") && !used.equals(cache)) {
            throw new IllegalStateException(engine + " run " + repeat + ": expected a cache " + cache + ", the load reports " + used);
        }
        // A probe that reports nothing measurable is broken, whatever the machine's speed.
        if (!(run.loadMs() > 0 && run.firstInferenceMs() > 0 && run.warmMedianMs() > 0 && run.launchToFirstResultMs() > 0)
                || (photos != null && !(run.e2eImagesPerSecond() > 0))) {
            throw new IllegalStateException(engine + " run " + repeat + " reported " + line);
        }
        return run;
    }

    private static String tail(String output) {
        List<String> lines = output.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /** /proc/loadavg's 1, 5 and 15 minute averages, or "n/a" off Linux. */
    private static String loadAverage() throws IOException {
        Path p = Path.of("/proc/loadavg");
        if (!Files.exists(p)) return "n/a";
        return String.join(" ", Arrays.asList(Files.readString(p).trim().split("\\s+")).subList(0, 3));
    }

    private static String markdown(Settings s, List<Run> runs, String loadBefore, String loadAfter) {
        StringBuilder md = new StringBuilder();
        md.append("Cold start, one fresh JVM per run: model `").append(s.modelDir().getFileName()).append("` (int8: `")
                .append(s.int8Dir().getFileName()).append("`), ").append(s.threads()).append(" inference thread(s); ")
                .append(s.repeats()).append(" run(s) per engine, interleaved; each cell is the median (best).\n");
        if (s.images() > 0) {
            md.append("End to end: ").append(s.images()).append(" synthetic JPEGs decoded and preprocessed by snapscore's OpenCV front end on ")
                    .append(s.workers()).append(" worker thread(s), batches of ").append(s.batch()).append(", after one untimed batch.\n");
        }
        md.append(s.asLaunched() ? "Child JVMs started as `./snapscore` starts its command-line verbs: " + LAUNCHER_JIT
                + " and a JDK AOT cache per engine, made by one untimed run of it (for snapscore, a plan-cache hit).\n"
                : "Child JVMs started with java's defaults (no AOT cache, C1 and C2).\n");
        md.append("Load average (1/5/15 min) before: ").append(loadBefore).append("; after: ").append(loadAfter).append(".\n\n");
        md.append("snapscore loads run without a plan cache (off), with an empty one (miss: prepares the weights, hashes the model, ")
                .append("writes the cache) and with the one the miss wrote (hit: maps it). Their load ms is `Model.load`, a session ")
                .append("and `Session.prepare(1)` (buffers, and the first step run once to start the thread's OpenMP team), as `score` and `serve` do before their first photo; ")
                .append("ONNX Runtime's is creating its session.\n\n");
        md.append("First ÷ warm is a run's first inference over the median of its ").append(LoadProbe.WARM_RUNS).append(" warm ones (the warm column ")
                .append("is their best); its cell is the median over runs and, in brackets, their range. Anonymous RSS, read after the first ")
                .append("inference, is the process's own memory (heap, native buffers, the workspace); the rest of its RSS is files mapped ")
                .append("from the page cache (the weights, libraries), which every process mapping them shares.\n\n");
        md.append("| engine | launch → first result ms | load ms | first inference ms | warm inference ms | first ÷ warm | peak RSS MB | anonymous RSS MB |");
        if (s.images() > 0) md.append(" e2e images/s | e2e peak RSS MB |");
        md.append("\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        if (s.images() > 0) md.append(" ---: | ---: |");
        md.append('\n');
        Map<String, List<Run>> byEngine = new LinkedHashMap<>();
        for (Run r : runs) byEngine.computeIfAbsent(r.label(), k -> new ArrayList<>()).add(r);
        byEngine.forEach((engine, list) -> {
            md.append("| ").append(engine)
                    .append(" | ").append(cell(list, Run::launchToFirstResultMs, false, "%.0f"))
                    .append(" | ").append(cell(list, Run::loadMs, false, "%.0f"))
                    .append(" | ").append(cell(list, Run::firstInferenceMs, false, "%.0f"))
                    .append(" | ").append(cell(list, Run::warmInferenceMs, false, "%.0f"))
                    .append(" | ").append(ratioCell(list, Run::firstOverWarm))
                    .append(" | ").append(cell(list, Run::peakRssMb, false, "%.0f"))
                    .append(" | ").append(cell(list, Run::anonRssMb, false, "%.0f")).append(" |");
            if (s.images() > 0) {
                md.append(' ').append(cell(list, Run::e2eImagesPerSecond, true, "%.2f"))
                        .append(" | ").append(cell(list, Run::e2ePeakRssMb, false, "%.0f")).append(" |");
            }
            md.append('\n');
        });
        return md.toString();
    }

    /** "median (best)": the best is the lowest, or the highest when {@code higherIsBetter}. */
    private static String cell(List<Run> runs, ToDoubleFunction<Run> metric, boolean higherIsBetter, String format) {
        double[] v = runs.stream().mapToDouble(metric).sorted().toArray();
        double best = higherIsBetter ? v[v.length - 1] : v[0];
        return String.format(Locale.ROOT, format + " (" + format + ")", median(v), best);
    }

    /** "median (lowest–highest)" of a ratio, where neither end is better. */
    static String ratioCell(List<Run> runs, ToDoubleFunction<Run> metric) {
        double[] v = runs.stream().mapToDouble(metric).sorted().toArray();
        return String.format(Locale.ROOT, "%.2f (%.2f–%.2f)", median(v), v[0], v[v.length - 1]);
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
