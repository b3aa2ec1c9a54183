package dev.snapscore.bench;

import dev.snapscore.bench.LoadBench.Run;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The load table's first ÷ warm, on hand-made runs. */
class LoadBenchTest {
    private static Run run(double firstMs, double warmBestMs, double warmMedianMs) {
        return new Run("snapscore", "hit", 1, 500, 600, 300, firstMs, warmBestMs, warmMedianMs, 200, 70, Double.NaN, Double.NaN);
    }

    @Test
    void firstIsComparedWithTheMedianWarmRunNotTheBest() {
        // 110 ms against warm runs whose best is 80 and median 100: 10% over a typical one, not 38% over the luckiest.
        assertEquals(1.10, run(110, 80, 100).firstOverWarm(), 1e-12);
    }

    @Test
    void theCellIsTheMedianOverRunsAndTheirRange() {
        List<Run> runs = List.of(run(120, 90, 100), run(90, 80, 100), run(106, 95, 100), run(100, 70, 80));
        // ratios 1.20, 0.90, 1.06, 1.25: the median of an even count is the mean of the middle two, (1.06 + 1.20) / 2
        assertEquals("1.13 (0.90–1.25)", LoadBench.ratioCell(runs, Run::firstOverWarm));
        assertEquals("1.05 (1.05–1.05)", LoadBench.ratioCell(List.of(run(105, 95, 100)), Run::firstOverWarm));
    }
}
