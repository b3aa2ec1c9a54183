package dev.snapscore.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.serving.Scorer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server as a hostile or careless client meets it, over raw sockets on loopback: loose routes, big
 * headers, forms with a field before the file, long boundaries, stalled uploads, uploads beyond the body
 * budget, keep-alive clients during shutdown, a model that outputs NaN.
 */
class HostileClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY = 5_000_000;
    private static Model model;
    private static ScoreServer server;
    private static byte[] png;
    private static Prediction alone;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        model = Model.load(ScoreServerTest.MODEL);
        png = noisePng(7);
        alone = scoredAlone(model, png, dir);
        // Room for two largest bodies at once; a 2 s idle timeout.
        server = ScoreServer.start("127.0.0.1", 0, Scorer.start(model, Scorer.Options.defaults()), model.spec(),
                new ScoreServer.Limits(MAX_BODY, 2L * MAX_BODY + 100_000, Duration.ofSeconds(2), Duration.ofSeconds(2), 64, 0, 0, Duration.ofSeconds(10)));
    }

    /** What the model answers for {@code png} scored on its own, outside the server: the reference for its answers. */
    static Prediction scoredAlone(Model model, byte[] png, Path dir) throws java.io.IOException {
        try (Session s = model.newSession()) {
            return s.score(List.of(Files.write(dir.resolve("p.png"), png))).getFirst();
        }
    }

    /** A 64×48 PNG of random pixels, the same for a seed: a photo with no face and no flat areas. */
    static byte[] noisePng(long seed) throws java.io.IOException {
        BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(seed);
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) img.setRGB(x, y, r.nextInt());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    /** A parsed HTTP/1.1 response; {@code closed}: the server closed the connection after it. */
    record Reply(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /** One client connection, with a read timeout so that a test never waits without bound. */
    static final class Conn implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Conn(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(10_000);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        Conn send(String head, byte[] body) throws IOException {
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            if (body != null) out.write(body);
            out.flush();
            return this;
        }

        Reply read() throws IOException {
            String status = line();
            Map<String, String> headers = new HashMap<>();
            String l;
            while (!(l = line()).isEmpty()) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
            int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
            return new Reply(Integer.parseInt(status.split(" ")[1]), headers, body);
        }

        /** True if the server closes the connection within {@code timeout} (end of stream or reset). */
        boolean closedWithin(Duration timeout) throws IOException {
            socket.setSoTimeout((int) timeout.toMillis());
            try {
                while (in.read() >= 0) {
                    // an error answer before the close is fine
                }
                return true;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true; // reset
            }
        }

        private String line() throws IOException {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) throw new IOException("connection closed after '" + b + "'");
                if (c != '\r') b.append((char) c);
            }
            return b.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static String head(String method, String path, String... headers) {
        StringBuilder b = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (String h : headers) b.append(h).append("\r\n");
        return b.append("\r\n").toString();
    }

    static Reply exchange(String head, byte[] body) throws IOException {
        try (Conn c = new Conn(server.port())) {
            return c.send(head, body).read();
        }
    }

    static Reply postImage(String path, byte[] body) throws IOException {
        return exchange(head("POST", path, "Content-Type: image/png", "Content-Length: " + body.length), body);
    }

    @Test
    void routesAreExactAndWrongMethodsGet405WithAllow() throws IOException {
        for (String method : List.of("POST", "DELETE", "PUT")) {
            Reply r = exchange(head(method, "/", "Content-Length: 0"), null);
            assertEquals(405, r.status(), method + " /");
            assertEquals("GET, HEAD", r.header("Allow"));
        }
        Reply health = exchange(head("POST", "/healthz", "Content-Length: 0"), null);
        assertEquals(405, health.status());
        assertEquals("GET, HEAD", health.header("Allow"));
        assertEquals(405, exchange(head("DELETE", "/metrics"), null).status());
        Reply score = exchange(head("GET", "/v1/score"), null);
        assertEquals(405, score.status());
        assertEquals("POST", score.header("Allow"));
        assertEquals(404, exchange(head("GET", "/healthzXYZ"), null).status());
        assertEquals(404, exchange(head("GET", "/metrics/"), null).status());
        assertEquals(404, postImage("/v1/scorefoo", png).status(), "a prefix of a route is not the route");
        assertEquals(200, exchange(head("GET", "/healthz"), null).status());
        assertEquals(200, postImage("/v1/score", png).status());
    }

    @Test
    void errorsDoNotEchoTheRequestAndOversizedHeadersGet431And414() throws Exception {
        String marker = "ECHO" + "x".repeat(2000);
        Reply notFound = exchange(head("GET", "/" + marker), null);
        assertEquals(404, notFound.status());
        assertFalse(notFound.body().contains("ECHOxxx"), notFound.body());
        assertEquals("application/json", notFound.header("Content-Type"));

        String longUrl = "/" + "ECHO".repeat(25_000); // 100 KB
        Reply uri = readWhileSending(head("GET", longUrl));
        assertEquals(414, uri.status(), uri.body());
        assertFalse(uri.body().contains("ECHOECHO"), uri.body());

        String bigHeader = "X-Big: " + "ECHO".repeat(256 * 1024); // 1 MB
        Reply header = readWhileSending(head("GET", "/healthz", bigHeader));
        assertEquals(431, header.status(), header.body());
        assertFalse(header.body().contains("ECHOECHO"), header.body());
        assertEquals(200, exchange(head("GET", "/healthz"), null).status(), "serves normally after");
    }

    /** Sends on another thread while reading the answer, so that an early answer is seen before the server's close. */
    private static Reply readWhileSending(String request) throws Exception {
        try (Conn c = new Conn(server.port())) {
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    c.send(request, null);
                } catch (IOException e) {
                    // the server answered and closed before reading it all: expected
                }
            });
            Reply r = c.read();
            sent.exceptionally(e -> null).get();
            return r;
        }
    }

    private static byte[] form(String boundary, byte[] file, boolean fieldFirst) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        if (fieldFirst) {
            b.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n").getBytes(StandardCharsets.ISO_8859_1));
        }
        b.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
                + "Content-Type: image/png\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        b.write(file);
        b.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.ISO_8859_1));
        return b.toByteArray();
    }

    private static Reply postForm(String contentType, byte[] body) throws IOException {
        return exchange(head("POST", "/v1/score", "Content-Type: " + contentType, "Content-Length: " + body.length), body);
    }

    @Test
    void aFormWithATextFieldBeforeTheFileIsScored() throws IOException {
        Reply r = postForm("multipart/form-data; boundary=XyZ123", form("XyZ123", png, true));
        assertEquals(200, r.status(), r.body());
        JsonNode n = JSON.readTree(r.body());
        assertEquals(alone.label(), n.get("label").asText());
        assertEquals(alone.probability(), n.get("probability").floatValue(), 1e-5f);
    }

    @Test
    void malformedMultipartGets400AndLongBoundariesCostNothing() throws IOException {
        Reply garbage = postForm("multipart/form-data; boundary=abc", "no parts here at all".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(400, garbage.status(), garbage.body());
        assertTrue(JSON.readTree(garbage.body()).get("error").asText().contains("multipart"), garbage.body());
        Reply noBoundary = postForm("multipart/form-data", form("abc", png, false));
        assertEquals(400, noBoundary.status(), noBoundary.body());
        Reply noFile = postForm("multipart/form-data; boundary=abc",
                ("--abc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--abc\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--abc--\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(400, noFile.status(), noFile.body());

        String boundary = "b".repeat(10_000);
        byte[] body = new byte[4_000_000];
        java.util.Arrays.fill(body, (byte) 'b');
        long start = System.nanoTime();
        Reply longBoundary = postForm("multipart/form-data; boundary=" + boundary, body);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(400, longBoundary.status(), longBoundary.body());
        assertTrue(seconds < 3, "a 10,000-character boundary took " + seconds + " s");
    }

    @Test
    void stalledUploadsAndTrickledHeadersAreClosedAfterTheIdleTimeout() throws IOException {
        try (Conn upload = new Conn(server.port()); Conn header = new Conn(server.port())) {
            upload.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: 1000000"), new byte[100]);
            header.send("POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty", null);
            assertTrue(upload.closedWithin(Duration.ofSeconds(8)), "a stalled upload is closed (idle timeout 2 s)");
            assertTrue(header.closedWithin(Duration.ofSeconds(8)), "a stalled header is closed (idle timeout 2 s)");
        }
        assertEquals(200, postImage("/v1/score", png).status(), "serves normally after");
    }

    /** Two stalled largest uploads hold the whole budget: a third is refused with 503 before it sends a byte of body. */
    @Test
    void uploadsBeyondTheBodyBudgetGet503BeforeTheirBody() throws Exception {
        try (Conn a = new Conn(server.port()); Conn b = new Conn(server.port())) {
            for (Conn c : List.of(a, b)) {
                c.send(head("POST", "/v1/score", "Content-Type: image/jpeg", "Content-Length: " + MAX_BODY), new byte[1000]);
            }
            // Until both stalled uploads are admitted and reserved (a probe sent before would be admitted and wait for its body).
            for (int i = 0; i < 500 && metric("snapscore_body_bytes_in_flight") < 2L * MAX_BODY; i++) Thread.sleep(10);
            Reply refused;
            try (Conn c = new Conn(server.port())) {
                c.socket.setSoTimeout(1500);
                refused = c.send(head("POST", "/v1/score", "Content-Type: image/jpeg", "Content-Length: 1000000"), null).read();
            }
            assertEquals(503, refused.status(), refused.body());
            assertEquals("1", refused.header("Retry-After"));
            assertTrue(refused.body().contains("too many uploads in flight"), refused.body());
            assertTrue(metric("snapscore_body_bytes_in_flight") >= 2L * MAX_BODY);
        }
        // The stalled uploads went away: their budget comes back.
        int status = 0;
        for (int i = 0; i < 200 && (status = postImage("/v1/score", png).status()) != 200; i++) Thread.sleep(20);
        assertEquals(200, status);
        for (int i = 0; i < 200 && metric("snapscore_body_bytes_in_flight") != 0; i++) Thread.sleep(20);
        assertEquals(0, metric("snapscore_body_bytes_in_flight"));
    }

    private static long metric(String name) throws IOException {
        String text = exchange(head("GET", "/metrics"), null).body();
        return text.lines().filter(l -> l.startsWith(name + " ")).mapToLong(l -> Long.parseLong(l.split(" ")[1])).findFirst().orElseThrow();
    }

    /**
     * SIGTERM's path: once stop begins, the listener is closed, a request on an open keep-alive connection
     * gets 503 with Connection: close, /healthz is not ready, and a request accepted before (an upload
     * still arriving) is answered in full.
     */
    @Test
    void stopClosesTheListenerRefusesKeepAliveRequestsAndAnswersAcceptedOnes() throws Exception {
        Model m = Model.load(ScoreServerTest.MODEL);
        ScoreServer s = ScoreServer.start("127.0.0.1", 0, Scorer.start(m, Scorer.Options.defaults()), m.spec(), MAX_BODY);
        try (Conn keepAlive = new Conn(s.port()); Conn accepted = new Conn(s.port())) {
            assertEquals(200, keepAlive.send(head("GET", "/healthz"), null).read().status());
            accepted.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + png.length), java.util.Arrays.copyOf(png, 10));
            Thread.sleep(200); // the upload is admitted and its handler waits for the rest
            CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> s.stop(20));
            long deadline = System.nanoTime() + 10_000_000_000L;
            boolean listening = true;
            while (listening && System.nanoTime() < deadline) {
                try (Socket probe = new Socket("127.0.0.1", s.port())) {
                    Thread.sleep(10);
                } catch (IOException e) {
                    listening = false;
                }
            }
            assertFalse(listening, "the listener is closed once stop begins");
            Reply late = keepAlive.send(head("GET", "/healthz"), null).read();
            assertEquals(503, late.status(), late.body());
            assertEquals("close", late.header("Connection"));
            assertTrue(keepAlive.closedWithin(Duration.ofSeconds(5)), "the keep-alive connection is closed after the 503");
            assertFalse(stopped.isDone(), "stop waits for the accepted upload");

            accepted.out.write(png, 10, png.length - 10);
            accepted.out.flush();
            Reply answered = accepted.read();
            assertEquals(200, answered.status(), answered.body());
            assertEquals(alone.label(), JSON.readTree(answered.body()).get("label").asText());
            stopped.get(20, java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            m.close();
        }
    }

    /** A model whose last bias is NaN: the answer is a 500 naming the model, never 200 with "NaN". */
    @Test
    void nonFiniteOutputsAre500NamingTheModel(@TempDir Path dir) throws Exception {
        Path broken = PoisonedModel.copyWithNaN(ScoreServerTest.MODEL, "classifier.12.bias", dir);
        try (Model m = Model.load(broken);
             ScoreServer s = ScoreServer.start("127.0.0.1", 0, Scorer.start(m, Scorer.Options.defaults()), m.spec(), MAX_BODY);
             Conn c = new Conn(s.port())) {
            Reply r = c.send(head("POST", "/v1/score", "Content-Type: image/png", "Content-Length: " + png.length), png).read();
            assertEquals(500, r.status(), r.body());
            JsonNode n = JSON.readTree(r.body());
            assertTrue(n.get("error").asText().contains("model vgg-mini produced a non-finite output (NaN)"), r.body());
            assertFalse(n.has("probability"), r.body());
        }
    }
}
