package dev.snapscore.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.photo.ScoreRow;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.engine.serving.ScorerMetrics;
import dev.snapscore.engine.serving.ScorerOverloadedException;
import dev.snapscore.engine.spec.ModelSpec;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.MultiPart;
import org.eclipse.jetty.http.MultiPartFormData;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import com.sun.management.UnixOperatingSystemMXBean;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * snapscore over HTTP: {@code POST /v1/score} (image bytes or multipart), {@code GET /healthz},
 * {@code GET /metrics} (Prometheus text), {@code GET /} (a page for people). Jetty 12 core handlers on
 * virtual threads: handlers block on the {@link Scorer}'s futures, which costs a virtual thread nothing.
 * Requests are admitted before their bodies are read: a full scorer or an exhausted body budget is
 * answered 503 at once, so concurrent uploads cannot exhaust the heap.
 */
public final class ScoreServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * How much of a refused body is read and dropped after the answer, so that a client that sends its whole
     * body before reading still sees it: up to a largest body for a 413 or 4xx, as the JDK server did; only
     * what is probably already in flight for a 503, whose point is not to spend the work on it.
     */
    private static final long DISCARD_LIMIT = 64L << 20, BUSY_DISCARD_LIMIT = 1L << 20;
    /** RFC 2046 caps a boundary at 70 characters; longer ones are refused before any search. */
    private static final int MAX_BOUNDARY = 70;
    private static final int CHUNK = 64 * 1024;
    /** The routes, each with the methods it answers. */
    private static final Map<String, String> ROUTES = Map.of("/v1/score", "POST", "/healthz", "GET, HEAD", "/metrics", "GET, HEAD",
            "/", "GET, HEAD");

    /**
     * @param maxBodyBytes    largest request body (413 beyond)
     * @param bodyBudgetBytes bytes of request bodies held at once, over all requests (503 beyond)
     * @param idleTimeout     a connection that sends or reads nothing for this long is closed (stalled uploads, headers)
     * @param headerTimeout   a request whose line and headers take longer than this to arrive is closed (trickled headers)
     * @param maxConnections  connections held at once; more wait in the kernel's listen backlog, so that a flood of
     *                        stalled connections cannot use up the process's file descriptors
     * @param maxConnectionsPerAddress connections held at once from one client address, 0 for no limit; one more
     *                        is closed as soon as it opens
     * @param minBodyRate     bytes per second a body must keep up over every {@code bodyRateWindow} (408 below),
     *                        0 for no minimum: a body trickled just under the idle timeout is closed all the same
     * @param bodyRateWindow  the window over which the body rate is measured; the first one is the grace period
     */
    public record Limits(long maxBodyBytes, long bodyBudgetBytes, Duration idleTimeout, Duration headerTimeout, int maxConnections,
                         int maxConnectionsPerAddress, long minBodyRate, Duration bodyRateWindow) {
        public Limits {
            if (maxBodyBytes < 1) throw new IllegalArgumentException("max body bytes must be >= 1, got " + maxBodyBytes);
            if (bodyBudgetBytes < maxBodyBytes) {
                throw new IllegalArgumentException("the body budget (" + bodyBudgetBytes + " bytes) must hold at least one largest body ("
                        + maxBodyBytes + " bytes)");
            }
            if (idleTimeout.isNegative() || idleTimeout.isZero()) throw new IllegalArgumentException("the idle timeout must be > 0");
            if (headerTimeout.isNegative() || headerTimeout.isZero()) throw new IllegalArgumentException("the header timeout must be > 0");
            if (maxConnections < 1) throw new IllegalArgumentException("max connections must be >= 1, got " + maxConnections);
            if (maxConnectionsPerAddress < 0) {
                throw new IllegalArgumentException("max connections per address must be >= 0 (0: no limit), got " + maxConnectionsPerAddress);
            }
            if (minBodyRate < 0) throw new IllegalArgumentException("the minimum body rate must be >= 0 (0: none), got " + minBodyRate);
            if (bodyRateWindow.toMillis() < 1) throw new IllegalArgumentException("the body rate window must be >= 1 ms");
        }

        /**
         * A budget of a quarter of the heap (at least two largest bodies: a form's parts and the file copied out
         * of them), a 60 s idle timeout, a 30 s header timeout, connections up to half the process's file
         * descriptor limit (at most 10,000) and {@link #defaultPerAddress of them} per address, and bodies at
         * 1 KiB/s at least over every 10 s.
         */
        public static Limits defaults(long maxBodyBytes) {
            int maxConnections = defaultMaxConnections();
            return new Limits(maxBodyBytes, Math.max(2 * maxBodyBytes, Runtime.getRuntime().maxMemory() / 4), Duration.ofSeconds(60),
                    Duration.ofSeconds(30), maxConnections, defaultPerAddress(maxConnections), 1024, Duration.ofSeconds(10));
        }

        private static int defaultMaxConnections() {
            long fds = ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean unix
                    ? unix.getMaxFileDescriptorCount() : 4096;
            return (int) Math.max(64, Math.min(10_000, fds / 2));
        }

        /** A quarter of the connections, at most 256: room for a browser or a proxy's pool, not for one client to take all. */
        public static int defaultPerAddress(int maxConnections) {
            return Math.max(1, Math.min(256, maxConnections / 4));
        }

        public Limits withTimeouts(Duration idleTimeout, Duration headerTimeout) {
            return new Limits(maxBodyBytes, bodyBudgetBytes, idleTimeout, headerTimeout, maxConnections, maxConnectionsPerAddress,
                    minBodyRate, bodyRateWindow);
        }

        public Limits withBodyBudget(long bodyBudgetBytes) {
            return new Limits(maxBodyBytes, bodyBudgetBytes, idleTimeout, headerTimeout, maxConnections, maxConnectionsPerAddress,
                    minBodyRate, bodyRateWindow);
        }

        /** Also sets the per-address limit to its {@link #defaultPerAddress default} for {@code maxConnections}. */
        public Limits withMaxConnections(int maxConnections) {
            return new Limits(maxBodyBytes, bodyBudgetBytes, idleTimeout, headerTimeout, maxConnections, defaultPerAddress(maxConnections),
                    minBodyRate, bodyRateWindow);
        }

        public Limits withMaxConnectionsPerAddress(int maxConnectionsPerAddress) {
            return new Limits(maxBodyBytes, bodyBudgetBytes, idleTimeout, headerTimeout, maxConnections, maxConnectionsPerAddress,
                    minBodyRate, bodyRateWindow);
        }

        public Limits withMinBodyRate(long minBodyRate, Duration bodyRateWindow) {
            return new Limits(maxBodyBytes, bodyBudgetBytes, idleTimeout, headerTimeout, maxConnections, maxConnectionsPerAddress,
                    minBodyRate, bodyRateWindow);
        }
    }

    private final Server jetty;
    private final ServerConnector connector;
    private int port;
    private final Scorer scorer;
    private final ModelSpec spec;
    private final Limits limits;
    private final BodyBudget budget;
    private final HeaderTimeout headerTimeout;
    private final AddressConnectionLimit perAddress;
    private final AcceptedChannels accepted = new AcceptedChannels();
    private final AtomicLong slowBodies = new AtomicLong();
    private final byte[] page;
    private volatile boolean draining;

    private ScoreServer(String host, int port, Scorer scorer, ModelSpec spec, Limits limits) throws IOException {
        this.scorer = scorer;
        this.spec = spec;
        this.limits = limits;
        this.budget = new BodyBudget(limits.bodyBudgetBytes());
        try (InputStream in = ScoreServer.class.getResourceAsStream("/web/index.html")) {
            this.page = in.readAllBytes();
        }
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("snapscore-http");
        threads.setVirtualThreadsExecutor(Executors.newVirtualThreadPerTaskExecutor());
        jetty = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setRequestHeaderSize(16 * 1024); // request line and headers: 414 / 431 beyond
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);
        http.setIdleTimeout(limits.idleTimeout().toMillis());
        // Its stop closes the listener rather than interrupting the acceptor (which could drop a socket unclosed);
        // `accepted` closes any socket handed to a selector that had already stopped.
        connector = new CleanStopConnector(jetty, new HttpConnectionFactory(http));
        connector.setHost(host);
        connector.setPort(port);
        connector.setIdleTimeout(limits.idleTimeout().toMillis());
        connector.setAcceptQueueSize(256);
        connector.getSelectorManager().addEventListener(accepted);
        jetty.addConnector(connector);
        // At the limit Jetty stops accepting; new connections wait in the listen backlog until some close.
        jetty.addBean(new NetworkConnectionLimit(limits.maxConnections(), connector));
        perAddress = limits.maxConnectionsPerAddress() > 0 ? new AddressConnectionLimit(limits.maxConnectionsPerAddress()) : null;
        if (perAddress != null) connector.addEventListener(perAddress);
        // Draining (a GracefulHandler): stop waits for requests in flight and refuses new ones.
        headerTimeout = new HeaderTimeout(new Draining(new Routes()), limits.headerTimeout());
        connector.addEventListener(headerTimeout);
        jetty.setHandler(headerTimeout);
        jetty.setErrorHandler(new JsonErrors());
        jetty.setStopAtShutdown(false); // the serve command drains in its own shutdown hook
    }

    /** Starts serving on {@code host:port} (port 0: any free port), with {@link Limits#defaults}. The scorer is closed with the server. */
    public static ScoreServer start(String host, int port, Scorer scorer, ModelSpec spec, long maxBodyBytes) throws IOException {
        return start(host, port, scorer, spec, Limits.defaults(maxBodyBytes));
    }

    public static ScoreServer start(String host, int port, Scorer scorer, ModelSpec spec, Limits limits) throws IOException {
        ScoreServer server = new ScoreServer(host, port, scorer, spec, limits);
        try {
            server.jetty.start();
            server.port = server.connector.getLocalPort();
        } catch (Exception e) {
            scorer.close();
            throw e instanceof IOException io ? io : new IOException("cannot start the HTTP server on " + host + ":" + port + ": " + e, e);
        }
        return server;
    }

    /** The port it listens on (still known after {@link #stop}). */
    public int port() {
        return port;
    }

    /** Client connections open now. */
    int openConnections() {
        return connector.getConnectedEndPoints().size();
    }

    /** Exact paths; a known path with another method gets 405 and Allow; nothing of the request is echoed. */
    private final class Routes extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            try {
                String path = request.getHttpURI().getPath();
                String allowed = path == null ? null : ROUTES.get(path);
                if (allowed == null) {
                    answer(response, callback, 404, error(404, "no such resource; see GET / for the API"));
                    return true;
                }
                if (!List.of(allowed.split(", ")).contains(request.getMethod())) {
                    response.getHeaders().put(HttpHeader.ALLOW, allowed);
                    refuse(request, response, callback, 405, "method not allowed; use " + allowed);
                    return true;
                }
                switch (path) {
                    case "/v1/score" -> score(request, response, callback);
                    case "/healthz" -> healthz(response, callback);
                    case "/metrics" -> answer(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8",
                            metrics().getBytes(StandardCharsets.UTF_8));
                    default -> answer(response, callback, 200, "text/html; charset=utf-8", page);
                }
            } catch (VirtualMachineError e) {
                Fatal.exit(e);
            } catch (IOException e) {
                callback.failed(e); // the client went away or stalled past the idle timeout: nobody to answer
            } catch (Throwable e) {
                System.err.println("snapscore serve: " + e);
                if (!response.isCommitted()) {
                    try {
                        answer(response, callback, 500, error(500, "internal error: " + e.getClass().getSimpleName()));
                        return true;
                    } catch (Throwable again) {
                        e.addSuppressed(again);
                    }
                }
                callback.failed(e);
            }
            return true;
        }
    }

    private void healthz(Response response, Callback callback) throws IOException {
        if (draining) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            answer(response, callback, 503, "text/plain; charset=utf-8", "draining\n".getBytes(StandardCharsets.UTF_8));
        } else {
            answer(response, callback, 200, "text/plain; charset=utf-8", "ok\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    private void score(Request request, Response response, Callback callback) throws IOException {
        String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
        String mediaType = type == null ? "" : type.split(";")[0].trim().toLowerCase(Locale.ROOT);
        boolean multipart = mediaType.equals("multipart/form-data");
        if (!(mediaType.startsWith("image/") || mediaType.equals("application/octet-stream") || multipart)) {
            refuse(request, response, callback, 415, "send an image (Content-Type image/* or application/octet-stream) or multipart/form-data");
            return;
        }
        String boundary = null;
        if (multipart) {
            boundary = MultiPart.extractBoundary(type);
            if (boundary == null || boundary.isEmpty() || boundary.length() > MAX_BOUNDARY) {
                refuse(request, response, callback, 400, "multipart/form-data needs a boundary of 1 to " + MAX_BOUNDARY + " characters");
                return;
            }
        }
        long length = request.getLength();
        if (length > limits.maxBodyBytes()) {
            refuse(request, response, callback, 413, "body of " + length + " bytes exceeds the limit of " + limits.maxBodyBytes());
            return;
        }
        if (draining || scorer.freeSlots() == 0) {
            busy(request, response, callback, draining ? "shutting down" : "scorer is at capacity; retry later");
            return;
        }
        long declared = Math.max(length, 0);
        BodyBudget.Reservation held = budget.open(declared);
        if (held == null) {
            busy(request, response, callback, "too many uploads in flight; retry later");
            return;
        }
        // The reservation is released before any refusal, which may spend a while dropping the rest of the body.
        try (held) {
            byte[] image;
            try (MinimumRate rate = minimumRate(request)) {
                MeteredBody body = new MeteredBody(request, held, declared, limits.maxBodyBytes(), rate);
                image = multipart ? filePart(body, boundary, held) : bytes(body, length, held);
            }
            if (image.length == 0) {
                answer(response, callback, 400, error(400, "empty body: send the image bytes"));
                return;
            }
            scoreImage(image, response, callback);
        } catch (MeteredBody.Refused e) {
            if (e.status() == 503) busy(request, response, callback, e.getMessage());
            else refuse(request, response, callback, e.status(), e.getMessage());
        } catch (IllegalArgumentException e) {
            refuse(request, response, callback, 400, e.getMessage()); // a form may be refused before its end arrived
        } catch (IOException e) {
            if (e.getCause() instanceof MinimumRate.TooSlow) {
                slowBodies.incrementAndGet();
                refuse(request, response, callback, 408, "the body arrived more slowly than the minimum of " + limits.minBodyRate()
                        + " bytes/s over " + limits.bodyRateWindow().toMillis() + " ms");
            } else if (e.getCause() instanceof TimeoutException) {
                refuse(request, response, callback, 408, "the body stalled for longer than the idle timeout");
            } else {
                throw e;
            }
        }
    }

    /**
     * An image body as one array: a declared length is read straight into it; a chunked body is gathered, then
     * joined once the whole is known, the join reserved in the budget like the arriving bytes.
     */
    private static byte[] bytes(MeteredBody body, long length, BodyBudget.Reservation held) throws IOException {
        InputStream in = Content.Source.asInputStream(body);
        if (length >= 0) {
            byte[] all = new byte[(int) length];
            if (in.readNBytes(all, 0, all.length) < all.length) throw new EOFException("the body ended before its Content-Length");
            return all;
        }
        List<byte[]> chunks = new ArrayList<>();
        long total = 0;
        for (byte[] chunk; (chunk = in.readNBytes(CHUNK)).length > 0; total += chunk.length) chunks.add(chunk);
        if (!held.grow(total)) throw new MeteredBody.Refused(503, "too many uploads in flight; retry later");
        byte[] all = new byte[(int) total];
        int at = 0;
        for (byte[] chunk : chunks) {
            System.arraycopy(chunk, 0, all, at, chunk.length);
            at += chunk.length;
        }
        return all;
    }

    private void scoreImage(byte[] image, Response response, Callback callback) throws IOException {
        ScoredPhoto scored;
        try {
            scored = scorer.submit(image).join();
        } catch (ScorerOverloadedException e) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            answer(response, callback, 503, error(503, e.getMessage()));
            return;
        } catch (IllegalStateException e) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            answer(response, callback, 503, error(503, "shutting down"));
            return;
        } catch (CompletionException e) {
            if (e.getCause() instanceof ImageException ie) {
                int status = ie.getMessage().contains("exceeds the limit") ? 413 : 400;
                answer(response, callback, status, error(status, ie.getMessage()));
            } else {
                System.err.println("snapscore serve: " + e.getCause());
                answer(response, callback, 500, error(500, "model " + spec.name() + " failed: " + e.getCause()));
            }
            return;
        }
        if (scored.status() != ScoredPhoto.Status.OK) {
            answer(response, callback, 500, error(500, "model " + spec.name() + ": " + scored.error()));
            return;
        }
        answer(response, callback, 200, "application/json", JSON.writeValueAsBytes(ScoreRow.http(scored, spec.labels())));
    }

    /**
     * The file part of a form (the first part with a file name, or the only part; text fields are skipped),
     * parsed by Jetty's parser as the body arrives: a malformed form is refused at its first bad part, and the
     * parts hold the body's own buffers, not a copy of it. The file is copied out once, that copy reserved too.
     */
    private byte[] filePart(MeteredBody body, String boundary, BodyBudget.Reservation held) throws IOException {
        MultiPartFormData.Parser parser = new MultiPartFormData.Parser(boundary);
        parser.setMaxParts(16);
        parser.setMaxLength(limits.maxBodyBytes());
        parser.setMaxMemoryFileSize(limits.maxBodyBytes());
        parser.setPartHeadersMaxLength(8 * 1024);
        parser.setUseFilesForPartsWithoutFileName(false);
        CompletableFuture<MultiPartFormData.Parts> parsed = new CompletableFuture<>();
        parser.parse(body, Promise.Invocable.toPromise(parsed));
        MultiPartFormData.Parts parts;
        try {
            parts = parsed.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof MeteredBody.Refused refused) throw refused;
            if (e.getCause() instanceof TimeoutException timeout) throw new IOException(timeout); // the body stalled
            throw new IllegalArgumentException("malformed multipart body: " + (e.getCause() == null ? e : e.getCause().getMessage()));
        }
        try (parts) {
            MultiPart.Part file = null;
            for (MultiPart.Part p : parts) {
                if (p.getFileName() != null) {
                    file = p;
                    break;
                }
            }
            if (file == null && parts.size() == 1) file = parts.get(0);
            if (file == null) throw new IllegalArgumentException("multipart form without a file part");
            byte[] bytes = new byte[(int) file.getLength()];
            if (!held.grow(bytes.length)) throw new MeteredBody.Refused(503, "too many uploads in flight; retry later");
            Content.Source.asInputStream(file.getContentSource()).readNBytes(bytes, 0, bytes.length);
            return bytes;
        }
    }

    private String metrics() {
        ScorerMetrics.Snapshot m = scorer.metrics();
        StringBuilder b = new StringBuilder();
        gauge(b, "snapscore_queue_depth", "Requests admitted and not yet answered.", m.queueDepth());
        counter(b, "snapscore_requests_accepted_total", "Requests admitted.", m.accepted());
        counter(b, "snapscore_requests_rejected_total", "Requests refused because the scorer was full (HTTP 503).", m.rejected());
        counter(b, "snapscore_requests_failed_total", "Admitted requests that failed (bad images).", m.errors());
        counter(b, "snapscore_requests_completed_total", "Requests scored.", m.completed());
        counter(b, "snapscore_requests_prepared_by_inference_total",
                "Requests the inference thread decoded itself while its batch was not full (the rest: decode workers).",
                m.preparedByInference());
        gauge(b, "snapscore_body_bytes_in_flight", "Bytes of request bodies held now (the budget bounds them).", budget.used());
        gauge(b, "snapscore_connections_open", "Client connections open now (--max-connections bounds them).", openConnections());
        counter(b, "snapscore_header_timeouts_total", "Connections closed for sending their headers too slowly.", headerTimeout.closed());
        counter(b, "snapscore_slow_bodies_total", "Uploads closed with 408 for arriving below the minimum rate (--min-body-rate).",
                slowBodies.get());
        counter(b, "snapscore_connections_refused_per_address_total",
                "Connections closed for being over their address's limit (--max-connections-per-address).",
                perAddress == null ? 0 : perAddress.refused());
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
        return b.toString();
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private MinimumRate minimumRate(Request request) {
        return new MinimumRate(request, limits.minBodyRate(), limits.bodyRateWindow(), request.getComponents().getScheduler());
    }

    private void busy(Request request, Response response, Callback callback, String message) throws IOException {
        response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
        refuse(request, response, callback, 503, message, BUSY_DISCARD_LIMIT);
    }

    /**
     * Answers without having read the body, on a closing connection, then reads and drops what the client
     * still sends (up to {@code discard} bytes, never held, at the minimum body rate): a client that sends
     * its whole body before reading the reply would otherwise often see a reset instead of the answer.
     */
    private void refuse(Request request, Response response, Callback callback, int status, String message) throws IOException {
        refuse(request, response, callback, status, message, DISCARD_LIMIT);
    }

    private void refuse(Request request, Response response, Callback callback, int status, String message, long discard)
            throws IOException {
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        write(response, status, "application/json", error(status, message));
        try (MinimumRate rate = minimumRate(request); InputStream in = Content.Source.asInputStream(request)) {
            byte[] sink = new byte[CHUNK];
            long left = discard;
            int n;
            while (left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0) {
                left -= n;
                rate.read(n, false);
            }
        } catch (IOException e) {
            // The client went away or stalled: it has its answer.
        }
        callback.succeeded();
    }

    private static byte[] error(int status, String message) throws IOException {
        ObjectNode n = JSON.createObjectNode().put("error", message).put("status", status);
        return JSON.writeValueAsBytes(n);
    }

    private static void answer(Response response, Callback callback, int status, byte[] json) throws IOException {
        answer(response, callback, status, "application/json", json);
    }

    private static void answer(Response response, Callback callback, int status, String type, byte[] body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    private static void write(Response response, int status, String type, byte[] body) throws IOException {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        try (Blocker.Callback done = Blocker.callback()) {
            response.write(true, ByteBuffer.wrap(body), done);
            done.block();
        }
    }

    /**
     * Jetty's graceful stop, whose refusals (requests that arrive on open connections once stop has begun)
     * say what the server's own refusals say while draining: 503, Retry-After and Connection: close, so that
     * a keep-alive client takes its next request elsewhere.
     */
    private static final class Draining extends GracefulHandler {
        Draining(Handler handler) {
            super(handler);
        }

        @Override
        protected void handleShutdownRejection(Request request, Response response, Callback callback) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            try {
                answer(response, callback, 503, error(503, "shutting down"));
            } catch (IOException e) {
                callback.failed(e);
            }
        }
    }

    /** Errors Jetty answers itself (431, 414, 400 for bad requests): JSON with the status's reason only, never the request's data. */
    private static final class JsonErrors extends ErrorHandler {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            int status = request.getAttribute(ERROR_STATUS) instanceof Integer s ? s : response.getStatus();
            answer(response, callback, status, error(status, HttpStatus.getMessage(status)));
            return true;
        }
    }

    /**
     * Stops accepting (closes the listener), answers requests already accepted (new requests on open
     * keep-alive connections get 503 and {@code Connection: close}) for up to {@code graceSeconds}, then
     * closes the scorer, which answers everything it accepted.
     */
    public void stop(int graceSeconds) {
        draining = true;
        jetty.setStopTimeout(graceSeconds * 1000L);
        try {
            jetty.stop();
        } catch (Exception e) {
            System.err.println("snapscore serve: stopping the HTTP server: " + e);
        }
        accepted.closeLeftovers();
        scorer.close();
    }

    @Override
    public void close() {
        stop(5);
    }
}
