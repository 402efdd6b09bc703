package dev.weft;

/**
 * Entry point of the weft Java binding: loads the native library and opens models.
 *
 * <p>The library is {@code libweft_ffi} (built from the Rust crate {@code weft-ffi} with feature
 * {@code jni}). It is found on {@code java.library.path}, or at the absolute path given by the
 * system property {@code weft.library}.
 */
public final class Weft {
    private static boolean loaded;

    private Weft() {}

    static synchronized void loadLibrary() {
        if (loaded) return;
        String path = System.getProperty("weft.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("weft_ffi");
        }
        loaded = true;
    }

    /** Version of the native library, e.g. "0.1.0". */
    public static String version() {
        return Native.version();
    }

    /** Opens a GGUF model with its embedded tokenizer. */
    public static Model load(String path) {
        return Model.load(path, null, false, null);
    }
}
