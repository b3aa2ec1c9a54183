package dev.snapscore.cli;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.server.Fatal;
import dev.snapscore.server.ScoreServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code snapscore serve}: the HTTP service, until interrupted (SIGINT/SIGTERM drain it first). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over HTTP: POST /v1/score (image body or multipart), GET /healthz, GET /metrics,",
                "and a page for people at /. Listens on loopback unless --host says otherwise.",
                "On SIGTERM or Ctrl-C it stops accepting, answers what it accepted, then exits."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Model directory or .onnx file. Default: the bundled demo model (random weights).")
    Path model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on. Default: ${DEFAULT-VALUE}.")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (0: any free one). Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = "--clean", description = "Also detect faces: answers carry the largest face's box and fraction.")
    boolean clean;

    @picocli.CommandLine.ArgGroup(exclusive = false, heading = "Face detection (with --clean):%n")
    CleanOptions cleanOptions = new CleanOptions();

    @Option(names = "--max-batch", defaultValue = "8", description = "Most images per inference run. Default: ${DEFAULT-VALUE}.")
    int maxBatch;

    @Option(names = "--max-delay-ms", defaultValue = "5", description = "Longest wait for a batch to fill. Default: ${DEFAULT-VALUE}.")
    int maxDelayMs;

    @Option(names = "--queue", defaultValue = "64", description = "Requests admitted at once; more get 503. Default: ${DEFAULT-VALUE}.")
    int queue;

    @Option(names = "--max-body-bytes", defaultValue = "20000000", description = "Largest request body (413 beyond). Default: ${DEFAULT-VALUE}.")
    long maxBodyBytes;

    @Option(names = "--max-pixels", defaultValue = "50000000", description = "Largest image in pixels (413 beyond). Default: ${DEFAULT-VALUE}.")
    long maxPixels;

    @Option(names = "--idle-timeout", defaultValue = "60", description = "Seconds a connection may send or read nothing (stalled uploads and headers are closed). Default: ${DEFAULT-VALUE}.")
    int idleTimeoutSeconds;

    @Option(names = "--header-timeout", defaultValue = "30", description = "Seconds a request's line and headers may take to arrive, however slowly they trickle. Default: ${DEFAULT-VALUE}.")
    int headerTimeoutSeconds;

    @Option(names = "--max-connections", description = "Client connections held at once; more wait to be accepted. Default: half the file descriptor limit, at most 10000.")
    Integer maxConnections;

    @Option(names = "--max-connections-per-address", description = "Client connections held at once from one address (0: no limit); more are closed as they open. Behind a reverse proxy every connection comes from the proxy: set 0 or its pool size. Default: a quarter of --max-connections, at most 256.")
    Integer maxConnectionsPerAddress;

    @Option(names = "--min-body-rate", defaultValue = "1024", description = "Bytes/s an upload must keep up over every 10 s (408 below; 0: no minimum), so that a body trickled just under the idle timeout is not held for ever. Default: ${DEFAULT-VALUE}.")
    long minBodyRate;

    @Option(names = "--body-budget-bytes", description = "Bytes of request bodies held at once (503 beyond). Default: a quarter of the heap.")
    Long bodyBudgetBytes;

    @picocli.CommandLine.Mixin
    ModelFlags modelFlags;

    @picocli.CommandLine.Mixin
    DecodeOption decode;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Model m = Model.load(model != null ? model : BundledModel.path(), modelFlags.options());
        var options = Scorer.Options.defaults().withMaxBatch(maxBatch, Duration.ofMillis(maxDelayMs)).withCapacity(Math.max(queue, maxBatch))
                .withDecoder(new ImageDecoder(maxBodyBytes, maxPixels)).withDecode(decode.options()).withDetector(clean ? cleanOptions.settings() : null);
        var limits = ScoreServer.Limits.defaults(maxBodyBytes)
                .withTimeouts(Duration.ofSeconds(idleTimeoutSeconds), Duration.ofSeconds(headerTimeoutSeconds));
        if (bodyBudgetBytes != null) limits = limits.withBodyBudget(bodyBudgetBytes);
        if (maxConnections != null) limits = limits.withMaxConnections(maxConnections);
        if (maxConnectionsPerAddress != null) limits = limits.withMaxConnectionsPerAddress(maxConnectionsPerAddress);
        limits = limits.withMinBodyRate(minBodyRate, limits.bodyRateWindow());
        Fatal.install();
        ScoreServer server = ScoreServer.start(host, port, Scorer.start(m, options), m.spec(), limits);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.stop(10);
            m.close();
            stopped.countDown();
        }, "snapscore-serve-shutdown"));
        spec.commandLine().getErr().printf("snapscore serving %s (%s) on http://%s:%d/%s%n", m.spec().name(),
                model != null ? model : "bundled demo model, random weights", host, server.port(), clean ? " with face detection" : "");
        spec.commandLine().getErr().flush();
        stopped.await();
        return SnapscoreCli.OK;
    }
}
