package dev.snapscore.server;

import org.eclipse.jetty.io.SelectorManager;

import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every socket Jetty has accepted and not yet reported closed. A connection accepted just as the server stops
 * can miss its selector (the accept is handed over after the selector has stopped) and would stay open with no
 * one to answer it, its client waiting until its own timeout; {@link #closeLeftovers} closes those after
 * Jetty's stop, and any an acceptor hands over later. Added to the connector's selector manager.
 */
final class AcceptedChannels implements SelectorManager.AcceptListener {
    private final Set<SelectableChannel> open = ConcurrentHashMap.newKeySet();
    private volatile boolean stopped;

    @Override
    public void onAccepting(SelectableChannel channel) {
        open.add(channel);
        if (stopped) closeLeftovers();
    }

    @Override
    public void onAcceptFailed(SelectableChannel channel, Throwable cause) {
        open.remove(channel); // Jetty closes it
    }

    @Override
    public void onClosed(SelectableChannel channel) {
        open.remove(channel);
    }

    /** Once Jetty has stopped: closes the sockets still open, and from now on every one accepted; returns how many were open. */
    int closeLeftovers() {
        stopped = true;
        int closed = 0;
        for (SelectableChannel channel : open) {
            if (!open.remove(channel)) continue;
            try {
                if (channel.isOpen()) closed++;
                channel.close();
            } catch (IOException e) {
                // closing a socket nobody reads: nothing left to do
            }
        }
        return closed;
    }
}
