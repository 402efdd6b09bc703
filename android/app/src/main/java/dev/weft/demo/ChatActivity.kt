package dev.weft.demo

import android.app.Activity
import android.os.Bundle
import android.os.SystemClock
import android.widget.Button
import android.widget.EditText
import android.widget.ScrollView
import android.widget.TextView
import dev.weft.SamplingParams
import dev.weft.Session
import dev.weft.WeftException
import java.util.concurrent.Executors

/**
 * Chat screen: the text the user types is fed to one long-lived session (the conversation is its
 * state), then the model's continuation streams in token by token. Stop cancels generation from
 * the UI thread (Session.cancel is the one call that may run concurrently).
 */
class ChatActivity : Activity() {
    private val worker = Executors.newSingleThreadExecutor()
    private var session: Session? = null
    private var firstTurn = true
    private lateinit var transcript: TextView
    private lateinit var stats: TextView
    private lateinit var input: EditText
    private lateinit var send: Button
    private lateinit var stop: Button
    private lateinit var scroll: ScrollView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_chat)
        transcript = findViewById(R.id.transcript)
        stats = findViewById(R.id.stats)
        input = findViewById(R.id.input)
        send = findViewById(R.id.send)
        stop = findViewById(R.id.stop)
        scroll = findViewById(R.id.scroll)

        val model = ModelHolder.model ?: return finish()
        session = model.newSession()
        send.setOnClickListener { submit() }
        stop.setOnClickListener { session?.cancel() }
    }

    private fun submit() {
        val s = session ?: return
        val text = input.text.toString()
        if (text.isBlank()) return
        input.setText("")
        append(if (firstTurn) text else "\n$text")
        send.isEnabled = false
        stop.isEnabled = true
        val addSpecial = firstTurn
        firstTurn = false
        worker.execute { generate(s, if (addSpecial) text else "\n$text", addSpecial) }
    }

    /** Runs on the worker thread. */
    private fun generate(s: Session, text: String, addSpecial: Boolean) {
        val model = ModelHolder.model ?: return
        val sampling = SamplingParams.defaults().apply { temperature = 0.8f }
        val start = SystemClock.elapsedRealtime()
        var tokens = 0
        val outcome = try {
            s.generate(model.tokenize(text, addSpecial), sampling, MAX_TOKENS) { _, piece ->
                tokens++
                if (piece.isNotEmpty()) runOnUiThread { append(piece) }
                true
            }
            "done"
        } catch (e: WeftException) {
            if (e.isCancelled) "stopped" else "error: ${e.message}"
        }
        val seconds = (SystemClock.elapsedRealtime() - start) / 1000.0
        val line = "%s · %d tokens · %.1f tok/s · position %d · RSS %.0f MiB".format(
            outcome, tokens, tokens / seconds.coerceAtLeast(1e-3), s.position(), residentMiB()
        )
        runOnUiThread {
            stats.text = line
            send.isEnabled = true
            stop.isEnabled = false
        }
    }

    private fun append(piece: String) {
        transcript.append(piece)
        scroll.post { scroll.fullScroll(ScrollView.FOCUS_DOWN) }
    }

    override fun onDestroy() {
        session?.cancel()
        worker.execute { session?.close() } // after any running generate returns
        worker.shutdown()
        super.onDestroy()
    }

    private companion object {
        const val MAX_TOKENS = 256
    }
}
