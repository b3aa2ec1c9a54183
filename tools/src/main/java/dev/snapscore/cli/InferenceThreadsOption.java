package dev.snapscore.cli;

import picocli.CommandLine.Option;

/** {@code --threads} for verbs that run a model themselves: how many oneDNN threads, every core unless told. */
final class InferenceThreadsOption {
    @Option(names = "--threads", description = "oneDNN threads. Default: all cores.")
    Integer threads;

    int count() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }
}
