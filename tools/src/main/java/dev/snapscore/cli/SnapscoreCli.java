package dev.snapscore.cli;

import dev.snapscore.dnnl.DnnlException;
import dev.snapscore.engine.ModelFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.List;

/** {@code snapscore}: score photos with VGG16-family models on the CPU. The only place that exits. */
@Command(name = "snapscore", mixinStandardHelpOptions = true, versionProvider = SnapscoreCli.Version.class,
        description = "Score photos with VGG16-family classifiers on the CPU (oneDNN through the Java FFM API).",
        footer = {"", "Also, each in its own JVM: train (Deeplearning4j trains, exports in snapscore's format), spark-score and bench;",
                "`snapscore train --help`, `snapscore spark-score --help`, `snapscore bench --help`."})
public final class SnapscoreCli implements Runnable {
    /** Exit codes shared by every verb. */
    static final int OK = 0, BEYOND_TOLERANCE = 1, BAD_INPUT = 2, SOME_ERRORS = 3;

    /** The verbs, in the order help lists them. */
    private static final List<Class<?>> VERBS = List.of(ScoreCommand.class, CleanCommand.class, ServeCommand.class,
            VerifyCommand.class, ConvertCommand.class, InspectCommand.class, GenerateCommand.class, QuantizeCommand.class,
            CompareCommand.class, PreprocessCommand.class, ReportCommand.class, CommandLine.HelpCommand.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (no System.exit). */
    static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new SnapscoreCli());
        for (Class<?> verb : verbsFor(args)) cli.addSubcommand(verb);
        cli.setOut(out).setErr(err).setCaseInsensitiveEnumValuesAllowed(true); // --convolution winograd
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (isUserError(ex)) {
                commandLine.getErr().println("snapscore " + commandLine.getCommandName() + ": " + message(ex));
                return BAD_INPUT;
            }
            throw ex;
        });
        return cli.execute(args);
    }

    /**
     * The verb {@code args} name, alone, or every verb when they name none (help, --version, a mistake picocli should
     * list or correct). picocli reads a verb's annotations when it is added, every verb at each start before; a
     * `score` of the samples now starts about 30 ms sooner (picocli's own first use, most of its cost, stays).
     */
    static List<Class<?>> verbsFor(String... args) {
        if (args.length > 0 && !args[0].equals("help")) {
            for (Class<?> verb : VERBS) {
                if (verb.getAnnotation(Command.class).name().equals(args[0])) return List.of(verb);
            }
        }
        return VERBS;
    }

    private static boolean isUserError(Exception ex) {
        return ex instanceof ModelFormatException || ex instanceof IllegalArgumentException
                || ex instanceof IOException || ex instanceof UncheckedIOException || ex instanceof DnnlException
                || ex.getClass().getSimpleName().equals("ImageException");
    }

    private static String message(Throwable ex) {
        String m = ex.getMessage();
        return m == null ? ex.getClass().getSimpleName() : m;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = SnapscoreCli.class.getPackage().getImplementationVersion();
            return new String[] {"snapscore " + (v == null ? "dev" : v) + " (oneDNN " + dev.snapscore.dnnl.Dnnl.version()
                    + ", Java " + Runtime.version() + ")"};
        }
    }
}
