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
    const val SENSOR_ASSET = "demo-sensor.gguf"

    @Volatile
    var model: Model? = null
        private set

    private var sensor: Model? = null

    /** Copies a bundled asset to app storage once; returns the file. */
    fun bundledFile(context: Context, asset: String = BUNDLED_ASSET): File {
        val file = File(context.filesDir, asset)
        if (!file.exists()) {
            val tmp = File(context.filesDir, "$asset.tmp")
            context.assets.open(asset).use { input -> tmp.outputStream().use { input.copyTo(it) } }
            tmp.renameTo(file)
        }
        return file
    }

    /** The bundled sensor model (frames in, predicted next frame out), loaded on first use. */
    @Synchronized
    fun sensorModel(context: Context): Model =
        sensor ?: Model.load(bundledFile(context, SENSOR_ASSET).absolutePath, null, false, null)
            .also { sensor = it }

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
