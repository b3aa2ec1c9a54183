package dev.snapscore.training;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The engine's command line in a child JVM. DL4J needs JavaCPP 1.5.7 and the engine 1.5.13, so they never
 * share a process: decoding, preprocessing and scoring run over there, by the engine's own code.
 *
 * @param launch the command up to the verb: java, its flags, and the jar or classpath + main class
 */
public record EngineCli(List<String> launch) {
    private static final String MAIN = "dev.snapscore.cli.SnapscoreCli";

    public EngineCli {
        launch = List.copyOf(launch);
    }

    /** What a finished run printed and returned. */
    public record Run(int exitCode, String output) {
    }

    /**
     * Found from system properties: {@code snapscore.tools.target} (the tools module's build folder, its
     * classes and {@code runtime-classpath.txt}: how the tests run it before any jar exists), else
     * {@code snapscore.home} (set by the {@code snapscore} launcher: the packaged {@code tools/target/snapscore.jar}).
     */
    public static EngineCli locate() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        String target = System.getProperty("snapscore.tools.target");
        if (target != null) {
            Path dir = Path.of(target);
            Path cpFile = dir.resolve("runtime-classpath.txt");
            try {
                String cp = dir.resolve("classes") + File.pathSeparator + Files.readString(cpFile).strip();
                cmd.addAll(List.of("-cp", cp, MAIN));
            } catch (IOException e) {
                throw new IllegalStateException("cannot read the engine CLI's classpath " + cpFile + " (build tools first)", e);
            }
            return new EngineCli(cmd);
        }
        String home = System.getProperty("snapscore.home");
        if (home == null) {
            throw new IllegalStateException("cannot find the engine: run through the ./snapscore launcher (it sets snapscore.home)");
        }
        Path jar = Path.of(home, "tools", "target", "snapscore.jar");
        if (!Files.isRegularFile(jar)) throw new IllegalStateException("the engine's jar " + jar + " is missing: run ./build package -DskipTests");
        cmd.addAll(List.of("-jar", jar.toString()));
        return new EngineCli(cmd);
    }

    /** Runs one verb, collecting its stdout and stderr together. */
    public Run run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(launch);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    /** Runs one verb and fails, quoting its output, unless it exits 0. */
    public String runOrThrow(String... args) throws IOException, InterruptedException {
        Run r = run(args);
        if (r.exitCode() != 0) {
            throw new IllegalStateException("snapscore " + args[0] + " failed (exit " + r.exitCode() + "):\n" + r.output().strip());
        }
        return r.output();
    }
}
