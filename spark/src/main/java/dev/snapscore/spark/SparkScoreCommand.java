package dev.snapscore.spark;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code snapscore spark-score}: the score verb as a Spark job, locally or through spark-submit. */
@Command(name = "spark-score", mixinStandardHelpOptions = true, versionProvider = SparkScoreCommand.Version.class,
        description = {"Score every image under --input as an Apache Spark job: one row per photo, with the columns of "
                + "'snapscore score', written as Parquet (or CSV) through Spark's output commit protocol.",
                "Exit codes: 0 all scored (or rejected by --clean), 3 some photos could not be read, 2 bad arguments."})
public final class SparkScoreCommand implements Callable<Integer> {
    static final int OK = 0, BAD_INPUT = 2, SOME_ERRORS = 3;

    @Option(names = "--master", description = "Spark master URL, e.g. local[2], spark://host:7077, yarn. "
            + "Default: the one spark-submit gives, else local[*].")
    String master;

    @Option(names = "--model", description = "Model: a snapscore model directory or an .onnx file. Default: the bundled demo model (random weights).")
    Path model;

    @Option(names = "--input", required = true, arity = "1..*", paramLabel = "DIR|FILE|URI",
            description = "Folders (searched recursively for image files), image files, or URIs (hdfs://, s3a://, ...).")
    List<String> inputs;

    @Option(names = "--output", required = true, paramLabel = "OUT",
            description = "Output folder (Spark writes a folder of part files), e.g. scores.parquet or scores.csv.")
    String output;

    @Option(names = "--format", description = "parquet or csv. Default: csv when OUT ends in .csv, else parquet.")
    String format;

    @Option(names = "--overwrite", description = "Replace an existing OUT. Without it, an existing OUT is an error.")
    boolean overwrite;

    @Option(names = "--batch", defaultValue = "8", description = "Images per inference run. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--precision", paramLabel = "f32|bf16|auto", defaultValue = "f32",
            description = "Arithmetic of an f32 model's layers on the executors, as for `snapscore score`: f32, bf16 (needs "
                    + "AVX512_BF16 or AMX on every executor), or auto (bf16 where the executor's CPU has it). Default: f32.")
    Precision precision;

    @Option(names = "--convolution", paramLabel = "auto|direct|winograd", defaultValue = "auto",
            description = "How f32 3x3 convolutions run on the executors, as for `snapscore score`: auto (each layer timed "
                    + "both ways on an executor's first use, the faster kept), direct, or winograd. Default: auto.")
    ConvolutionAlgorithm convolution;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Plan cache folder on every executor (an absolute path on its local disk): prepared weights and "
                    + "auto's choices kept across jobs. Default: beside the model with --shared-model (as for `snapscore score`), "
                    + "else the executor user's $XDG_CACHE_HOME/snapscore (~/.cache/snapscore), since a shipped copy lasts "
                    + "only as long as its job.")
    String cacheDir;

    @Option(names = "--no-cache", description = "Executors prepare the weights at every load and keep no plan cache.")
    boolean noCache;

    @Option(names = "--partitions", defaultValue = "0",
            description = "Partitions of a local listing. Default: one per " + SparkScoreJob.PHOTOS_PER_PARTITION + " photos, at least Spark's default parallelism.")
    int partitions;

    @Option(names = "--max-pixels", defaultValue = "50000000",
            description = "Refuse images with more pixels than this, before decoding them. Default: ${DEFAULT-VALUE}.")
    long maxPixels;

    @Option(names = "--shared-model", description = "Executors read --model at the same path (a shared filesystem) instead of "
            + "receiving its files with the job.")
    boolean sharedModel;

    @Option(names = "--clean", description = "Clean with the face rule first: photos it rejects get status 'rejected' and are not scored.")
    boolean clean;

    @Option(names = "--min-face-fraction", defaultValue = "0.15", description = "With --clean: keep a photo only when its largest face covers more than this share of it. Default: ${DEFAULT-VALUE}.")
    double minFaceFraction;

    @Option(names = "--scale-factor", defaultValue = "1.3", description = "With --clean: Haar cascade pyramid step. Default: ${DEFAULT-VALUE} (the original study).")
    double scaleFactor;

    @Option(names = "--min-neighbors", defaultValue = "0", description = "With --clean: overlapping detections a face needs. Default: ${DEFAULT-VALUE} (the original study).")
    int minNeighbors;

    @Option(names = "--min-size", defaultValue = "0", description = "With --clean: smallest face side in pixels (0: none). Default: ${DEFAULT-VALUE}.")
    int minSize;

    @Option(names = "--all-faces", description = "With --clean: look for faces of every size, as the original study did (slower; "
            + "rejected photos then report their small faces). Default: only faces big enough to pass --min-face-fraction, "
            + "with the same decisions and the same largest face for every kept photo.")
    boolean allFaces;

    @Option(names = "--ignore-thumbnails", description = "With --clean: decode every photo the rule checks. By default a JPEG whose EXIF thumbnail (phone "
            + "cameras embed one) shows no face of even a third of --min-face-fraction is rejected from the thumbnail alone, "
            + "without decoding the photo: about 20 ms of CPU saved per rejected 12 MP photo. A thumbnail is trusted only when "
            + "the EXIF pixel size is the photo's own; never with --exact-decode or --clean-resolution 0.")
    boolean ignoreThumbnails;

    @Option(names = "--exact-decode", description = "Decode every JPEG at its full size, as OpenCV's imread does (the reference). "
            + "Default: libjpeg decodes it at 1/2, 1/4 or 1/8 size, the smallest that still covers the model input (and the "
            + "face cascade's copy): 5x faster on 12 MP photos; the model input moves by about 0.5 of 0-255 on average "
            + "(at most ~20 at sharp colour edges), the logits by ~2-3%% of the largest.")
    boolean exactDecode;

    @Option(names = "--clean-resolution", paramLabel = "N", defaultValue = "640",
            description = "With --clean: longest side in pixels of the copy the face cascade scans (scaled down by a power of "
                    + "--scale-factor); 0: the photo at full size, as the study did. Decisions stay those of full resolution "
                    + "(face fractions within ~1%% on the photos measured) at ~10x less work on 12 MP photos. Default: ${DEFAULT-VALUE}.")
    int cleanResolution;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // Spark logs every step at INFO by default; a command line shows warnings only. Under spark-submit
        // logging is already set up by then and the cluster's own configuration wins.
        if (System.getProperty("log4j2.configurationFile") == null) {
            System.setProperty("log4j2.configurationFile", "dev/snapscore/spark/log4j2-cli.properties");
        }
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new SparkScoreCommand()).setOut(out).setErr(err)
                .setCaseInsensitiveEnumValuesAllowed(true); // --convolution direct
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof ModelFormatException || ex instanceof ImageException
                    || ex instanceof AnalysisException) {
                commandLine.getErr().println("snapscore spark-score: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
                return BAD_INPUT;
            }
            throw ex;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() throws java.io.IOException {
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        if (partitions < 0) throw new IllegalArgumentException("--partitions must be >= 0, got " + partitions);
        SparkScoreJob.Format fmt = format == null ? SparkScoreJob.formatOf(output) : switch (format.toLowerCase(Locale.ROOT)) {
            case "parquet" -> SparkScoreJob.Format.PARQUET;
            case "csv" -> SparkScoreJob.Format.CSV;
            default -> throw new IllegalArgumentException("--format must be parquet or csv, got " + format);
        };
        // Checked here too (Spark would refuse it as well), to fail before any work and say what to do.
        if (!overwrite && ImageSource.isLocal(output) && Files.exists(Path.of(ImageSource.displayName(output)))) {
            throw new IllegalArgumentException(output + " already exists; pass --overwrite to replace it, or choose another --output");
        }
        Path modelPath = model != null ? model : bundledModel();
        if (!Files.exists(modelPath)) throw new ModelFormatException("no such model: " + modelPath);
        Cleaning cleaning = clean ? new Cleaning(minFaceFraction, scaleFactor, minNeighbors, minSize, allFaces, !ignoreThumbnails) : null;
        var options = new SparkScoreJob.Options(modelPath, batch, ImageDecoder.DEFAULT_MAX_BYTES, maxPixels, cleaning,
                new DecodeOptions(exactDecode, cleanResolution), new ModelPreparation(precision, convolution, !noCache, cacheDir));
        PrintWriter err = spec.commandLine().getErr();

        SparkSession.Builder builder = SparkSession.builder().appName("snapscore spark-score");
        String chosen = master != null ? master : System.getProperty("spark.master", "local[*]");
        builder.master(chosen);
        if (chosen.startsWith("local")) builder.config("spark.ui.enabled", "false"); // nobody watches a local run's UI
        try (SparkSession spark = builder.getOrCreate()) {
            SparkScoreJob job = SparkScoreJob.create(spark, options, !sharedModel);
            Dataset<Row> images = SparkScoreJob.listImages(spark, inputs, partitions);
            long start = System.nanoTime();
            SparkScoreJob.write(job.score(images), output, fmt, overwrite);
            double seconds = (System.nanoTime() - start) / 1e9;

            // The totals, from what was committed: exact whatever Spark retried.
            Map<String, Long> counts = spark.read().schema(job.schema()).format(fmt.name().toLowerCase(Locale.ROOT))
                    .option("header", "true").load(output).groupBy(ScoreColumns.STATUS).count().collectAsList().stream()
                    .collect(Collectors.toMap(r -> r.getString(0), r -> r.getLong(1)));
            long ok = counts.getOrDefault(ScoreColumns.OK, 0L), rejected = counts.getOrDefault(ScoreColumns.REJECTED, 0L),
                    errors = counts.getOrDefault(ScoreColumns.FAILED, 0L), total = ok + rejected + errors;
            err.printf("scored %d, rejected %d, errors %d of %d photos in %.2f s (%.2f photos/s) on %s, %d partitions%n",
                    ok, rejected, errors, total, seconds, seconds > 0 ? total / seconds : 0, spark.sparkContext().master(),
                    images.rdd().getNumPartitions());
            err.printf("wrote %s (%s)%n", output, fmt.name().toLowerCase(Locale.ROOT));
            if (model == null) err.println("note: the bundled demo model has random weights; its scores mean nothing about photos");
            err.flush();
            return errors > 0 ? SOME_ERRORS : OK;
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"snapscore spark-score (Spark " + SparkSession.class.getPackage().getImplementationVersion()
                    + ", Java " + Runtime.version() + ")"};
        }
    }

    /** The demo model in models/vgg-mini, found through the launcher's snapscore.home, else the current folder. */
    private static Path bundledModel() {
        String home = System.getProperty("snapscore.home");
        Path p = (home != null ? Path.of(home) : Path.of("")).resolve("models").resolve("vgg-mini");
        if (!Files.isDirectory(p)) {
            throw new IllegalArgumentException("no --model given and the bundled model is not at " + p.toAbsolutePath());
        }
        return p;
    }
}
