package dev.weft.demo

import android.content.Context
import android.net.Uri
import dev.weft.Model
import java.io.File

/**
 * The one loaded model, shared by both screens (a weft Model is thread-safe; each screen opens
 * its own Session). weft memory-maps the file, so models are copied to app storage first.
 */
object ModelHolder {
    const val BUNDLED_ASSET = "demo-text.gguf"

    @Volatile
    var model: Model? = null
        private set

    /** Copies the bundled asset to app storage once; returns the file. */
    fun bundledFile(context: Context): File {
        val file = File(context.filesDir, BUNDLED_ASSET)
        if (!file.exists()) {
            val tmp = File(context.filesDir, "$BUNDLED_ASSET.tmp")
            context.assets.open(BUNDLED_ASSET).use { input -> tmp.outputStream().use { input.copyTo(it) } }
            tmp.renameTo(file)
        }
        return file
    }

    /** Copies a user-picked document (Storage Access Framework) to app storage. */
    fun copyPicked(context: Context, uri: Uri): File {
        val file = File(context.filesDir, "picked.gguf")
        context.contentResolver.openInputStream(uri)!!.use { input ->
            file.outputStream().use { input.copyTo(it) }
        }
        return file
    }

    /** Loads `file` (blocking; call off the UI thread), replacing the previous model. */
    fun load(file: File, onProgress: (Float) -> Unit): Model {
        val loaded = Model.load(file.absolutePath, null, true) { p ->
            onProgress(p)
            true
        }
        model?.close() // open sessions keep the old native model alive until they close
        model = loaded
        return loaded
    }
}
