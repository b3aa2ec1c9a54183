package dev.snapscore.engine.runtime;

import java.lang.foreign.MemorySegment;

/** Sees each step's output during an observed run; the segment is only valid during the call. */
@FunctionalInterface
public interface StepObserver {
    /**
     * @param step    the step's name: a conv or dense layer's name, or "maxpool", "reorder to …", "softmax"
     * @param output  its whole output buffer in the layout oneDNN chose (blocked layouts include padding)
     */
    void output(String step, MemorySegment output);
}
