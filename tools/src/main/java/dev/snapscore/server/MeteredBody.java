package dev.snapscore.server;

import org.eclipse.jetty.io.Content;

import java.io.IOException;

/**
 * A request body read through the body budget as it arrives: bytes beyond what the request reserved up front
 * (its declared length; nothing for a chunked body) are reserved chunk by chunk. Past the largest body, or when
 * the budget cannot take a chunk, it ends in a {@link Refused} failure (413 or 503) instead of delivering it,
 * so that neither a chunked upload nor a multipart parser reading from it can hold more than the budget allows.
 * What it reads counts towards a {@link MinimumRate}.
 */
final class MeteredBody implements Content.Source {
    /** Why a body was refused part way: {@code status} 413 (too large) or 503 (the budget is full). */
    static final class Refused extends IOException {
        private final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        int status() {
            return status;
        }
    }

    private final Content.Source body;
    private final BodyBudget.Reservation reservation;
    private final long maxBytes;
    private final MinimumRate rate;
    private long read, covered;
    private Content.Chunk refused;

    /** {@code reserved}: bytes {@code reservation} already holds for this body. */
    MeteredBody(Content.Source body, BodyBudget.Reservation reservation, long reserved, long maxBytes, MinimumRate rate) {
        this.body = body;
        this.reservation = reservation;
        this.covered = reserved;
        this.maxBytes = maxBytes;
        this.rate = rate;
    }

    @Override
    public Content.Chunk read() {
        if (refused != null) return refused;
        Content.Chunk chunk = body.read();
        if (chunk == null || Content.Chunk.isFailure(chunk)) return chunk;
        read += chunk.remaining();
        rate.read(chunk.remaining(), chunk.isLast() || read == body.getLength());
        Refused why = null;
        if (read > maxBytes) {
            why = new Refused(413, "body exceeds the limit of " + maxBytes + " bytes");
        } else if (read > covered) {
            if (reservation.grow(read - covered)) covered = read;
            else why = new Refused(503, "too many uploads in flight; retry later");
        }
        if (why == null) return chunk;
        chunk.release();
        refused = Content.Chunk.from(why, true);
        return refused;
    }

    @Override
    public void demand(Runnable demandCallback) {
        if (refused != null) demandCallback.run();
        else body.demand(demandCallback);
    }

    @Override
    public void fail(Throwable failure) {
        body.fail(failure);
    }

    @Override
    public void fail(Throwable failure, boolean last) {
        body.fail(failure, last);
    }

    @Override
    public long getLength() {
        return body.getLength();
    }
}
