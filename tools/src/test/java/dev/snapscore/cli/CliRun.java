package dev.snapscore.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One run of the command line inside the test's JVM: its exit code and what it printed. */
record CliRun(int code, String out, String err) {

    static CliRun run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = SnapscoreCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new CliRun(code, out.toString(), err.toString());
    }
}
