package dev.snapscore.cli;

/** Whether a person is watching: progress bars only then, plain summaries otherwise. */
final class Terminal {
    private Terminal() {
    }

    static boolean isInteractive() {
        var console = System.console();
        return console != null && console.isTerminal();
    }
}
