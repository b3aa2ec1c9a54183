package dev.snapscore.server;

import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A {@link ServerConnector} whose stop loses no accepted socket. Jetty stops its acceptor threads by interrupting
 * them; an interrupt that lands while {@code accept()} is returning a socket the kernel has just handed over makes
 * the JDK throw {@code ClosedByInterruptException} and drop that socket unclosed, so its client waits for its own
 * timeout (seen as a connection neither answered nor closed after {@code stop}). Closing the listener instead ends
 * a blocked {@code accept()} without losing anything; an acceptor parked at the connection limit is woken to see
 * that the connector is stopping.
 */
final class CleanStopConnector extends ServerConnector {
    CleanStopConnector(Server server, ConnectionFactory... factories) {
        super(server, factories);
    }

    @Override
    protected void interruptAcceptors() {
        close();
        setAccepting(true);
    }
}
