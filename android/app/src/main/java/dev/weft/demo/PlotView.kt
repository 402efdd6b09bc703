package dev.weft.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View

/** A scrolling line plot of a few channels; `push` from any thread, drawn on the UI thread. */
class PlotView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private val channels = 3
    private val capacity = 300
    private val values = Array(channels) { FloatArray(capacity) }
    private var count = 0
    private var head = 0
    private val colors = intArrayOf(Color.rgb(220, 50, 47), Color.rgb(38, 139, 210), Color.rgb(133, 153, 0))
    private val paint = Paint(Paint.ANTI_ALIAS_FLAG).apply { strokeWidth = 3f }
    private val axis = Paint().apply { color = Color.LTGRAY }

    /** One step's values (the first `channels` are used). */
    fun push(step: FloatArray) {
        synchronized(values) {
            for (c in 0 until channels) values[c][head] = step.getOrElse(c) { 0f }
            head = (head + 1) % capacity
            if (count < capacity) count++
        }
        postInvalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val w = width.toFloat()
        val h = height.toFloat()
        canvas.drawLine(0f, h / 2, w, h / 2, axis)
        synchronized(values) {
            if (count < 2) return
            // Scale to the largest magnitude on screen.
            var max = 1e-6f
            for (c in 0 until channels) for (i in 0 until count) max = maxOf(max, kotlin.math.abs(values[c][i]))
            val dx = w / (capacity - 1)
            for (c in 0 until channels) {
                paint.color = colors[c]
                var prevX = 0f
                var prevY = 0f
                for (i in 0 until count) {
                    val v = values[c][(head - count + i + capacity) % capacity]
                    val x = (capacity - count + i) * dx
                    val y = h / 2 - v / max * (h / 2 * 0.9f)
                    if (i > 0) canvas.drawLine(prevX, prevY, x, y, paint)
                    prevX = x
                    prevY = y
                }
            }
        }
    }
}
