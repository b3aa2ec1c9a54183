package dev.snapscore.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.photo.ScoreRow;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.engine.serving.ScorerMetrics;
import dev.snapscore.engine.serving.ScorerOverloadedException;
import dev.snapscore.engine.spec.ModelSpec;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * snapscore over HTTP: {@code POST /v1/score} (image bytes or multipart), {@code GET /healthz},
 * {@code GET /metrics} (Prometheus text), {@code GET /} (a page for people). The JDK's HttpServer on
 * virtual threads: handlers block on the {@link Scorer}'s futures, which costs a virtual thread nothing.
 */
public final class ScoreServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How much of a refused, too large body is read and dropped so that its client still gets the 413. */
    private static final long DISCARD_LIMIT = 64L << 20;

    private final HttpServer http;
    private final ExecutorService handlers = Executors.newVirtualThreadPerTaskExecutor();
    private final Scorer scorer;
    private final ModelSpec spec;
    private final long maxBodyBytes;
    private final byte[] page;

    private ScoreServer(HttpServer http, Scorer scorer, ModelSpec spec, long maxBodyBytes) throws IOException {
        this.http = http;
        this.scorer = scorer;
        this.spec = spec;
        this.maxBodyBytes = maxBodyBytes;
        try (InputStream in = ScoreServer.class.getResourceAsStream("/web/index.html")) {
            this.page = in.readAllBytes();
        }
        http.setExecutor(handlers);
        http.createContext("/v1/score", this::score);
        http.createContext("/healthz", ex -> send(ex, 200, "text/plain; charset=utf-8", "ok\n".getBytes(StandardCharsets.UTF_8)));
        http.createContext("/metrics", this::metrics);
        http.createContext("/", this::page);
    }

    /** Starts serving on {@code host:port} (port 0: any free port). The scorer is closed with the server. */
    public static ScoreServer start(String host, int port, Scorer scorer, ModelSpec spec, long maxBodyBytes) throws IOException {
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 256);
        ScoreServer server = new ScoreServer(http, scorer, spec, maxBodyBytes);
        http.start();
        return server;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    private void score(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("POST")) {
                ex.getResponseHeaders().add("Allow", "POST");
                error(ex, 405, "use POST with the image as the body");
                return;
            }
            String type = ex.getRequestHeaders().getFirst("Content-Type");
            String mediaType = type == null ? "" : type.split(";")[0].trim().toLowerCase(Locale.ROOT);
            boolean multipart = mediaType.equals("multipart/form-data");
            if (!(mediaType.startsWith("image/") || mediaType.equals("application/octet-stream") || multipart)) {
                error(ex, 415, "send an image (Content-Type image/* or application/octet-stream) or multipart/form-data, not '" + mediaType + "'");
                return;
            }
            String length = ex.getRequestHeaders().getFirst("Content-Length");
            if (length != null && Long.parseLong(length) > maxBodyBytes) {
                refuseTooLarge(ex, "body of " + length + " bytes exceeds the limit of " + maxBodyBytes);
                return;
            }
            byte[] body = ex.getRequestBody().readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBodyBytes + 1));
            if (body.length > maxBodyBytes) {
                refuseTooLarge(ex, "body exceeds the limit of " + maxBodyBytes + " bytes");
                return;
            }
            byte[] image = multipart ? Multipart.firstPart(body, type) : body;
            if (image.length == 0) {
                error(ex, 400, "empty body: send the image bytes");
                return;
            }
            ScoredPhoto scored;
            try {
                scored = scorer.submit(image).join();
            } catch (ScorerOverloadedException e) {
                ex.getResponseHeaders().add("Retry-After", "1");
                error(ex, 503, e.getMessage());
                return;
            } catch (CompletionException e) {
                if (e.getCause() instanceof ImageException ie) {
                    error(ex, ie.getMessage().contains("exceeds the limit") ? 413 : 400, ie.getMessage());
                } else {
                    error(ex, 500, String.valueOf(e.getCause()));
                }
                return;
            } catch (IllegalStateException e) {
                ex.getResponseHeaders().add("Retry-After", "1");
                error(ex, 503, "shutting down");
                return;
            }
            send(ex, 200, "application/json", JSON.writeValueAsBytes(ScoreRow.http(scored, spec.labels())));
        } catch (IllegalArgumentException e) {
            error(ex, 400, e.getMessage());
        } catch (RuntimeException e) {
            System.err.println("snapscore serve: " + e);
            error(ex, 500, e.toString());
        }
    }

    private void metrics(HttpExchange ex) throws IOException {
        ScorerMetrics.Snapshot m = scorer.metrics();
        StringBuilder b = new StringBuilder();
        gauge(b, "snapscore_queue_depth", "Requests admitted and not yet answered.", m.queueDepth());
        counter(b, "snapscore_requests_accepted_total", "Requests admitted.", m.accepted());
        counter(b, "snapscore_requests_rejected_total", "Requests refused because the scorer was full (HTTP 503).", m.rejected());
        counter(b, "snapscore_requests_failed_total", "Admitted requests that failed (bad images).", m.errors());
        counter(b, "snapscore_requests_completed_total", "Requests scored.", m.completed());
        b.append("# HELP snapscore_batch_size Images per inference run.\n# TYPE snapscore_batch_size histogram\n");
        long cumulative = 0, sum = 0;
        for (int size = 1; size < m.batchSizes().length; size++) {
            cumulative += m.batchSizes()[size];
            sum += size * m.batchSizes()[size];
            b.append("snapscore_batch_size_bucket{le=\"").append(size).append("\"} ").append(cumulative).append('\n');
        }
        b.append("snapscore_batch_size_bucket{le=\"+Inf\"} ").append(cumulative).append('\n');
        b.append("snapscore_batch_size_sum ").append(sum).append('\n');
        b.append("snapscore_batch_size_count ").append(cumulative).append('\n');
        b.append("# HELP snapscore_latency_ms Submission-to-result latency over the last 4096 requests.\n# TYPE snapscore_latency_ms summary\n");
        for (var q : List.of(new double[] {0.5, m.p50Ms()}, new double[] {0.9, m.p90Ms()}, new double[] {0.99, m.p99Ms()})) {
            b.append("snapscore_latency_ms{quantile=\"").append(q[0]).append("\"} ").append(Double.isNaN(q[1]) ? "NaN" : q[1]).append('\n');
        }
        send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", b.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private void page(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestURI().getPath().equals("/")) {
                error(ex, 404, "no such page: " + ex.getRequestURI().getPath());
                return;
            }
            send(ex, 200, "text/html; charset=utf-8", page);
        }
    }

    /**
     * Answers 413 after reading the rest of the body (up to {@link #DISCARD_LIMIT}). A client that sends
     * its whole body before reading the reply would otherwise often see no reply at all: the JDK server
     * closes a connection with unread request bytes, and the reset that follows can discard the 413 in
     * the client's receive buffer. Bodies beyond the limit get the 413 on a closing connection.
     */
    private static void refuseTooLarge(HttpExchange ex, String message) throws IOException {
        InputStream in = ex.getRequestBody();
        byte[] sink = new byte[64 * 1024];
        long left = DISCARD_LIMIT;
        int n;
        while (left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0) left -= n;
        if (left == 0) ex.getResponseHeaders().set("Connection", "close");
        error(ex, 413, message);
    }

    private static void error(HttpExchange ex, int status, String message) throws IOException {
        ObjectNode n = JSON.createObjectNode().put("error", message).put("status", status);
        send(ex, status, "application/json", JSON.writeValueAsBytes(n));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /**
     * Stops accepting connections, lets requests in progress finish (up to {@code graceSeconds}), then
     * closes the scorer, which answers everything it accepted.
     */
    public void stop(int graceSeconds) {
        http.stop(graceSeconds);
        scorer.close();
        handlers.close();
    }

    @Override
    public void close() {
        stop(5);
    }
}
