package dev.snapscore.engine.serving;

import java.util.concurrent.RejectedExecutionException;

/** The scorer's queue is full: the caller should back off and retry (HTTP 503). */
public class ScorerOverloadedException extends RejectedExecutionException {
    public ScorerOverloadedException(String message) {
        super(message);
    }
}
