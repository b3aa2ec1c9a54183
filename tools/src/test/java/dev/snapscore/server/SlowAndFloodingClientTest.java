package dev.snapscore.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.server.HostileClientTest.Conn;
import dev.snapscore.server.HostileClientTest.Reply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.snapscore.server.HostileClientTest.head;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clients that are slow on purpose or come in floods, over raw sockets on loopback: headers trickled a byte at
 * a time, 10 MB uploads that stall, more connections than the limit, uploads that arrive while the scorer is
 * full, and forms and chunked bodies read as they arrive within the body budget.
 */
class SlowAndFloodingClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY = 12_000_000, MAX_CONNECTIONS = 16;
    private static final Duration IDLE = Duration.ofSeconds(4), HEADER = Duration.ofMillis(1500);
    private static Model model;
    private static Scorer scorer;
    private static ScoreServer server;
    private static byte[] png;
    private static Prediction alone;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        model = Model.load(ScoreServerTest.MODEL);
        png = HostileClientTest.noisePng(11);
        alone = HostileClientTest.scoredAlone(model, png, dir);
        // One request in the scorer at a time, so that a test can fill it.
        scorer = Scorer.start(model, Scorer.Options.defaults().withMaxBatch(1, Duration.ZERO).withCapacity(1));
        server = ScoreServer.start("127.0.0.1", 0, scorer, model.spec(),
                new ScoreServer.Limits(MAX_BODY, 2L * MAX_BODY + 1_000_000, IDLE, HEADER, MAX_CONNECTIONS, 0, 0, Duration.ofSeconds(10)));
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    private static Reply postImage(byte[] body) throws IOException {
        try (Conn c = new Conn(server.port())) {
            return c.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + body.length), body).read();
        }
    }

    private static long metric(String name) throws IOException {
        String text;
        try (Conn c = new Conn(server.port())) {
            text = c.send(head("GET", "/metrics"), null).read().body();
        }
        return text.lines().filter(l -> l.startsWith(name + " ")).mapToLong(l -> Long.parseLong(l.split(" ")[1])).findFirst().orElseThrow();
    }

    private static void awaitMetric(String name, long value) throws Exception {
        long last = -1;
        for (int i = 0; i < 250 && (last = metric(name)) != value; i++) Thread.sleep(20);
        assertEquals(value, last, name);
    }

    /**
     * A byte every 200 ms never lets the 4 s idle timeout fire; the 1.5 s header timeout closes the connection.
     * A keep-alive connection that is merely silent for longer than the header timeout is left alone.
     */
    @Test
    void trickledHeadersAreClosedAfterTheHeaderTimeoutButSilentKeepAliveIsNot() throws Exception {
        long closedBefore = metric("snapscore_header_timeouts_total");
        try (Conn trickle = new Conn(server.port()); Conn keepAlive = new Conn(server.port())) {
            assertEquals(200, keepAlive.send(head("GET", "/healthz"), null).read().status());
            long keptAlive = System.nanoTime();
            byte[] request = head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + png.length, "X-Pad: " + "a".repeat(500))
                    .getBytes(StandardCharsets.ISO_8859_1);
            long start = System.nanoTime();
            CompletableFuture<Integer> sent = CompletableFuture.supplyAsync(() -> {
                int i = 0;
                try {
                    for (; i < request.length; i++) {
                        trickle.out.write(request[i]);
                        trickle.out.flush();
                        Thread.sleep(200);
                    }
                } catch (IOException | InterruptedException e) {
                    // closed by the server: what the test waits for
                }
                return i;
            });
            assertTrue(trickle.closedWithin(Duration.ofSeconds(10)), "a trickled header is closed");
            double seconds = (System.nanoTime() - start) / 1e9;
            int bytesSent = sent.get(10, TimeUnit.SECONDS);
            assertTrue(seconds >= HEADER.toMillis() / 1000.0 && seconds < 5, "closed after " + seconds + " s");
            assertTrue(bytesSent < request.length, "closed before the headers were complete (" + bytesSent + " bytes sent)");

            // Silent for longer than the header timeout and its sweeps, less than the idle timeout.
            long silent = (System.nanoTime() - keptAlive) / 1_000_000;
            if (silent < 2500) Thread.sleep(2500 - silent);
            Reply again = keepAlive.send(head("GET", "/healthz"), null).read();
            assertEquals(200, again.status(), "an idle keep-alive connection is still served");
        }
        assertEquals(closedBefore + 1, metric("snapscore_header_timeouts_total"));
        // Headers sent slowly but within the timeout are served.
        try (Conn slow = new Conn(server.port())) {
            for (String part : head("GET", "/healthz").split("(?<=\n)")) {
                slow.out.write(part.getBytes(StandardCharsets.ISO_8859_1));
                slow.out.flush();
                Thread.sleep(150);
            }
            assertEquals(200, slow.read().status());
        }
    }

    /** A raw image or a form that declares 10 MB and sends 1 KB is closed by the idle timeout, and its budget comes back. */
    @Test
    void stalledTenMegabyteUploadsAreClosedAfterTheIdleTimeout() throws Exception {
        int declared = 10_000_000;
        try (Conn raw = new Conn(server.port()); Conn form = new Conn(server.port())) {
            raw.send(head("POST", "/v1/score", "Content-Type: image/jpeg", "Content-Length: " + declared), new byte[1000]);
            form.send(head("POST", "/v1/score", "Content-Type: multipart/form-data; boundary=XyZ", "Content-Length: " + declared),
                    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            long start = System.nanoTime();
            awaitMetric("snapscore_body_bytes_in_flight", 2L * declared); // each holds its declared length, once
            for (Conn c : List.of(raw, form)) {
                Reply r = c.read();
                assertEquals(408, r.status(), r.body());
                assertEquals("close", r.header("Connection"));
                assertTrue(c.closedWithin(Duration.ofSeconds(5)), "a stalled 10 MB upload is closed");
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds < IDLE.toSeconds() + 3, "closed after " + seconds + " s");
        }
        awaitMetric("snapscore_body_bytes_in_flight", 0);
        assertEquals(200, postImage(png).status(), "serves normally after");
    }

    /**
     * Three times more stalled connections than the limit: the server never holds more than the limit (the rest
     * wait in the listen backlog, holding none of its file descriptors), closes the stalled ones by their
     * timeouts, and then answers a normal request.
     */
    @Test
    void connectionsBeyondTheLimitWaitAndTheServerRecovers() throws Exception {
        List<Conn> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 3 * MAX_CONNECTIONS; i++) {
                stalled.add(new Conn(server.port()).send("POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty", null));
            }
            CompletableFuture<Reply> normal = CompletableFuture.supplyAsync(() -> {
                try (Conn c = new Conn(server.port())) {
                    c.socket.setSoTimeout(30_000);
                    return c.send(head("GET", "/healthz"), null).read();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            int most = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!normal.isDone() && System.nanoTime() < deadline) {
                most = Math.max(most, server.openConnections());
                Thread.sleep(20);
            }
            System.out.printf("%d stalled connections against a limit of %d: at most %d open at once%n", stalled.size(), MAX_CONNECTIONS, most);
            assertTrue(most <= MAX_CONNECTIONS, "open connections reached " + most + " with a limit of " + MAX_CONNECTIONS);
            assertTrue(most >= MAX_CONNECTIONS / 2, "the flood reached the server: " + most);
            assertEquals(200, normal.get(1, TimeUnit.SECONDS).status(), "a normal request is answered once the stalled ones are closed");
        } finally {
            for (Conn c : stalled) c.close();
        }
    }

    /**
     * With the scorer full, an upload gets 503 + Retry-After as soon as its headers arrive: the client withholds
     * the body of its declared 10 MB and still has its answer at once.
     */
    @Test
    void aFullScorerAnswers503BeforeTheBody() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<ScoredPhoto> holding = scorer.submit(PhotoSource.reading("held", () -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return png;
        }));
        try {
            assertEquals(0, scorer.freeSlots());
            try (Conn c = new Conn(server.port())) {
                c.socket.setSoTimeout(2_000);
                long start = System.nanoTime();
                Reply r = c.send(head("POST", "/v1/score", "Content-Type: image/jpeg", "Content-Length: 10000000"), null).read();
                double ms = (System.nanoTime() - start) / 1e6;
                assertEquals(503, r.status(), r.body());
                assertEquals("1", r.header("Retry-After"));
                assertTrue(r.body().contains("scorer is at capacity"), r.body());
                assertTrue(ms < 2000, "answered after " + ms + " ms");
            }
        } finally {
            release.countDown();
        }
        assertEquals(alone.label(), holding.get(10, TimeUnit.SECONDS).prediction().label());
        Reply after = postImage(png);
        assertEquals(200, after.status(), after.body());
    }

    /** A form whose first part breaks a limit is refused while the rest of its declared 10 MB has not been sent. */
    @Test
    void aFormIsParsedAsItArrivesAndRefusedAtItsFirstBadPart() throws Exception {
        try (Conn c = new Conn(server.port())) {
            c.socket.setSoTimeout(5_000);
            String part = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nX-Pad: " + "a".repeat(10_000) + "\r\n\r\n";
            Reply r = c.send(head("POST", "/v1/score", "Content-Type: multipart/form-data; boundary=XyZ", "Content-Length: 10000000"),
                    part.getBytes(StandardCharsets.ISO_8859_1)).read();
            assertEquals(400, r.status(), r.body());
            assertTrue(r.body().contains("malformed multipart body"), r.body());
        }
        awaitMetric("snapscore_body_bytes_in_flight", 0);
    }

    /**
     * A chunked form (no Content-Length) holds in the budget exactly the bytes that have arrived, not a
     * multiple of them, and is scored once complete.
     */
    @Test
    void aChunkedFormHoldsOnlyTheBytesThatArrived() throws Exception {
        ByteArrayOutputStream form = new ByteArrayOutputStream();
        form.write(("--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n" + "c".repeat(300_000) + "\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        form.write("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        form.write(png);
        form.write("\r\n--XyZ--\r\n".getBytes(StandardCharsets.ISO_8859_1));
        byte[] body = form.toByteArray();
        int first = 200_000;
        try (Conn c = new Conn(server.port())) {
            c.send(head("POST", "/v1/score", "Content-Type: multipart/form-data; boundary=XyZ", "Transfer-Encoding: chunked"), null);
            sendChunk(c, Arrays.copyOfRange(body, 0, first));
            awaitMetric("snapscore_body_bytes_in_flight", first);
            sendChunk(c, Arrays.copyOfRange(body, first, body.length));
            c.send("0\r\n\r\n", null);
            Reply r = c.read();
            assertEquals(200, r.status(), r.body());
            JsonNode n = JSON.readTree(r.body());
            assertEquals(alone.label(), n.get("label").asText());
            assertEquals(alone.probability(), n.get("probability").floatValue(), 1e-5f);
        }
        awaitMetric("snapscore_body_bytes_in_flight", 0);
    }

    /** Chunked bodies have no declared length to refuse: they are refused with 413 once past the largest body. */
    @Test
    void chunkedBodiesPastTheLargestBodyGet413() throws Exception {
        for (String type : List.of("image/jpeg", "multipart/form-data; boundary=XyZ")) {
            try (Conn c = new Conn(server.port())) {
                c.send(head("POST", "/v1/score", "Content-Type: " + type, "Transfer-Encoding: chunked"), null);
                CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                    try {
                        byte[] mb = new byte[1_000_000];
                        Arrays.fill(mb, (byte) 'x');
                        for (int i = 0; i < MAX_BODY / mb.length + 2; i++) sendChunk(c, mb);
                        c.send("0\r\n\r\n", null);
                    } catch (IOException e) {
                        // the server answered and closed before reading it all
                    }
                });
                Reply r = c.read();
                assertEquals(413, r.status(), type + ": " + r.body());
                assertTrue(r.body().contains("exceeds the limit of " + MAX_BODY), r.body());
                sent.get(30, TimeUnit.SECONDS);
            }
        }
        awaitMetric("snapscore_body_bytes_in_flight", 0);
        assertEquals(200, postImage(png).status(), "serves normally after");
    }

    private static void sendChunk(Conn c, byte[] data) throws IOException {
        c.send(Integer.toHexString(data.length) + "\r\n", data);
        c.send("\r\n", null);
    }
}
