package dev.weft.demo

import android.app.Activity
import android.hardware.Sensor
import android.hardware.SensorEvent
import android.hardware.SensorEventListener
import android.hardware.SensorManager
import android.os.Bundle
import android.os.Handler
import android.os.HandlerThread
import android.os.SystemClock
import android.widget.TextView
import dev.weft.Session
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer

/**
 * Live sensor screen: every accelerometer event (with the latest gyroscope reading) becomes one
 * frame of the model's embedding width, stepped through a session on a sensor thread at the
 * sensor rate; the first output channels are plotted, with steps/s, time per step and memory.
 * Frames and outputs live in direct buffers, so a step allocates nothing on either side.
 *
 * The demo text model was not trained on sensor frames; the screen shows the plumbing a sensor
 * model (same GGUF, frame input) uses.
 */
class SensorActivity : Activity(), SensorEventListener {
    private lateinit var sensors: SensorManager
    private lateinit var thread: HandlerThread
    private lateinit var handler: Handler
    private lateinit var stats: TextView
    private lateinit var plot: PlotView
    private var session: Session? = null
    private lateinit var frame: FloatBuffer
    private lateinit var out: FloatBuffer
    private val shown = FloatArray(3)
    private val gyro = FloatArray(3)

    // Touched only on the sensor thread.
    private var steps = 0
    private var stepNanos = 0L
    private var windowStart = 0L

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_sensor)
        stats = findViewById(R.id.stats)
        plot = findViewById(R.id.plot)
        val model = ModelHolder.model ?: return finish()
        val s = model.newSession()
        session = s
        frame = direct(s.embeddingSize())
        out = direct(s.vocabSize())
        sensors = getSystemService(SENSOR_SERVICE) as SensorManager
        thread = HandlerThread("weft-sensors").apply { start() }
        handler = Handler(thread.looper)
    }

    override fun onResume() {
        super.onResume()
        if (session == null) return
        windowStart = SystemClock.elapsedRealtimeNanos()
        for (type in intArrayOf(Sensor.TYPE_ACCELEROMETER, Sensor.TYPE_GYROSCOPE)) {
            sensors.getDefaultSensor(type)?.let {
                sensors.registerListener(this, it, SensorManager.SENSOR_DELAY_GAME, handler)
            }
        }
    }

    override fun onPause() {
        if (session != null) sensors.unregisterListener(this)
        super.onPause()
    }

    /** On the sensor thread. */
    override fun onSensorChanged(event: SensorEvent) {
        if (event.sensor.type == Sensor.TYPE_GYROSCOPE) {
            event.values.copyInto(gyro, 0, 0, 3)
            return
        }
        val s = session ?: return
        // Frame: acceleration in g, angular rate in rad/s, zeros for the remaining width.
        val n = frame.capacity()
        for (i in 0 until n) {
            frame.put(i, when {
                i < 3 -> event.values[i] / SensorManager.GRAVITY_EARTH
                i < 6 -> gyro[i - 3]
                else -> 0f
            })
        }
        val t0 = SystemClock.elapsedRealtimeNanos()
        s.stepFrame(frame, out)
        val t1 = SystemClock.elapsedRealtimeNanos()
        steps++
        stepNanos += t1 - t0
        for (c in shown.indices) shown[c] = out.get(c)
        plot.push(shown)
        if (t1 - windowStart >= 1_000_000_000L) report(s, t1)
    }

    private fun report(s: Session, now: Long) {
        val seconds = (now - windowStart) / 1e9
        val line = "%.0f steps/s · %.0f µs/step · position %d\nstate %d KiB · RSS %.0f MiB".format(
            steps / seconds, stepNanos / 1e3 / steps.coerceAtLeast(1), s.position(),
            s.stateSize() / 1024, residentMiB(),
        )
        runOnUiThread { stats.text = line }
        steps = 0
        stepNanos = 0
        windowStart = now
    }

    override fun onAccuracyChanged(sensor: Sensor, accuracy: Int) {}

    override fun onDestroy() {
        session?.let { s ->
            handler.post { s.close() } // after the last queued sensor event
            thread.quitSafely()
        }
        super.onDestroy()
    }

    private fun direct(n: Int): FloatBuffer =
        ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer()
}
