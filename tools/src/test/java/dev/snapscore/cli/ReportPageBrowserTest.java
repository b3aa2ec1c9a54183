package dev.snapscore.cli;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_COUNTERCLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.rotate;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The contact sheet in a real headless Chromium (Debian's chromium + chromium-driver, as the upload page's test):
 * the samples and generated photos scored with cleaning, then checked on the page (order by score and by a label,
 * the rejected section and its face boxes, errors, a placeholder, the filter, the full photo), with a screenshot;
 * and a 5,000-row report that must not load every thumbnail at once.
 */
class ReportPageBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium"), DRIVER = Path.of("/usr/bin/chromedriver");
    private static final String MODEL = Path.of("..", "models", "vgg-mini").toString();
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path tmp;
    private static ChromeDriver browser;

    @BeforeAll
    static void startBrowser() throws IOException {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
                "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1000,900", "--user-data-dir=" + Files.createTempDirectory("snapscore-chromium"));
        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).build(), options);
    }

    @AfterAll
    static void quit() {
        if (browser != null) browser.quit();
    }

    @Test
    void theSheetOfScoredPhotos() throws Exception {
        Path photos = Files.createDirectories(tmp.resolve("photos"));
        for (String s : List.of("astronaut.png", "chelsea.png", "coffee.png")) Files.copy(PhotoFolders.SAMPLES.resolve(s), photos.resolve(s));
        try (Photo astronaut = ImageDecoder.withDefaults().read(PhotoFolders.SAMPLES.resolve("astronaut.png"), DecodeOptions.EXACT, null, null);
             FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT); Mat turned = new Mat()) {
            // Selfies: crops around the face (which then covers over 15% of them), shifted so each scores differently.
            var face = detector.detect(astronaut);
            for (int i = 0; i < 5; i++) {
                int x = Math.max(0, face.largestX() + face.largestWidth() / 2 - 120 + 12 * (i - 2)), y = Math.max(0, face.largestY() - 40 + 6 * i);
                try (Rect r = new Rect(x, y, 240, 240); Mat crop = new Mat(astronaut.bgr(), r); Mat big = new Mat(); Size size = new Size(360, 480)) {
                    resize(crop, big, size, 0, 0, INTER_CUBIC);
                    Files.write(photos.resolve("selfie-" + i + ".jpg"), ReportCommandTest.jpeg(big));
                }
            }
            rotate(astronaut.bgr(), turned, ROTATE_90_COUNTERCLOCKWISE);
            Files.write(photos.resolve("turned.jpg"), ReportCommandTest.withOrientation(ReportCommandTest.jpeg(turned), 6));
        }
        PhotoFolders.noise(photos.resolve("noise-1.jpg"), 200, 150, 1, BufferedImage.TYPE_INT_RGB);
        PhotoFolders.noise(photos.resolve("noise-2.png"), 120, 160, 2, BufferedImage.TYPE_INT_RGB);
        Files.write(photos.resolve("empty.jpg"), new byte[0]);
        Files.writeString(photos.resolve("notimage.jpg"), "definitely not a photo\n");
        Files.copy(photos.resolve("selfie-0.jpg"), photos.resolve("gone.jpg"));

        Path scores = tmp.resolve("scores.csv"), page = tmp.resolve("sheet/gallery.html");
        CliRun scored = CliRun.run("score", "--model", MODEL, "--clean", "--all-faces", "--min-face-fraction", "0.055", "--batch", "4",
                "--out", scores.toString(), photos.toString());
        assertEquals(SnapscoreCli.SOME_ERRORS, scored.code(), scored.err());
        Files.delete(photos.resolve("gone.jpg")); // scored, then moved away: a placeholder on the page
        CliRun report = CliRun.run("report", scores.toString(), "--out", page.toString());
        assertEquals(SnapscoreCli.OK, report.code(), report.err());

        List<CSVRecord> rows = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build()
                .parse(new StringReader(Files.readString(scores))).getRecords();
        Map<String, List<CSVRecord>> byStatus = rows.stream().collect(Collectors.groupingBy(r -> r.get("status")));
        assertTrue(byStatus.get("ok").size() >= 5, "the selfies and the cat are kept: " + byStatus.get("ok"));
        assertEquals(2, byStatus.get("error").size());

        browser.get(page.toUri().toString());
        // Ordered by expected score, highest first.
        List<String> expected = byStatus.get("ok").stream()
                .sorted(Comparator.comparingDouble((CSVRecord r) -> -Double.parseDouble(r.get("expected_score")))).map(r -> r.get("file")).toList();
        assertEquals(expected, files("#ok-grid .card"));
        // By a label's probability, chosen on the page.
        new Select(browser.findElement(By.id("sort"))).selectByValue("p_3");
        assertEquals(byStatus.get("ok").stream().sorted(Comparator.comparingDouble((CSVRecord r) -> -Double.parseDouble(r.get("p_3"))))
                .map(r -> r.get("file")).toList(), files("#ok-grid .card"));
        new Select(browser.findElement(By.id("sort"))).selectByValue("score");
        assertEquals(expected, files("#ok-grid .card"));

        // Rejected by cleaning, each with its largest face outlined where the rows put it.
        assertEquals(byStatus.get("rejected").stream().map(r -> r.get("file")).collect(Collectors.toSet()), Set.copyOf(files("#rejected-grid .card")));
        for (String name : List.of("astronaut.png", "turned.jpg")) {
            CSVRecord row = rows.stream().filter(r -> r.get("file").endsWith("/" + name)).findFirst().orElseThrow();
            assertEquals("rejected", row.get("status"));
            @SuppressWarnings("unchecked")
            Map<String, Object> drawn = (Map<String, Object>) browser.executeAsyncScript("""
                    const done = arguments[arguments.length - 1];
                    const card = [...document.querySelectorAll('#rejected-grid .card')].find(c => c.dataset.file.endsWith('/' + arguments[0]));
                    card.scrollIntoView();
                    const img = card.querySelector('img'), box = card.querySelector('.face-box');
                    const measure = () => {
                      if (!img.complete || !img.naturalWidth) return setTimeout(measure, 50);
                      const i = img.getBoundingClientRect(), b = box.getBoundingClientRect();
                      done({ x: (b.left - i.left) / i.width, y: (b.top - i.top) / i.height, w: b.width / i.width, h: b.height / i.height,
                             natural: img.naturalWidth });
                    };
                    measure();""", name);
            // The photo is 512 x 512 upright; the box is drawn in CSS pixels of a 180 px image: within 1.5 px.
            double px = 1.5 / 180;
            assertEquals(Integer.parseInt(row.get("face_x")) / 512.0, ((Number) drawn.get("x")).doubleValue(), px, name + " " + drawn);
            assertEquals(Integer.parseInt(row.get("face_y")) / 512.0, ((Number) drawn.get("y")).doubleValue(), px, name + " " + drawn);
            assertEquals(Integer.parseInt(row.get("face_w")) / 512.0, ((Number) drawn.get("w")).doubleValue(), px, name + " " + drawn);
            assertEquals(Integer.parseInt(row.get("face_h")) / 512.0, ((Number) drawn.get("h")).doubleValue(), px, name + " " + drawn);
            assertEquals(256L, drawn.get("natural"), "the thumbnail loaded");
        }

        // Error rows with their reasons; the photo that went away is a placeholder, counted in the summary.
        List<String> reasons = browser.findElements(By.cssSelector("#error-table tbody td.reason")).stream().map(WebElement::getText).toList();
        assertEquals(2, reasons.size());
        assertTrue(reasons.stream().anyMatch(r -> r.endsWith("empty.jpg: empty file")), reasons.toString());
        assertTrue(reasons.stream().anyMatch(r -> r.contains("notimage.jpg: not a recognised image")), reasons.toString());
        assertEquals(1, browser.findElements(By.cssSelector(".placeholder")).size());
        assertTrue(browser.findElement(By.id("summary")).getText().contains("1 photo could not be read for a thumbnail"), browser.findElement(By.id("summary")).getText());
        assertTrue(browser.findElement(By.cssSelector(".placeholder")).getAttribute("title").endsWith("gone.jpg: no such file"));

        // The filter by file name.
        browser.findElement(By.id("filter")).sendKeys("selfie");
        List<String> shown = browser.findElements(By.cssSelector(".card:not([hidden])")).stream().map(c -> c.getAttribute("data-file")).toList();
        assertEquals(rows.stream().map(r -> r.get("file")).filter(f -> f.contains("selfie")).sorted().toList(),
                shown.stream().sorted().toList());
        browser.findElement(By.id("filter")).clear();
        browser.executeScript("document.getElementById('filter').dispatchEvent(new Event('input'))");
        assertEquals(rows.size() - 2, browser.findElements(By.cssSelector(".card:not([hidden])")).size());

        browser.executeScript("window.scrollTo(0, 0)");
        Path shot = Path.of("target", "report-page.png");
        Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));

        // Click: the full photo, upright (the turned one is 512 x 512 either way, so use a selfie: 360 x 480).
        WebElement top = browser.findElement(By.cssSelector("#ok-grid .card a.frame"));
        String topFile = top.findElement(By.xpath("./ancestor::figure")).getAttribute("data-file");
        top.click();
        new WebDriverWait(browser, WAIT).until(d -> browser.findElement(By.id("lightbox")).isDisplayed()
                && ((Number) browser.executeScript("return document.getElementById('lb-img').naturalWidth")).intValue() > 0);
        try (Photo p = ImageDecoder.withDefaults().read(Path.of(topFile), DecodeOptions.EXACT, null, null)) {
            assertEquals(p.width(), ((Number) browser.executeScript("return document.getElementById('lb-img').naturalWidth")).intValue());
        }
        System.out.println("screenshot: " + shot.toAbsolutePath() + "; " + expected.size() + " scored, "
                + byStatus.get("rejected").size() + " rejected");
    }

    @Test
    void fiveThousandRowsLoadOnlyTheThumbnailsInView() throws Exception {
        Path photos = Files.createDirectories(tmp.resolve("many"));
        Path one = tmp.resolve("one.jpg");
        PhotoFolders.noise(one, 64, 48, 7, BufferedImage.TYPE_INT_RGB);
        byte[] bytes = Files.readAllBytes(one);
        StringBuilder csv = new StringBuilder("file,status,label,probability,p_low,p_mid,p_high,expected_score,face_fraction,error\n");
        Random random = new Random(42);
        int n = 5000;
        for (int i = 0; i < n; i++) {
            Path photo = photos.resolve(String.format(Locale.ROOT, "photo-%04d.jpg", i));
            Files.write(photo, bytes);
            double a = random.nextDouble(), b = random.nextDouble(), c = random.nextDouble(), sum = a + b + c;
            double[] p = {a / sum, b / sum, c / sum};
            int best = p[0] >= p[1] && p[0] >= p[2] ? 0 : p[1] >= p[2] ? 1 : 2;
            csv.append(String.format(Locale.ROOT, "%s,ok,%s,%s,%s,%s,%s,%s,,%n", photo, List.of("low", "mid", "high").get(best),
                    (float) p[best], (float) p[0], (float) p[1], (float) p[2], p[1] + 2 * p[2]));
        }
        Path scores = Files.writeString(tmp.resolve("many.csv"), csv), page = tmp.resolve("many/gallery.html");
        long start = System.nanoTime();
        CliRun report = CliRun.run("report", scores.toString(), "--out", page.toString());
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(SnapscoreCli.OK, report.code(), report.err());

        start = System.nanoTime();
        browser.get(page.toUri().toString());
        double open = (System.nanoTime() - start) / 1e9;
        assertEquals(n, ((Number) browser.executeScript("return document.querySelectorAll('#ok-grid img').length")).intValue());
        int atTop = settledLoads();
        assertTrue(atTop > 0 && atTop < n / 10, atTop + " of " + n + " thumbnails loaded on opening");
        // Jump down the page: what comes into view loads, what was skipped does not.
        for (double at : new double[] {0.5, 1.0}) {
            browser.executeScript("window.scrollTo(0, arguments[0] * (document.body.scrollHeight - innerHeight))", at);
            settledLoads();
        }
        long lastLoaded = (Long) browser.executeScript("const i = [...document.querySelectorAll('#ok-grid img')].pop(); return i.naturalWidth");
        assertEquals(64L, lastLoaded, "the last card, now in view, has its thumbnail");
        int afterScrolling = settledLoads();
        assertTrue(afterScrolling < n / 4, afterScrolling + " of " + n + " thumbnails loaded after jumping to the middle and the end");
        Number ready = (Number) browser.executeScript("return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd");
        System.out.printf(Locale.ROOT, "%d rows: report %.1f s (page %d KB); page built in %.0f ms (DOMContentLoaded), get() %.1f s; "
                + "thumbnails loaded: %d at the top, %d after jumping to the middle and the end%n",
                n, seconds, Files.size(page) / 1024, ready.doubleValue(), open, atTop, afterScrolling);
    }

    /** Thumbnails loaded so far, once the count has stopped growing. */
    private static int settledLoads() throws InterruptedException {
        int last = -1, now = loaded();
        while (now != last) {
            Thread.sleep(400);
            last = now;
            now = loaded();
        }
        return now;
    }

    private static int loaded() {
        return ((Number) browser.executeScript("return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length")).intValue();
    }

    private static List<String> files(String cards) {
        return new ArrayList<>(browser.findElements(By.cssSelector(cards)).stream().map(c -> c.getAttribute("data-file")).toList());
    }
}
