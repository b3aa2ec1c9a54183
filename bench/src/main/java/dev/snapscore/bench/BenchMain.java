package dev.snapscore.bench;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.OnnxExporter;
import dev.snapscore.engine.format.SpecJson;
import dev.snapscore.engine.quantize.InputSet;
import dev.snapscore.engine.quantize.Quantizer;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code snapscore bench}: runs the JMH suites with sound defaults and writes JMH's JSON, a summary, a
 * Markdown table and charts to {@code bench/results/<date>-<cpu>/}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmark snapscore against ONNX Runtime Java and OpenCV DNN on the same ONNX model (JMH).",
                "Full run: VGG16 with the selfie study's head (generated into bench/models/ on first use), batches 1, 8, 32;",
                "about 15 minutes on 2 cores. --quick: the bundled small model, a minute or two.",
                "--load: cold start (load, first image, peak RSS) and JPEG-to-score throughput, a fresh JVM per run."})
public final class BenchMain implements Callable<Integer> {
    @Option(names = "--quick", description = "The bundled small model, short iterations, batches 1 and 8.")
    boolean quick;

    @Option(names = "--smoke", description = "Seconds-long run that proves every benchmark and --load run (for CI); measures nothing.")
    boolean smoke;

    @Option(names = "--out", description = "Results folder. Default: bench/results/<date>-<cpu>/.")
    Path out;

    @Option(names = "--threads", description = "Threads for every engine. Default: all cores.")
    Integer threads;

    @Option(names = "--model", description = "Model directory with model.onnx and snapscore's spec.json (overrides the default).")
    Path model;

    @Option(names = "--engines", split = ",", description = "Only these engines (snapscore = the engine's defaults: f32, auto convolutions; snapscore-direct, snapscore-winograd, snapscore-auto, snapscore-bf16, snapscore-int8, onnxruntime, onnxruntime-int8, opencv-dnn). Default: all this CPU runs (bf16 needs AVX512_BF16 or AMX), less snapscore-auto (the same as snapscore).")
    List<String> engines;

    @Option(names = "--batches", split = ",", description = "Only these batch sizes. Default: 1,8,32 (--quick: 1,8).")
    List<String> batches;

    @Option(names = "--load", description = {"Instead of JMH: cold start and end-to-end throughput, a fresh JVM per run",
            "(load ms, first and warm inference ms and their ratio, peak and anonymous RSS, images/s from JPEG files) for snapscore (auto convolutions),",
            "snapscore-direct, snapscore-winograd, snapscore-bf16 (where the CPU has bf16), snapscore-int8 (each without a plan cache, with an empty one",
            "and with the one that wrote), onnxruntime, onnxruntime-int8; writes load.md and load.json."})
    boolean load;

    @Option(names = "--repeats", defaultValue = "3", description = "--load: runs per engine. Default: ${DEFAULT-VALUE}.")
    int repeats;

    @Option(names = "--images", defaultValue = "64", description = "--load: JPEGs scored end to end per run (0: none). Default: ${DEFAULT-VALUE}.")
    int images;

    @Option(names = "--as-launched", description = {"--load: start each child JVM as ./snapscore starts its command-line verbs:",
            "C1 only (" + LoadBench.LAUNCHER_JIT + ") and from a JDK AOT cache per engine, made by one untimed run of it first",
            "(JDK 25+). Default: java's defaults, no AOT cache."})
    boolean asLaunched;

    @Option(names = "--ghz", description = "Core clock for the fp32 peak estimate. Default: the highest 'cpu MHz' in /proc/cpuinfo.")
    Double ghz;

    @Option(names = "--flops-per-cycle", description = "fp32 FLOP per core per cycle. Default: 32 with AVX-512 or AVX2+FMA (two 8-lane FMA pipes), else 8.")
    Integer flopsPerCycle;

    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Path home = Path.of(System.getProperty("snapscore.home", ""));
        int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        Path modelDir = model != null ? model : quick || smoke ? home.resolve("models/vgg-mini") : studyModel(home);
        Machine machine = Machine.detect(ghz, flopsPerCycle);
        Path results = out != null ? out : home.resolve("bench/results").resolve(LocalDate.now() + "-" + machine.slug());
        Files.createDirectories(results);
        String photo = home.resolve("samples/astronaut.png").toString();
        List<String> timed = engines != null ? engines : InferenceEngine.runnableHere();
        // Quantising VGG16 takes a while: only when an int8 engine will run (the load mode measures them by default).
        boolean int8Wanted = load || smoke || timed.stream().anyMatch(e -> e.endsWith("-int8"));
        Path int8Dir = int8Wanted ? int8Model(home, modelDir, t) : null;
        // As `snapscore score`: batches of 8, every core but one decoding.
        int workers = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
        if (load && !smoke) {
            List<String> measured = engines != null ? engines : LoadBench.defaultEngines();
            System.out.println(LoadBench.run(new LoadBench.Settings(modelDir, int8Dir, measured, t, repeats, images, 8, workers, asLaunched),
                    results));
            System.out.println("results: " + results.toAbsolutePath());
            return 0;
        }

        // A fast engine is only news if it computes the same thing: compare outputs before timing anything.
        var spec = SpecJson.read(modelDir.resolve("spec.json")).spec();
        CrossCheck check = CrossCheck.run(timed, modelDir, int8Dir, spec.classes(), t);
        check.write(results);
        System.out.println(check.markdown());
        if (!check.passed()) {
            System.err.println("bench: outputs failed the cross-check against " + check.reference() + " (" + results.resolve("crosscheck.md")
                    + "); nothing was timed");
            return 1;
        }

        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(InferenceBenchmark.class.getSimpleName())
                .include(LatencyBenchmark.class.getSimpleName())
                .include(FrontEndBenchmark.class.getSimpleName())
                .param("model", modelDir.toAbsolutePath().toString())
                .param("int8Model", int8Dir != null ? int8Dir.toAbsolutePath().toString() : "")
                .param("engine", timed.toArray(String[]::new))
                .param("threads", Integer.toString(t))
                .param("photo", photo)
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xmx8g")
                .resultFormat(ResultFormatType.JSON)
                .result(results.resolve("jmh.json").toString());
        List<String> defaultBatches;
        if (smoke) {
            options.forks(0).warmupIterations(0).measurementIterations(1).measurementTime(TimeValue.milliseconds(200));
            defaultBatches = List.of("1", "2");
        } else if (quick) {
            options.forks(1).warmupIterations(1).warmupTime(TimeValue.seconds(2)).measurementIterations(3)
                    .measurementTime(TimeValue.seconds(2));
            defaultBatches = List.of("1", "8");
        } else {
            options.forks(1).warmupIterations(1).warmupTime(TimeValue.seconds(15)).measurementIterations(3)
                    .measurementTime(TimeValue.seconds(15));
            defaultBatches = List.of("1", "8", "32");
        }
        // Once: JMH adds up the values of repeated param() calls, so --batches 8 would still run the defaults.
        options.param("batch", (batches != null ? batches : defaultBatches).toArray(String[]::new));
        Collection<RunResult> runs = new Runner(options.build()).run();
        if (smoke) {
            // The load mode too, one short run per engine, so it cannot rot; its numbers mean nothing here. As launched,
            // which takes every path of the plain start and the AOT caches' too.
            System.out.println(LoadBench.run(new LoadBench.Settings(modelDir, int8Dir, LoadBench.defaultEngines(), t, 1, 4, 2, workers, true),
                    results));
        }

        Report report = Report.of(runs, spec, modelDir.getFileName().toString(), machine, check);
        report.write(results);
        System.out.println(report.markdown());
        System.out.println("results: " + results.toAbsolutePath());
        return 0;
    }

    /** VGG16 + the study's head (2048-1024-512-64, 10 classes), generated once in both formats. */
    private static Path studyModel(Path home) throws Exception {
        Path dir = home.resolve("bench/models/vgg16-study");
        if (Files.exists(dir.resolve("model.onnx")) && Files.exists(dir.resolve("spec.json"))) return dir;
        System.out.println("generating " + dir + " (VGG16 + 2048-1024-512-64 head, random weights)...");
        try (LoadedModel m = ModelGenerator.generate(ModelGenerator.Config.vgg16StudyHead(1))) {
            ModelDirectory.write(dir, m.spec(), m.weights());
            OnnxExporter.write(dir.resolve("model.onnx"), m.spec(), m.weights());
        }
        return dir;
    }

    /**
     * The model quantised to int8 (max calibration on 16 synthetic photos), made once into
     * bench/models/NAME-int8/ (never beside a model the user owns).
     */
    private static Path int8Model(Path home, Path modelDir, int threads) throws Exception {
        Path dir = home.resolve("bench/models").resolve(modelDir.toAbsolutePath().normalize().getFileName() + "-int8");
        if (Files.exists(dir.resolve("spec.json")) && Files.exists(dir.resolve("model.onnx"))) return dir;
        System.out.println("quantising " + modelDir + " to int8 into " + dir + " (calibration: 16 synthetic photos)...");
        Path photos = Files.createTempDirectory("snapscore-calibration");
        try {
            SyntheticPhotos.write(photos, 16, 1);
            try (LoadedModel f32 = ModelFormats.read(modelDir);
                 InputSet set = InputSet.read(photos, f32.spec(), 16, System.err::println);
                 LoadedModel int8 = Quantizer.quantize(f32, set,
                         new Quantizer.Options(Quantizer.Method.MAX, 100, true, 8, threads), System.out::println)) {
                ModelDirectory.write(dir, int8.spec(), int8.weights());
                OnnxExporter.write(dir.resolve("model.onnx"), int8.spec(), int8.weights()); // QDQ, for ONNX Runtime's int8
            }
        } finally {
            try (var files = Files.list(photos)) {
                for (Path f : files.toList()) Files.delete(f);
            }
            Files.delete(photos);
        }
        return dir;
    }
}
