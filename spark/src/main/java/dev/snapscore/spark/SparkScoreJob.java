package dev.snapscore.spark;

import dev.snapscore.engine.batch.ImageFiles;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.spec.ModelSpec;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code snapscore score} as a Spark job: photos in, one row per photo out, with {@link ScoreColumns}'
 * columns.
 *
 * <pre>{@code
 * SparkScoreJob job = SparkScoreJob.create(spark, new SparkScoreJob.Options(Path.of("models/vgg16")), true);
 * Dataset<Row> rows = job.score(SparkScoreJob.listImages(spark, List.of("/data/photos"), 0));
 * SparkScoreJob.write(rows, "scores.parquet", SparkScoreJob.Format.PARQUET, false);
 * }</pre>
 *
 * <p>Per executor JVM: the model, loaded on first use and kept ({@link ExecutorEngine}). Per task: a leased
 * session with {@code spark.task.cpus} oneDNN threads, fed engine-sized batches. Shipped: the job's jar (the
 * engine and its native libraries, which JavaCPP extracts on each executor) and the model's files.
 */
public final class SparkScoreJob {
    /** Photos per partition when listing local folders: small enough to balance cores and make retries cheap. */
    public static final int PHOTOS_PER_PARTITION = 64;

    public enum Format { PARQUET, CSV }

    /**
     * @param model     an .onnx file or a snapscore model directory, on the driver
     * @param batch     images per inference run
     * @param maxBytes  largest encoded file accepted
     * @param maxPixels largest width × height accepted
     * @param cleaning  the face rule to apply first, or null
     * @param decode    fast or exact decoding, and the face cascade's resolution
     */
    public record Options(Path model, int batch, long maxBytes, long maxPixels, Cleaning cleaning, DecodeOptions decode,
                          ModelPreparation preparation) {
        public Options {
            if (model == null) throw new IllegalArgumentException("a model is required");
            if (preparation == null) throw new IllegalArgumentException("a model preparation is required");
        }

        /** The model prepared as {@code snapscore score} does by default. */
        public Options(Path model, int batch, long maxBytes, long maxPixels, Cleaning cleaning, DecodeOptions decode) {
            this(model, batch, maxBytes, maxPixels, cleaning, decode, ModelPreparation.DEFAULT);
        }

        /** {@code snapscore score}'s defaults: batch 8, 256 MB and 50 MP limits, no cleaning, fast decode, f32, auto convolutions. */
        public Options(Path model) {
            this(model, 8, ImageDecoder.DEFAULT_MAX_BYTES, ImageDecoder.DEFAULT_MAX_PIXELS, null, DecodeOptions.DEFAULT);
        }
    }

    private final ScoreSettings settings;
    private final ModelSpec spec;

    private SparkScoreJob(ScoreSettings settings, ModelSpec spec) {
        this.settings = settings;
        this.spec = spec;
    }

    /**
     * Reads the model's spec on the driver (for the output's columns; no oneDNN work happens here) and
     * either ships the model's files to the executors or, with {@code ship} false, has them read it at the
     * same path (local mode, a shared filesystem).
     *
     * @throws dev.snapscore.engine.ModelFormatException if the model is missing or unreadable
     */
    public static SparkScoreJob create(SparkSession spark, Options options, boolean ship) {
        ModelSpec spec;
        try (LoadedModel m = ModelFormats.read(options.model())) {
            spec = m.spec();
        }
        ModelSource source = ship ? ModelSource.ship(spark.sparkContext(), options.model()) : ModelSource.at(options.model());
        return new SparkScoreJob(new ScoreSettings(source, options.batch(), options.maxBytes(), options.maxPixels(),
                options.cleaning(), options.decode(), options.preparation()), spec);
    }

    /** The output's columns for this model's labels. */
    public StructType schema() {
        return ScoreColumns.schema(spec.labels(), settings.cleaning() != null);
    }

    /**
     * Scores photos: {@code images} has a string column {@code path} and, optionally, a binary column
     * {@code content} with the encoded bytes (as {@code spark.read().format("binaryFile")} gives); without
     * it, each executor reads its files itself. Lazy, like any transformation.
     *
     * @throws IllegalArgumentException if {@code images} has no string {@code path} column
     */
    public Dataset<Row> score(Dataset<Row> images) {
        StructType in = images.schema();
        List<String> names = Arrays.asList(in.fieldNames());
        int path = names.indexOf("path");
        if (path < 0 || !in.fields()[path].dataType().equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("the images need a string column 'path'; they have " + in.simpleString());
        }
        int content = names.indexOf("content");
        if (content >= 0 && !in.fields()[content].dataType().equals(DataTypes.BinaryType)) content = -1;
        return images.mapPartitions(new PartitionScorer(settings, path, content), Encoders.row(schema()));
    }

    /**
     * The photos under {@code inputs}, one {@code path} per row. Local folders are listed on the driver with
     * {@code snapscore score}'s rules (image extensions, recursive, sorted) into absolute paths, in
     * {@code partitions} partitions (0: one per {@value #PHOTOS_PER_PARTITION} photos, at least the default
     * parallelism); URIs (hdfs:, s3a:, ...) are listed by Spark's binaryFile source without reading them.
     *
     * @throws IllegalArgumentException if a local input does not exist
     */
    public static Dataset<Row> listImages(SparkSession spark, List<String> inputs, int partitions) {
        List<Path> local = new ArrayList<>();
        List<String> remote = new ArrayList<>();
        for (String in : inputs) {
            if (ImageSource.isLocal(in)) local.add(Path.of(ImageSource.displayName(in)));
            else remote.add(in);
        }
        Dataset<Row> listed = null;
        if (!local.isEmpty()) {
            List<String> files = ImageFiles.list(local, null).stream().map(p -> p.toAbsolutePath().normalize().toString()).toList();
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int slices = partitions > 0 ? partitions
                    : Math.max(sc.defaultParallelism(), (files.size() + PHOTOS_PER_PARTITION - 1) / PHOTOS_PER_PARTITION);
            listed = spark.createDataset(sc.parallelize(files, Math.max(1, Math.min(slices, files.size()))).rdd(),
                    Encoders.STRING()).toDF("path");
        }
        if (!remote.isEmpty()) {
            // Selecting only the path: binaryFile reads no content for it.
            Dataset<Row> r = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                    .option("pathGlobFilter", imageGlob()).load(remote.toArray(String[]::new)).select("path");
            if (partitions > 0) r = r.repartition(partitions);
            listed = listed == null ? r : listed.union(r);
        }
        if (listed == null) throw new IllegalArgumentException("no inputs given");
        return listed;
    }

    /** {@code *.{[jJ][pP][gG],...}}: the image extensions, in any case (Hadoop's globs are case-sensitive). */
    static String imageGlob() {
        List<String> alternatives = new ArrayList<>();
        for (String ext : ImageFiles.EXTENSIONS.stream().sorted().toList()) {
            StringBuilder b = new StringBuilder();
            for (char c : ext.toCharArray()) b.append('[').append(c).append(Character.toUpperCase(c)).append(']');
            alternatives.add(b.toString());
        }
        return "*.{" + String.join(",", alternatives) + "}";
    }

    /**
     * Writes the rows through Spark's file commit protocol: only the output of each task's successful
     * attempt is committed, so a retried task leaves no duplicate rows. An existing output is an error
     * unless {@code overwrite}.
     */
    public static void write(Dataset<Row> rows, String out, Format format, boolean overwrite) {
        DataFrameWriter<Row> w = rows.write().mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists);
        switch (format) {
            case PARQUET -> w.parquet(out);
            case CSV -> w.option("header", "true").csv(out);
        }
    }

    /** The format an output's name implies: .csv → CSV, anything else Parquet. */
    public static Format formatOf(String out) {
        return out.toLowerCase(Locale.ROOT).replaceAll("/+$", "").endsWith(".csv") ? Format.CSV : Format.PARQUET;
    }
}
