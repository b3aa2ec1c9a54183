package dev.snapscore.server;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.serving.Scorer;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The page at / in a real headless Chromium (Debian's chromium + chromium-driver; .ci/run installs them):
 * upload a photo, read the score off the page, check the face box was drawn, keep a screenshot.
 */
class UploadPageBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium"), DRIVER = Path.of("/usr/bin/chromedriver");

    @Test
    void uploadingAPhotoShowsItsScoreBarsAndFaceBox() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
                "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1000,900", "--user-data-dir=" + Files.createTempDirectory("snapscore-chromium"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).build();
        try (Model m = Model.load(ScoreServerTest.MODEL);
             ScoreServer server = ScoreServer.start("127.0.0.1", 0,
                     Scorer.start(m, Scorer.Options.defaults().withDetector(FaceDetector.Settings.STUDY)), m.spec(), 5_000_000)) {
            ChromeDriver browser = new ChromeDriver(service, options);
            try {
                browser.get("http://127.0.0.1:" + server.port() + "/");
                File photo = Path.of("..", "samples", "astronaut.png").toAbsolutePath().normalize().toFile();
                browser.findElement(By.id("file")).sendKeys(photo.getPath());
                new WebDriverWait(browser, Duration.ofSeconds(30))
                        .until(d -> !d.findElement(By.id("result-label")).getText().isEmpty());
                String label = browser.findElement(By.id("result-label")).getText();
                assertTrue(label.startsWith("Label "), label);
                assertEquals(10, browser.findElements(By.cssSelector("#bars .bar")).size());
                assertTrue(browser.findElement(By.id("result-face")).getText().contains("5.1%"),
                        browser.findElement(By.id("result-face")).getText());
                // The red face box is on the canvas: sample a pixel on its top edge (116 px box at 164,53 on 512 px).
                Object red = browser.executeScript("""
                        const c = document.getElementById('canvas'), s = c.width / 512;
                        const p = c.getContext('2d').getImageData(Math.round((164 + 58) * s), Math.round(53 * s), 1, 1).data;
                        return p[0] > 200 && p[1] < 100 && p[2] < 100;""");
                assertEquals(Boolean.TRUE, red, "face box drawn");
                Path shot = Path.of("target", "upload-page.png");
                Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
                System.out.println("screenshot: " + shot.toAbsolutePath() + "; page says " + label);
            } finally {
                browser.quit();
            }
        }
    }
}
