package dev.snapscore.cli;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.batch.BatchScorer;
import dev.snapscore.engine.batch.ImageFiles;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.PhotoPipeline;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** Scores every photo under some folders, as a pipeline, resumably. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Score every image under DIR... (recursively): one row per photo, appended as batches finish.",
                "Exit codes: 0 all scored (or rejected by --clean), 3 some photos could not be read, 2 bad arguments."})
final class ScoreCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", arity = "1..*", description = "Folders (or single images) to score.")
    List<Path> roots;

    @Option(names = "--model", description = "Model: a snapscore model directory or an .onnx file. Default: the bundled demo model (random weights).")
    Path model;

    @Option(names = "--out", description = "Output file, .csv or .jsonl. Default: CSV on standard output.")
    Path out;

    @Option(names = "--batch", defaultValue = "8", description = "Images per inference run. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--threads", description = "Threads that decode, clean and preprocess photos besides the inference thread, which does so too while its next batch is not full (0: only it). Default: cores - 1 (at least 1); inference uses every core.")
    Integer threads;

    @Option(names = "--clean", description = "Clean with the face rule first: photos it rejects get status 'rejected' and are not scored.")
    boolean clean;

    @ArgGroup(exclusive = false, heading = "Cleaning (with --clean):%n")
    CleanOptions cleanOptions = new CleanOptions();

    @Option(names = "--html", paramLabel = "FILE",
            description = "After scoring, write the --out rows as an HTML contact sheet (as `snapscore report` does).")
    Path html;

    @Option(names = "--resume", description = "Append to an existing --out, skipping photos it already has a row for.")
    boolean resume;

    @Option(names = "--max-pixels", defaultValue = "50000000",
            description = "Refuse images with more pixels than this, before decoding them. Default: ${DEFAULT-VALUE}.")
    long maxPixels;

    @picocli.CommandLine.Mixin
    ModelFlags modelFlags;

    @picocli.CommandLine.Mixin
    DecodeOption decode;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        if (resume && out == null) throw new IllegalArgumentException("--resume needs --out");
        if (html != null && out == null) throw new IllegalArgumentException("--html needs --out: the page is made from its rows");
        if (out != null) ScoreOutput.checkTarget(out, resume); // now, not after a model load of up to seconds
        int workers = threads != null ? threads : Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
        if (workers < 0) throw new IllegalArgumentException("--threads must be >= 0, got " + workers);
        PrintWriter err = spec.commandLine().getErr();
        ImageDecoder decoder = new ImageDecoder(ImageDecoder.DEFAULT_MAX_BYTES, maxPixels);
        Path modelPath = model != null ? model : BundledModel.path();
        List<Path> all = ImageFiles.list(roots, null);
        long errors;

        try (Model m = Model.load(modelPath, modelFlags.options());
             Session session = m.newSession();
             PhotoPipeline pipeline = PhotoPipeline.forModel(m.spec(), decoder, decode.options(),
                     clean ? cleanOptions.faceCheck() : null);
             ScoreOutput output = out != null ? ScoreOutput.open(out, m.spec().labels(), clean, resume)
                     : ScoreOutput.to(spec.commandLine().getOut(), m.spec().labels(), clean)) {
            List<Path> todo = all.stream().filter(f -> !output.has(f)).toList();
            if (resume) err.printf("resuming %s: %d photos already scored, %d to go%n", out, all.size() - todo.size(), todo.size());
            var options = new BatchScorer.Options(batch, workers);
            BatchScorer.Stats stats;
            if (Terminal.isInteractive()) {
                try (ProgressBar bar = new ProgressBarBuilder().setTaskName("scoring").setInitialMax(todo.size())
                        .setStyle(ProgressBarStyle.ASCII).setUnit(" img", 1).showSpeed().build()) {
                    stats = BatchScorer.run(session, pipeline, todo, options, rows -> {
                        output.write(rows);
                        bar.stepBy(rows.size());
                    });
                }
            } else {
                stats = BatchScorer.run(session, pipeline, todo, options, output);
            }
            err.printf("scored %d, rejected %d%s, errors %d of %d photos in %.2f s (%.2f photos/s)%n", stats.scored(),
                    stats.rejected(), stats.rejectedFromThumbnails() == 0 ? ""
                            : " (" + stats.rejectedFromThumbnails() + " from their EXIF thumbnails)",
                    stats.errors(), stats.total(), stats.seconds(),
                    stats.seconds() > 0 ? stats.total() / stats.seconds() : 0);
            err.printf("time: decode+preprocess %.2f s and clean %.2f s (summed over %d worker%s and the inference thread, "
                            + "which did %.2f s of it), inference %.2f s (wall, batch %d), waiting for photos %.2f s%n",
                    stats.decodeSeconds(), stats.cleanSeconds(), workers, workers == 1 ? "" : "s", stats.helpedSeconds(),
                    stats.inferenceSeconds(), batch, stats.waitingSeconds());
            if (model == null) err.println("note: the bundled demo model has random weights; its scores mean nothing about photos");
            err.flush();
            errors = stats.errors();
        }
        if (html != null) ReportCommand.write(out, html, Runtime.getRuntime().availableProcessors(), err);
        return errors > 0 ? SnapscoreCli.SOME_ERRORS : SnapscoreCli.OK;
    }
}
