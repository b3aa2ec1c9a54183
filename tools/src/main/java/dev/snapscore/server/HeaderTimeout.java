package dev.snapscore.server;

import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closes a connection whose request line and headers take longer than a limit to arrive. Jetty's idle timeout
 * restarts with every byte, so a client that sends a header byte just under every idle timeout would hold its
 * connection for ever; Jetty 12.1 has no total time for headers (its HTTP/1.1 connection ignores
 * {@code HttpConfiguration}'s minimum request data rate).
 * <p>The clock of a request starts when its first byte is seen (a sweep every {@code timeout / 4}, at most
 * 1 s) and stops when the request reaches the handlers (the connection's request count moves); it starts
 * again after that request completes. An idle keep-alive connection sends nothing, so only the idle timeout
 * applies to it. Added as the server's outermost handler (to see requests complete) and as a
 * {@link Connection.Listener} of the connector (to see connections open and close).
 */
final class HeaderTimeout extends Handler.Wrapper implements Connection.Listener {
    private final long timeoutNanos, periodNanos;
    private final Map<Connection, Watch> watched = new ConcurrentHashMap<>();
    private final AtomicLong closed = new AtomicLong();
    private volatile Scheduler.Task sweep;

    /** Where a connection stood when its last request completed: requests begun and bytes received. */
    private record Phase(long requests, long bytes) {
    }

    private static final class Watch {
        volatile Phase phase = new Phase(0, 0);
        // Read and written by the sweep only.
        Phase seen;
        long firstByte;
    }

    HeaderTimeout(Handler handler, Duration timeout) {
        super(handler);
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("the header timeout must be > 0");
        this.timeoutNanos = timeout.toNanos();
        this.periodNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(timeoutNanos / 4, TimeUnit.SECONDS.toNanos(1)));
    }

    /** Connections closed so far for taking too long to send their headers. */
    long closed() {
        return closed.get();
    }

    @Override
    public void onOpened(Connection connection) {
        watched.put(connection, new Watch());
    }

    @Override
    public void onClosed(Connection connection) {
        watched.remove(connection);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Connection connection = request.getConnectionMetaData().getConnection();
        Request.addCompletionListener(request, failure -> {
            Watch w = watched.get(connection);
            if (w != null) w.phase = new Phase(connection.getMessagesIn(), connection.getBytesIn());
        });
        return super.handle(request, response, callback);
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        schedule();
    }

    @Override
    protected void doStop() throws Exception {
        Scheduler.Task task = sweep;
        if (task != null) task.cancel();
        super.doStop();
    }

    private void schedule() {
        sweep = getServer().getScheduler().schedule(this::sweep, periodNanos, TimeUnit.NANOSECONDS);
    }

    private void sweep() {
        try {
            sweep(System.nanoTime());
        } finally {
            if (isRunning()) schedule();
        }
    }

    private void sweep(long now) {
        watched.forEach((connection, w) -> {
            Phase p = w.phase;
            if (p != w.seen) {
                w.seen = p;
                w.firstByte = 0;
            }
            if (connection.getMessagesIn() != p.requests()) {
                w.firstByte = 0; // a request is being handled: its body has the idle timeout
            } else if (connection.getBytesIn() > p.bytes()) {
                if (w.firstByte == 0) {
                    w.firstByte = now;
                } else if (now - w.firstByte > timeoutNanos) {
                    closed.incrementAndGet();
                    watched.remove(connection);
                    connection.getEndPoint().close();
                }
            }
        });
    }
}
