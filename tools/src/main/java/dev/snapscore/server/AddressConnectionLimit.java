package dev.snapscore.server;

import org.eclipse.jetty.io.Connection;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Connections held at once from one client address: a connection that opens beyond the limit is closed at
 * once, so that one client cannot take every connection the server holds (Jetty's {@code ConnectionLimit}
 * and {@code AcceptRateLimit} count all clients together). Added as a {@link Connection.Listener} of the
 * connector. Behind a reverse proxy every connection comes from the proxy's address.
 */
final class AddressConnectionLimit implements Connection.Listener {
    private final int limit;
    private final Map<InetAddress, Integer> open = new ConcurrentHashMap<>();
    /** Each connection's address, taken when it opened: a closed socket no longer tells it. */
    private final Map<Connection, InetAddress> addresses = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();

    AddressConnectionLimit(int limit) {
        if (limit < 1) throw new IllegalArgumentException("the per-address connection limit must be >= 1, got " + limit);
        this.limit = limit;
    }

    /** Connections closed so far for being over the limit of their address. */
    long refused() {
        return refused.get();
    }

    @Override
    public void onOpened(Connection connection) {
        if (!(connection.getEndPoint().getRemoteSocketAddress() instanceof InetSocketAddress inet)) return;
        InetAddress address = inet.getAddress();
        addresses.put(connection, address);
        if (open.merge(address, 1, Integer::sum) > limit) {
            refused.incrementAndGet();
            connection.getEndPoint().close(); // onClosed gives its count back
        }
    }

    @Override
    public void onClosed(Connection connection) {
        InetAddress address = addresses.remove(connection);
        if (address != null) open.computeIfPresent(address, (a, n) -> n == 1 ? null : n - 1);
    }
}
