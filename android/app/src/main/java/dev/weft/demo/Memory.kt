package dev.weft.demo

import java.io.File

/** Resident set size of this process in MiB, from /proc/self/statm (pages × 4 KiB). */
fun residentMiB(): Double {
    val fields = File("/proc/self/statm").readText().trim().split(" ")
    val pages = fields.getOrNull(1)?.toLongOrNull() ?: return 0.0
    return pages * 4096.0 / (1024 * 1024)
}
