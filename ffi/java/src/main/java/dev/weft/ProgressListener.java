package dev.weft;

/** Model load progress, from 0 to 1, on the loading thread. Return false to abort the load. */
@FunctionalInterface
public interface ProgressListener {
    boolean onProgress(float fraction);
}
