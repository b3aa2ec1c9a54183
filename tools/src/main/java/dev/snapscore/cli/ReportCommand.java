package dev.snapscore.cli;

import dev.snapscore.report.Report;
import dev.snapscore.report.Thumbnails;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** A scores file as an HTML contact sheet. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Write SCORES (a .csv or .jsonl file from `snapscore score`) as an HTML contact sheet that works offline: "
                + "thumbnails sorted by expected score (or any label's probability), a histogram, photos rejected by cleaning "
                + "with their largest face outlined, error rows with their reasons, a filter by file name; click for the photo.",
                "Thumbnails go into PAGE_files/ beside the page and are made again only for new or changed photos. "
                        + "Photo paths are taken as score wrote them: relative ones from here, else from the scores file's folder.",
                "Exit codes: 0 written (missing or unreadable photos get a placeholder), 2 bad arguments or a malformed scores file."})
final class ReportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SCORES", description = "The scores, .csv or .jsonl.")
    Path scores;

    @Option(names = "--out", paramLabel = "PAGE", defaultValue = "gallery.html", description = "The page to write (.html). Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--threads", description = "Threads that make thumbnails. Default: every core.")
    Integer threads;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        int workers = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (workers < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + workers);
        write(scores, out, workers, spec.commandLine().getErr());
        return SnapscoreCli.OK;
    }

    /** Writes the page (also for {@code score --html}) and says on {@code err} what was done. */
    static void write(Path scores, Path page, int threads, PrintWriter err) throws IOException {
        Report.Summary s;
        if (Terminal.isInteractive()) {
            try (Bar bar = new Bar()) {
                s = Report.write(scores, page, threads, bar);
            }
        } else {
            s = Report.write(scores, page, threads, Thumbnails.Progress.NONE);
        }
        err.printf("wrote %s: %d photos (%d scored, %d rejected, %d errors); thumbnails in %s: %d made, %d up to date%s%n",
                s.page(), s.rows(), s.ok(), s.rejected(), s.errors(), Report.filesFolder(s.page()), s.made(), s.reused(),
                s.unreadable() > 0 ? "; " + s.unreadable() + " photos unreadable or missing (placeholders)" : "");
        err.flush();
    }

    /** The progress bar the other verbs show, once the number of thumbnails to make is known. */
    private static final class Bar implements Thumbnails.Progress, AutoCloseable {
        private ProgressBar bar;

        @Override
        public void start(int photos) {
            if (photos > 0) {
                bar = new ProgressBarBuilder().setTaskName("thumbnails").setInitialMax(photos)
                        .setStyle(ProgressBarStyle.ASCII).setUnit(" img", 1).showSpeed().build();
            }
        }

        @Override
        public void step() {
            if (bar != null) bar.step();
        }

        @Override
        public void close() {
            if (bar != null) bar.close();
        }
    }
}
