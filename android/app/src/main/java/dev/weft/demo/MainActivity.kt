package dev.weft.demo

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.ProgressBar
import android.widget.TextView
import dev.weft.Weft
import dev.weft.WeftException
import java.io.File
import java.util.concurrent.Executors

/** Picks the model (bundled demo or a GGUF from storage), loads it, opens the two screens. */
class MainActivity : Activity() {
    private val loader = Executors.newSingleThreadExecutor()
    private lateinit var status: TextView
    private lateinit var progress: ProgressBar
    private lateinit var chat: Button
    private lateinit var sensors: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        status = findViewById(R.id.status)
        progress = findViewById(R.id.progress)
        chat = findViewById(R.id.open_chat)
        sensors = findViewById(R.id.open_sensors)

        findViewById<Button>(R.id.use_bundled).setOnClickListener {
            load { ModelHolder.bundledFile(this) }
        }
        findViewById<Button>(R.id.pick_model).setOnClickListener {
            val pick = Intent(Intent.ACTION_OPEN_DOCUMENT)
                .addCategory(Intent.CATEGORY_OPENABLE)
                .setType("*/*")
            startActivityForResult(pick, PICK_MODEL)
        }
        chat.setOnClickListener { startActivity(Intent(this, ChatActivity::class.java)) }
        sensors.setOnClickListener { startActivity(Intent(this, SensorActivity::class.java)) }
        sensors.isEnabled = true // the sensor screen runs the bundled sensor model
        ModelHolder.model?.let { showModel() }
    }

    @Deprecated("Activity result API of the platform Activity")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data
        if (requestCode == PICK_MODEL && resultCode == RESULT_OK && uri != null) {
            load { ModelHolder.copyPicked(this, uri) }
        }
    }

    private fun load(file: () -> File) {
        progress.visibility = View.VISIBLE
        progress.progress = 0
        status.text = "Loading…"
        loader.execute {
            try {
                ModelHolder.load(file()) { p -> runOnUiThread { progress.progress = (p * 1000).toInt() } }
                runOnUiThread { showModel() }
            } catch (e: WeftException) {
                runOnUiThread { status.text = "Load failed (${e.status()}): ${e.message}" }
            } catch (e: Exception) {
                runOnUiThread { status.text = "Load failed: $e" }
            } finally {
                runOnUiThread { progress.visibility = View.GONE }
            }
        }
    }

    private fun showModel() {
        val m = ModelHolder.model ?: return
        status.text = buildString {
            append("weft ${Weft.version()}\n")
            append("${m.name().ifEmpty { "(unnamed)" }}: ${m.architecture()}, ")
            append("${m.layerCount()} layers, width ${m.embeddingSize()}, vocab ${m.vocabSize()}\n")
            append("file %.1f MiB, tokenizer: %s".format(m.fileSize() / 1048576.0, if (m.hasTokenizer()) "yes" else "no"))
        }
        chat.isEnabled = m.hasTokenizer() && m.acceptsTokens()
    }

    override fun onDestroy() {
        loader.shutdown()
        super.onDestroy()
    }

    private companion object {
        const val PICK_MODEL = 1
    }
}
