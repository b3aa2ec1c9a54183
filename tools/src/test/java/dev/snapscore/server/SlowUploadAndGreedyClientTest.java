package dev.snapscore.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.server.HostileClientTest.Conn;
import dev.snapscore.server.HostileClientTest.Reply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
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
import java.util.concurrent.TimeUnit;

import static dev.snapscore.server.HostileClientTest.head;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Uploads trickled too slowly for the minimum body rate but fast enough never to let the idle timeout fire,
 * uploads at an ordinary rate, and one address opening more connections than its limit: raw sockets on loopback.
 */
class SlowUploadAndGreedyClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY = 2_000_000, PER_ADDRESS = 4;
    /** 4000 bytes/s over 500 ms windows: each window must bring 2000 bytes. */
    private static final long MIN_RATE = 4000;
    private static final Duration WINDOW = Duration.ofMillis(500), IDLE = Duration.ofSeconds(10);
    private static Model model;
    private static ScoreServer server;
    private static byte[] png;
    private static Prediction alone;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        model = Model.load(ScoreServerTest.MODEL);
        png = HostileClientTest.noisePng(13);
        alone = HostileClientTest.scoredAlone(model, png, dir);
        server = ScoreServer.start("127.0.0.1", 0, Scorer.start(model, Scorer.Options.defaults()), model.spec(),
                new ScoreServer.Limits(MAX_BODY, 3L * MAX_BODY, IDLE, Duration.ofSeconds(5), 32, PER_ADDRESS, MIN_RATE, WINDOW));
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    /** Each test starts with no connection open: the server sees earlier tests' closes late, and the per-address limit is small. */
    @BeforeEach
    void earlierConnectionsAreGone() throws InterruptedException {
        for (int i = 0; i < 250 && server.openConnections() > 0; i++) Thread.sleep(20);
    }

    private static long metric(Conn c, String name) throws IOException {
        String text = c.send(head("GET", "/metrics"), null).read().body();
        return text.lines().filter(l -> l.startsWith(name + " ")).mapToLong(l -> Long.parseLong(l.split(" ")[1])).findFirst().orElseThrow();
    }

    private static long metric(String name) throws IOException {
        try (Conn c = new Conn(server.port())) {
            return metric(c, name);
        }
    }

    /** Sends {@code body} in pieces of {@code piece} bytes every {@code everyMs}, until done or the server closes. */
    private static CompletableFuture<Integer> trickle(Conn c, byte[] body, int piece, long everyMs) {
        return CompletableFuture.supplyAsync(() -> {
            int at = 0;
            try {
                while (at < body.length) {
                    int n = Math.min(piece, body.length - at);
                    c.out.write(body, at, n);
                    c.out.flush();
                    at += n;
                    Thread.sleep(everyMs);
                }
            } catch (IOException | InterruptedException e) {
                // closed by the server
            }
            return at;
        });
    }

    private static byte[] form(byte[] file, int fieldBytes) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(("--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n" + "c".repeat(fieldBytes) + "\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        b.write("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        b.write(file);
        b.write("\r\n--XyZ--\r\n".getBytes(StandardCharsets.ISO_8859_1));
        return b.toByteArray();
    }

    /**
     * 100 bytes every 100 ms (1000 bytes/s, a quarter of the minimum) never leaves the connection idle for the
     * 10 s idle timeout; the rate check answers 408 after its first 500 ms window, for a raw body and a form
     * alike, and gives their budget back.
     */
    @Test
    void aBodyTrickledBelowTheMinimumRateGets408WithinAWindow() throws Exception {
        long slowBefore = metric("snapscore_slow_bodies_total");
        byte[] raw = new byte[100_000], multipart = form(new byte[100_000], 10);
        Arrays.fill(raw, (byte) 7);
        try (Conn a = new Conn(server.port()); Conn b = new Conn(server.port())) {
            long start = System.nanoTime();
            a.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + raw.length), null);
            b.send(head("POST", "/v1/score", "Content-Type: multipart/form-data; boundary=XyZ", "Content-Length: " + multipart.length), null);
            List<CompletableFuture<Integer>> sent = List.of(trickle(a, raw, 100, 100), trickle(b, multipart, 100, 100));
            for (Conn c : List.of(a, b)) {
                Reply r = c.read();
                double seconds = (System.nanoTime() - start) / 1e9;
                assertEquals(408, r.status(), r.body());
                assertTrue(r.body().contains("more slowly than the minimum of 4000 bytes/s over 500 ms"), r.body());
                assertEquals("close", r.header("Connection"));
                assertTrue(seconds >= 0.45 && seconds < 3, "answered after " + seconds + " s");
                assertTrue(c.closedWithin(Duration.ofSeconds(3)), "closed after the 408");
            }
            for (CompletableFuture<Integer> s : sent) assertTrue(s.get(5, TimeUnit.SECONDS) < 20_000, "sent " + s.get() + " bytes");
        }
        assertEquals(slowBefore + 2, metric("snapscore_slow_bodies_total"));
        assertEquals(0, metric("snapscore_body_bytes_in_flight"), "their budget is back");
    }

    /**
     * A body refused at once (413: its declared length is over the limit) is still read and dropped for a while,
     * so that a client sending it whole sees the answer; trickled, that reading stops at the minimum rate too,
     * not at the 10 s idle timeout.
     */
    @Test
    void theRestOfARefusedBodyIsDroppedAtTheMinimumRateToo() throws Exception {
        try (Conn c = new Conn(server.port())) {
            long start = System.nanoTime();
            c.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + (MAX_BODY + 1)), null);
            CompletableFuture<Integer> sent = trickle(c, new byte[MAX_BODY + 1], 100, 100);
            Reply r = c.read();
            assertEquals(413, r.status(), r.body());
            assertTrue(c.closedWithin(Duration.ofSeconds(4)), "closed while the rest trickles in");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds < IDLE.toSeconds() / 2.0, "closed after " + seconds + " s");
            assertTrue(sent.get(5, TimeUnit.SECONDS) < 20_000, "sent " + sent.get() + " bytes");
        }
    }

    /**
     * A form of about 60 KB sent at 16 KB/s (four times the minimum) over some seven windows, and an image sent
     * at once, are scored as usual.
     */
    @Test
    void bodiesAtAnOrdinaryRateAreServed() throws Exception {
        byte[] multipart = form(png, 50_000);
        try (Conn c = new Conn(server.port())) {
            long start = System.nanoTime();
            c.send(head("POST", "/v1/score", "Content-Type: multipart/form-data; boundary=XyZ", "Content-Length: " + multipart.length), null);
            CompletableFuture<Integer> sent = trickle(c, multipart, 2000, 125);
            Reply r = c.read();
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(200, r.status(), r.body());
            assertEquals(multipart.length, sent.get(5, TimeUnit.SECONDS));
            assertTrue(seconds > 3 * WINDOW.toMillis() / 1000.0, "the upload spanned several windows: " + seconds + " s");
            JsonNode n = JSON.readTree(r.body());
            assertEquals(alone.label(), n.get("label").asText());
            assertEquals(alone.probability(), n.get("probability").floatValue(), 1e-5f);
        }
        try (Conn c = new Conn(server.port())) {
            Reply r = c.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + png.length), png).read();
            assertEquals(200, r.status(), r.body());
            assertEquals(alone.label(), JSON.readTree(r.body()).get("label").asText());
        }
    }

    /**
     * All connections come from 127.0.0.1: with a limit of 4, a fifth is closed as soon as it opens while the
     * first four are still served, and once one of them closes a new one is accepted.
     */
    @Test
    void oneAddressCannotHoldMoreThanItsLimit() throws Exception {
        assertEquals(0, server.openConnections());
        List<Conn> held = new ArrayList<>();
        try {
            for (int i = 0; i < PER_ADDRESS; i++) {
                Conn c = new Conn(server.port());
                held.add(c);
                assertEquals(200, c.send(head("GET", "/healthz"), null).read().status());
            }
            long refusedBefore = metric(held.getFirst(), "snapscore_connections_refused_per_address_total");
            try (Conn extra = new Conn(server.port())) {
                assertTrue(extra.closedWithin(Duration.ofSeconds(3)), "the fifth connection is closed");
            }
            for (Conn c : held) assertEquals(200, c.send(head("GET", "/healthz"), null).read().status(), "the first four still work");
            assertEquals(refusedBefore + 1, metric(held.getFirst(), "snapscore_connections_refused_per_address_total"));

            held.removeLast().close();
            Reply again = null;
            for (int i = 0; i < 100 && again == null; i++) {
                try (Conn c = new Conn(server.port())) {
                    again = c.send(head("GET", "/healthz"), null).read();
                } catch (IOException e) {
                    Thread.sleep(20); // the server has not seen the close yet
                }
            }
            assertEquals(200, again == null ? -1 : again.status(), "a connection is accepted once one of the four is closed");
        } finally {
            for (Conn c : held) c.close();
        }
    }
}
