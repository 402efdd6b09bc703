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
 * Live sensor screen with the bundled sensor model (models/demo-sensor.gguf: a Mamba-2 trained
 * to predict the next 6-float IMU frame of a walk). Every accelerometer event, with the latest
 * gyroscope reading, is one frame `[ax, ay, az] / g, [gx, gy, gz] rad/s`, stepped through a
 * session on a sensor thread at the sensor rate. The plot shows the measured vertical
 * acceleration, the model's prediction of it one step earlier, and the prediction error; the
 * text shows steps/s, time per step, state size and memory. Frames and outputs are direct
 * buffers: a step copies and allocates nothing.
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
    private lateinit var predicted: FloatArray
    private val shown = FloatArray(3)
    private val gyro = FloatArray(3)

    // Touched only on the sensor thread.
    private var steps = 0
    private var stepNanos = 0L
    private var windowStart = 0L
    private var error = 0.0

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_sensor)
        stats = findViewById(R.id.stats)
        plot = findViewById(R.id.plot)
        val s = ModelHolder.sensorModel(this).newSession()
        session = s
        frame = direct(s.frameSize())
        out = direct(s.outputSize())
        predicted = FloatArray(s.outputSize())
        sensors = getSystemService(SENSOR_SERVICE) as SensorManager
        thread = HandlerThread("weft-sensors").apply { start() }
        handler = Handler(thread.looper)
    }

    override fun onResume() {
        super.onResume()
        windowStart = SystemClock.elapsedRealtimeNanos()
        for (type in intArrayOf(Sensor.TYPE_ACCELEROMETER, Sensor.TYPE_GYROSCOPE)) {
            sensors.getDefaultSensor(type)?.let {
                sensors.registerListener(this, it, SensorManager.SENSOR_DELAY_GAME, handler)
            }
        }
    }

    override fun onPause() {
        sensors.unregisterListener(this)
        super.onPause()
    }

    /** On the sensor thread. */
    override fun onSensorChanged(event: SensorEvent) {
        if (event.sensor.type == Sensor.TYPE_GYROSCOPE) {
            event.values.copyInto(gyro, 0, 0, 3)
            return
        }
        val s = session ?: return
        for (i in 0 until frame.capacity()) {
            frame.put(i, when {
                i < 3 -> event.values[i] / SensorManager.GRAVITY_EARTH
                i < 6 -> gyro[i - 3]
                else -> 0f
            })
        }
        // Error of the previous step's prediction of this frame.
        var sq = 0.0
        val channels = minOf(predicted.size, frame.capacity())
        for (c in 0 until channels) {
            val d = frame.get(c) - predicted[c]
            sq += d * d
        }
        error = sq / channels.coerceAtLeast(1)
        shown[0] = frame.get(2)
        shown[1] = predicted.getOrElse(2) { 0f }
        shown[2] = error.toFloat()

        val t0 = SystemClock.elapsedRealtimeNanos()
        s.stepFrame(frame, out)
        val t1 = SystemClock.elapsedRealtimeNanos()
        for (c in predicted.indices) predicted[c] = out.get(c)
        steps++
        stepNanos += t1 - t0
        plot.push(shown)
        if (t1 - windowStart >= 1_000_000_000L) report(s, t1)
    }

    private fun report(s: Session, now: Long) {
        val seconds = (now - windowStart) / 1e9
        val line = ("%.0f steps/s · %.0f µs/step · position %d · error %.4f\n" +
            "state %d KiB · RSS %.0f MiB\nred: measured az (g) · blue: predicted · green: error").format(
            steps / seconds, stepNanos / 1e3 / steps.coerceAtLeast(1), s.position(), error,
            s.stateSize() / 1024, residentMiB()
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
