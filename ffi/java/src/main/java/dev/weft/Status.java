package dev.weft;

/** Status codes of the C API ({@code weft_status} in weft.h). */
public enum Status {
    OK(0),
    NULL_ARG(1),
    INVALID_ARG(2),
    INVALID_UTF8(3),
    IO(4),
    MODEL(5),
    TOKENIZER(6),
    BUFFER_TOO_SMALL(7),
    STATE(8),
    NOT_READY(9),
    CANCELLED(10),
    BUSY(11),
    SAMPLE(12),
    INTERNAL(13);

    public final int code;

    Status(int code) {
        this.code = code;
    }

    static Status of(int code) {
        for (Status s : values()) {
            if (s.code == code) return s;
        }
        return INTERNAL;
    }
}
