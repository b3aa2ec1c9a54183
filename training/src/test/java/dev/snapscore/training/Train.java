package dev.snapscore.training;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs {@code snapscore train} in this JVM (as the launcher would, minus the exit) and keeps what it printed. */
record Train(int code, String out, String err) {
    static Train run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = TrainCommand.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        System.out.print(out); // progress lines in the test log, for the record
        System.err.print(err);
        return new Train(code, out.toString(), err.toString());
    }

    /** The value after {@code key} (e.g. "val_acc ") on the first line starting with {@code linePrefix}. */
    double figure(String linePrefix, String key) {
        String line = out.lines().filter(l -> l.startsWith(linePrefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no line starting with '" + linePrefix + "' in:\n" + out + err));
        String rest = line.substring(line.indexOf(key) + key.length()).strip();
        return Double.parseDouble(rest.split("[\\s(,]")[0]);
    }
}
