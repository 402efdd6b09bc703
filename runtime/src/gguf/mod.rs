//! GGUF v3 container: zero-copy reader and writer.
