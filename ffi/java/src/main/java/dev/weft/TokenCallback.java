package dev.weft;

/**
 * Receives each generated token and its text ({@code ""} while a multi-byte character is
 * incomplete, or for special tokens), on the generating thread. Return false to stop.
 */
@FunctionalInterface
public interface TokenCallback {
    boolean onToken(int token, String piece);
}
