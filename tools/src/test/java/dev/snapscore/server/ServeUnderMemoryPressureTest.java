package dev.snapscore.server;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code snapscore serve} in its own JVM with a small heap: under 48 concurrent 19 MB uploads (912 MB,
 * which the old read-the-body-first server could not hold) /healthz keeps answering, every upload gets an
 * answer, and the server scores normally after; with the budget off, running out of heap exits non-zero.
 */
class ServeUnderMemoryPressureTest {

    @Test
    void manyLargeUploadsWithASmallHeapKeepTheServerAnswering() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process server = new ProcessBuilder(java.toString(), "-Xmx256m", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.snapscore.cli.SnapscoreCli",
                "serve", "--port", "0", "--model", ScoreServerTest.MODEL.toString()).redirectErrorStream(true).start();
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            int port = port(server);
            byte[] big = new byte[19_000_000];
            List<Future<Integer>> uploads = new ArrayList<>();
            for (int i = 0; i < 48; i++) {
                uploads.add(clients.submit(() -> {
                    try (HostileClientTest.Conn c = new HostileClientTest.Conn(port)) {
                        c.socket.setSoTimeout(60_000);
                        CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                            try {
                                c.send(HostileClientTest.head("POST", "/v1/score", "Content-Type: image/jpeg",
                                        "Content-Length: " + big.length), big);
                            } catch (IOException e) {
                                // refused early and closed: the answer is what counts
                            }
                        }, clients);
                        int status = c.read().status();
                        sent.join();
                        return status;
                    }
                }));
            }
            long worst = 0;
            while (!uploads.stream().allMatch(Future::isDone)) {
                long start = System.nanoTime();
                try (HostileClientTest.Conn c = new HostileClientTest.Conn(port)) {
                    c.socket.setSoTimeout(10_000);
                    assertEquals(200, c.send(HostileClientTest.head("GET", "/healthz"), null).read().status());
                }
                worst = Math.max(worst, System.nanoTime() - start);
                Thread.sleep(100);
            }
            int refused = 0, answered = 0;
            for (Future<Integer> f : uploads) {
                int status = f.get();
                assertTrue(status == 503 || status == 400, "a 19 MB non-image gets 400, or 503 beyond the budget: " + status);
                if (status == 503) refused++;
                else answered++;
            }
            System.out.printf("48 x 19 MB uploads, 256 MB heap: %d read and refused as not an image, %d refused with 503; slowest /healthz %.0f ms%n",
                    answered, refused, worst / 1e6);
            // The goal is < 1 s (674 ms measured); the bound leaves room for a test machine shared by other jobs
            // (1.2 s seen at load average 14 on 2 cores). The old server never answered again here.
            assertTrue(worst < 2_000_000_000L, "/healthz took " + worst / 1e6 + " ms");
            assertTrue(refused > 0, "the budget refuses some");
            byte[] photo = Files.readAllBytes(Path.of("..", "samples", "astronaut.png"));
            try (HostileClientTest.Conn c = new HostileClientTest.Conn(port)) {
                HostileClientTest.Reply r = c.send(HostileClientTest.head("POST", "/v1/score", "Content-Type: image/png",
                        "Content-Length: " + photo.length), photo).read();
                assertEquals(200, r.status(), r.body());
            }
            assertTrue(server.isAlive());
        } finally {
            server.destroy(); // SIGTERM: drains and exits
            assertTrue(server.waitFor(30, TimeUnit.SECONDS), "exits after SIGTERM");
            assertTrue(server.exitValue() == 0 || server.exitValue() == 143, "exit status after SIGTERM: " + server.exitValue());
        }
    }

    /**
     * With the budget switched off (larger than the heap), 24 concurrent 19 MB uploads exhaust a 128 MB heap:
     * the server must exit non-zero for its supervisor, not live on deaf. (Launched without the launcher's
     * {@code -XX:+ExitOnOutOfMemoryError}: this is the server's own handling.)
     */
    @Test
    void outOfMemoryExitsNonZeroInsteadOfLeavingADeafProcess() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process server = new ProcessBuilder(java.toString(), "-Xmx128m", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.snapscore.cli.SnapscoreCli", "serve", "--port", "0",
                "--model", ScoreServerTest.MODEL.toString(), "--body-budget-bytes", "100000000000").redirectErrorStream(true).start();
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            int port = port(server);
            byte[] big = new byte[19_000_000];
            for (int i = 0; i < 24; i++) {
                clients.submit(() -> {
                    try (HostileClientTest.Conn c = new HostileClientTest.Conn(port)) {
                        c.send(HostileClientTest.head("POST", "/v1/score", "Content-Type: image/jpeg", "Content-Length: " + big.length), big);
                        return c.read().status();
                    }
                });
            }
            assertTrue(server.waitFor(60, TimeUnit.SECONDS), "the server exits once out of memory");
            assertEquals(Fatal.EXIT_STATUS, server.exitValue());
            clients.shutdownNow();
        } finally {
            server.destroyForcibly();
        }
    }

    /** Reads the server's output until it says where it listens; keeps draining it after so the pipe never fills. */
    private static int port(Process server) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        Pattern serving = Pattern.compile("on http://127\\.0\\.0\\.1:(\\d+)/");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String line;
        while (System.nanoTime() < deadline && (line = out.readLine()) != null) {
            System.out.println("serve: " + line);
            Matcher m = serving.matcher(line);
            if (m.find()) {
                Thread.ofVirtual().start(() -> out.lines().forEach(l -> System.out.println("serve: " + l)));
                return Integer.parseInt(m.group(1));
            }
        }
        throw new IOException("serve did not say where it listens");
    }
}
