package dev.snapscore.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** This machine's fp32 peak, estimated from cores × clock × FLOP per cycle, with the assumptions spelled out. */
record Machine(String cpu, String vectorIsa, int cores, double ghz, int flopsPerCycle, String clockSource, String flopsSource) {

    double peakGflops() {
        return cores * ghz * flopsPerCycle;
    }

    /**
     * The CPU's name and widest vector ISA, for a results folder: virtual machines often report a bare "AMD EPYC"
     * for several generations, whose results must not land in one folder.
     */
    String slug() {
        String s = cpu.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
        return (s.isEmpty() ? "cpu" : s.length() > 40 ? s.substring(0, 40) : s) + "-" + vectorIsa;
    }

    String assumptions() {
        return String.format("%d cores × %.2f GHz (%s) × %d fp32 FLOP/cycle (%s) = %.0f GFLOP/s", cores, ghz, clockSource,
                flopsPerCycle, flopsSource, peakGflops());
    }

    static Machine detect(Double ghzOverride, Integer flopsOverride) {
        List<String> info;
        try {
            info = Files.readAllLines(Path.of("/proc/cpuinfo"));
        } catch (IOException e) {
            info = List.of();
        }
        String cpu = info.stream().filter(l -> l.startsWith("model name")).map(l -> l.substring(l.indexOf(':') + 1).trim())
                .findFirst().orElse(System.getProperty("os.arch"));
        double mhz = info.stream().filter(l -> l.startsWith("cpu MHz")).mapToDouble(l -> Double.parseDouble(l.substring(l.indexOf(':') + 1).trim()))
                .max().orElse(0);
        String flags = info.stream().filter(l -> l.startsWith("flags")).findFirst().orElse("");
        boolean avx512 = flags.contains(" avx512f"), fma = flags.contains(" fma") && flags.contains(" avx2");
        double ghz = ghzOverride != null ? ghzOverride : mhz > 0 ? mhz / 1000 : 1;
        String clock = ghzOverride != null ? "given" : "/proc/cpuinfo; boost clocks run higher, pass --ghz";
        int fpc = flopsOverride != null ? flopsOverride : avx512 || fma ? 32 : 8;
        String fpcSource = flopsOverride != null ? "given" : avx512 ? "AVX-512 detected; 2 FMA pipes × 8 lanes × 2 assumed (Zen 4)"
                : fma ? "AVX2+FMA: 2 pipes × 8 lanes × 2" : "no FMA detected";
        String isa = avx512 ? "avx512" : flags.contains(" avx2") ? "avx2" : "sse";
        return new Machine(cpu, isa, Runtime.getRuntime().availableProcessors(), ghz, fpc, clock, fpcSource);
    }
}
