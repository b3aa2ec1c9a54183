package dev.snapscore.server;

/**
 * What the server does with an error it cannot recover from (out of memory, stack overflow, an internal
 * JVM error): say so and exit non-zero at once, so that a supervisor restarts it, instead of living on with
 * a port that is open and threads that are dead.
 */
public final class Fatal {
    /** The exit status of a server that died of a fatal error. */
    public static final int EXIT_STATUS = 70;

    private Fatal() {
    }

    /** Makes every thread's uncaught {@link Error} fatal; other uncaught exceptions are only reported, as by default. */
    public static void install() {
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            if (e instanceof Error error) exit(error);
            System.err.println("snapscore serve: uncaught in " + thread.getName() + ": " + e);
        });
    }

    /** Halts the JVM: shutdown hooks would need the heap or threads that may be gone. */
    public static void exit(Error e) {
        try {
            System.err.println("snapscore serve: fatal " + e + "; exiting with status " + EXIT_STATUS);
            System.err.flush();
        } finally {
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }
}
