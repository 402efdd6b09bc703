package dev.weft;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Host test of the Java binding against libweft_ffi on this JVM, on the fixture written by
 * {@code cargo run -p weft-ffi --example ffi_fixture -- <dir>}: the same greedy tokens as the
 * Rust API, frames through direct buffers, state, cancel from another thread, errors.
 * Usage: java -Dweft.library=<path to libweft_ffi.so> dev.weft.WeftTest <dir>
 */
public final class WeftTest {
    static final String PROMPT = "Hello world! The quick brown fox";
    static int passed, failed;

    static void check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.err.println("FAIL: " + what);
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** {@code body} throws a WeftException with {@code status} whose message mentions {@code needle}. */
    static void expectWeft(Status status, String needle, Body body) {
        try {
            body.run();
            check(false, "no exception, expected " + status);
        } catch (WeftException e) {
            check(e.status() == status && e.getMessage().contains(needle),
                    "got " + e.status() + " \"" + e.getMessage() + "\", expected " + status + " ~ " + needle);
        } catch (Exception e) {
            check(false, "got " + e + ", expected " + status);
        }
    }

    static <T extends Throwable> void expect(Class<T> type, Body body) {
        try {
            body.run();
            check(false, "no exception, expected " + type.getSimpleName());
        } catch (Throwable e) {
            check(type.isInstance(e), "got " + e + ", expected " + type.getSimpleName());
        }
    }

    static Map<String, String[]> expected(Path dir) throws IOException {
        Map<String, String[]> m = new HashMap<>();
        for (String line : Files.readAllLines(dir.resolve("expected.txt"))) {
            String[] f = line.trim().split(" ");
            m.put(f[0], Arrays.copyOfRange(f, 2, f.length));
        }
        return m;
    }

    static int[] ints(String[] s) {
        return Arrays.stream(s).mapToInt(Integer::parseInt).toArray();
    }

    static int[] pullGreedy(Session s, int n, int eos) {
        List<Integer> out = new ArrayList<>();
        SamplingParams greedy = SamplingParams.greedy();
        while (out.size() < n) {
            int t = s.sample(greedy);
            if (t == eos) break;
            out.add(t);
            s.step(t);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    static FloatBuffer direct(int n) {
        return ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Map<String, String[]> exp = expected(dir);
        int[] promptIds = ints(exp.get("prompt_ids"));
        int[] greedy = ints(exp.get("greedy"));
        check(!Weft.version().isEmpty(), "version");

        List<Float> progress = new ArrayList<>();
        try (Model m = Model.load(dir.resolve("model.gguf").toString(), null, true, p -> progress.add(p))) {
            check(progress.size() >= 3 && progress.get(progress.size() - 1) == 1.0f, "progress " + progress);
            check(m.architecture().equals("zamba2") && m.name().equals("weft-ffi-fixture"), "names");
            check(m.vocabSize() == 300 && m.embeddingSize() == 32 && m.layerCount() == 6, "shape");
            check(m.hasTokenizer() && m.bosToken() == 1 && m.eosToken() == 2, "tokenizer info");
            check(m.fileSize() > 100000, "file size");
            check(m.frameSize() == 32 && m.outputSize() == 300 && m.acceptsTokens() && !m.isRegression(),
                    "frame/output sizes");
            testText(m, promptIds);
            testSession(m, promptIds, greedy);
            testFrames(m, exp.get("frame_logits"));
            testState(m, promptIds, greedy);
            testCancel(m, promptIds, greedy);
            testErrors(m, dir);
        }
        List<Float> hugeProgress = new ArrayList<>();
        try (Model m = Model.load(dir.resolve("model.gguf").toString(), null, false, true,
                p -> hugeProgress.add(p))) {
            check(hugeProgress.size() >= 3 && hugeProgress.get(hugeProgress.size() - 1) == 1.0f,
                    "huge-page progress " + hugeProgress);
            try (Session s = m.newSession()) {
                s.prefill(promptIds);
                check(Arrays.equals(pullGreedy(s, greedy.length, 2), greedy), "huge pages: greedy == Rust's");
            }
        }
        try (Model m = Weft.load(dir.resolve("model.gguf").toString())) {
            SessionParams p = new SessionParams();
            check(!p.kvF16, "f32 KV by default");
            p.kvF16 = true;
            try (Session s = m.newSession(p); Session f = m.newSession()) {
                check(s.stateSize() < f.stateSize(), "f16 KV: smaller state");
                s.prefill(promptIds);
                check(Arrays.equals(pullGreedy(s, greedy.length, 2), greedy), "f16 KV: greedy == Rust's f32");
            }
        }
        testSensor(dir, exp.get("sensor_frames"), exp.get("sensor_outputs"));
        System.out.println("WeftTest: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    static void testText(Model m, int[] promptIds) {
        check(Arrays.equals(m.tokenize(PROMPT, true), promptIds), "tokenize == Rust's ids");
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i < promptIds.length; i++) sb.append(m.tokenToPiece(promptIds[i]));
        check(sb.toString().equals(PROMPT), "pieces spell the prompt: " + sb);

        String text = "Café naïve 🌍!";
        int[] ids = m.tokenize(text, false);
        try (Detokenizer d = m.newDetokenizer(true)) {
            StringBuilder out = new StringBuilder();
            int held = 0;
            for (int id : ids) {
                String piece = d.push(id);
                if (piece.isEmpty()) held++;
                check(piece.indexOf('\uFFFD') < 0, "piece splits a character");
                out.append(piece);
            }
            check(out.toString().equals(text), "stream: " + out);
            check(held > 0, "held while the emoji is incomplete");
            check(d.flush().isEmpty(), "flush after a complete stream");
            expectWeft(Status.TOKENIZER, "100000", () -> d.push(100000));
        }
    }

    static void testSession(Model m, int[] promptIds, int[] greedy) {
        try (Session s = m.newSession()) {
            s.prefill(promptIds);
            check(s.position() == promptIds.length, "position");
            check(s.logits().length == 300, "logits");
            check(Arrays.equals(pullGreedy(s, greedy.length, 2), greedy), "pull greedy == Rust's");

            s.reset();
            List<Integer> got = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            int n = s.generate(promptIds, SamplingParams.greedy(), greedy.length, (t, piece) -> {
                got.add(t);
                text.append(piece);
                return true;
            });
            int[] gen = got.stream().mapToInt(Integer::intValue).toArray();
            check(n == greedy.length && Arrays.equals(gen, greedy), "generate == Rust's: " + got);
            StringBuilder want = new StringBuilder();
            try (Detokenizer d = m.newDetokenizer(true)) {
                for (int t : gen) want.append(d.push(t));
            }
            check(text.toString().equals(want.toString()), "streamed text");

            s.reset();
            got.clear();
            s.generate(promptIds, SamplingParams.greedy(), 1000, (t, piece) -> got.add(t) && got.size() < 5);
            check(got.size() == 5, "callback stop after 5: " + got.size());
            got.clear();
            s.generate(null, SamplingParams.greedy(), greedy.length - 5, (t, piece) -> got.add(t));
            int[] rest = got.stream().mapToInt(Integer::intValue).toArray();
            check(Arrays.equals(rest, Arrays.copyOfRange(greedy, 5, greedy.length)), "continue");
        }
    }

    static void testFrames(Model m, String[] want) {
        try (Session s = m.newSession()) {
            FloatBuffer frame = direct(32), out = direct(300);
            for (int i = 0; i < 32; i++) frame.put(i, ((i % 7) - 3) * 0.05f);
            s.stepFrame(frame, out);
            boolean same = true;
            for (int i = 0; i < want.length; i++) {
                float w = Float.parseFloat(want[i]);
                same &= Math.abs(out.get(i) - w) <= 1e-4f * Math.max(1f, Math.abs(w));
            }
            check(same, "frame output == Rust's");
            check(Arrays.equals(s.logits(), copy(out)), "stepFrame out == logits()");
            for (int t = 0; t < 100; t++) s.stepFrame(frame, null);
            check(s.position() == 101, "frames counted");

            expect(IllegalArgumentException.class, () -> s.stepFrame(FloatBuffer.allocate(32), out));
            FloatBuffer bigEndian = ByteBuffer.allocateDirect(128).order(ByteOrder.BIG_ENDIAN).asFloatBuffer();
            if (ByteOrder.nativeOrder() != ByteOrder.BIG_ENDIAN)
                expect(IllegalArgumentException.class, () -> s.stepFrame(bigEndian, out));
            expectWeft(Status.INVALID_ARG, "frame has 31", () -> s.stepFrame(direct(31), out));
            FloatBuffer shifted = direct(40);
            shifted.position(8);
            s.stepFrame(shifted, null); // 32 floats from position 8
            check(shifted.position() == 8, "position unchanged");
        }
    }

    static float[] copy(FloatBuffer b) {
        float[] a = new float[b.capacity()];
        b.get(0, a);
        return a;
    }

    static void testState(Model m, int[] promptIds, int[] greedy) {
        try (Session s = m.newSession(); Session other = m.newSession()) {
            s.prefill(promptIds);
            pullGreedy(s, 5, 2);
            byte[] blob = s.saveState();
            check(blob.length == s.stateSize(), "state size");
            int[] first = pullGreedy(s, 10, 2);
            s.loadState(blob);
            check(Arrays.equals(pullGreedy(s, 10, 2), first), "restore");
            other.loadState(blob);
            check(Arrays.equals(pullGreedy(other, 10, 2), first), "restore elsewhere");
            check(Arrays.equals(first, Arrays.copyOfRange(greedy, 5, 15)), "continuation == Rust's");
            byte[] bad = blob.clone();
            bad[0] ^= 0x7f;
            expectWeft(Status.STATE, "magic", () -> s.loadState(bad));
            expectWeft(Status.STATE, "bytes", () -> s.loadState(Arrays.copyOf(blob, 10)));
        }
    }

    static void testCancel(Model m, int[] promptIds, int[] greedy) throws Exception {
        try (Session s = m.newSession()) {
            CountDownLatch started = new CountDownLatch(1), go = new CountDownLatch(1);
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            List<Integer> got = new ArrayList<>();
            Thread t = new Thread(() -> {
                try {
                    s.generate(promptIds, SamplingParams.greedy(), 1_000_000, (tok, piece) -> {
                        got.add(tok);
                        if (got.size() == 1) {
                            started.countDown();
                            try {
                                go.await();
                            } catch (InterruptedException e) {
                                throw new RuntimeException(e);
                            }
                        }
                        return true;
                    });
                } catch (Throwable e) {
                    thrown.set(e);
                }
            });
            t.start();
            started.await();
            s.cancel();
            go.countDown();
            t.join();
            Throwable e = thrown.get();
            check(e instanceof WeftException && ((WeftException) e).isCancelled(), "cancelled: " + e);
            check(got.size() == 1, "tokens after cancel: " + got.size());
            check(Arrays.equals(pullGreedy(s, 3, 2), Arrays.copyOfRange(greedy, 1, 4)), "usable after cancel");
        }
    }

    static void testSensor(Path dir, String[] frames, String[] outputs) {
        try (Model m = Weft.load(dir.resolve("sensor.gguf").toString())) {
            check(m.frameSize() == 6 && m.outputSize() == 6, "sensor sizes");
            check(!m.acceptsTokens() && m.isRegression() && !m.hasTokenizer(), "sensor kind");
            SessionParams p = new SessionParams();
            p.threads = 0;
            p.int8Activations = true;
            try (Session s = m.newSession(p)) {
                FloatBuffer frame = direct(6), out = direct(6);
                boolean same = true;
                for (int t = 0; t < frames.length / 6; t++) {
                    for (int c = 0; c < 6; c++) frame.put(c, Float.parseFloat(frames[6 * t + c]));
                    s.stepFrame(frame, out);
                    for (int c = 0; c < 6; c++) {
                        float w = Float.parseFloat(outputs[6 * t + c]);
                        same &= Math.abs(out.get(c) - w) <= 1e-4f * Math.max(1f, Math.abs(w));
                    }
                }
                check(same, "sensor predictions == Rust's");
                expectWeft(Status.INVALID_ARG, "frames of 6", () -> s.step(1));
                expectWeft(Status.INVALID_ARG, "frames of 6", () -> s.stepFrame(direct(5), out));
                s.setSeed(7);
                check(s.position() == frames.length / 6, "sensor position");
            }
        }
    }

    static void testErrors(Model m, Path dir) {
        expectWeft(Status.IO, "missing.gguf", () -> Weft.load(dir.resolve("missing.gguf").toString()));
        expectWeft(Status.CANCELLED, "aborted",
                () -> Model.load(dir.resolve("model.gguf").toString(), null, false, p -> p < 0.5f));
        RuntimeException boom = new RuntimeException("boom");
        try {
            Model.load(dir.resolve("model.gguf").toString(), null, false, p -> { throw boom; });
            check(false, "listener exception swallowed");
        } catch (RuntimeException e) {
            check(e == boom, "listener exception propagates: " + e);
        }
        try (Model bare = Weft.load(dir.resolve("bare.gguf").toString())) {
            check(!bare.hasTokenizer(), "bare model has no tokenizer");
            expectWeft(Status.TOKENIZER, "no tokenizer", () -> bare.tokenize("hi", false));
        }
        Session s = m.newSession();
        expectWeft(Status.NOT_READY, "no logits", () -> s.sample(null));
        expectWeft(Status.INVALID_ARG, "out of range", () -> s.step(300));
        expectWeft(Status.INVALID_ARG, "at least one", () -> s.prefill(new int[0]));
        SamplingParams hot = SamplingParams.defaults();
        hot.temperature = -1f;
        s.step(1);
        expectWeft(Status.INVALID_ARG, "temperature", () -> s.sample(hot));
        try {
            s.generate(null, SamplingParams.greedy(), 5, (t, p) -> { throw boom; });
            check(false, "callback exception swallowed");
        } catch (RuntimeException e) {
            check(e == boom, "callback exception propagates: " + e);
        }
        check(s.position() == 2, "the token whose callback threw is fed too: " + s.position());
        s.close();
        s.close();
        expect(IllegalStateException.class, () -> s.step(1));
        s.cancel(); // after close: a no-op
        SessionParams p = new SessionParams();
        p.kvWindow = 0;
        expectWeft(Status.INVALID_ARG, "kv_window", () -> m.newSession(p));
        byte[] utf8 = "héllo".getBytes(StandardCharsets.UTF_8);
        check(m.tokenize(new String(utf8, StandardCharsets.UTF_8), false).length > 0, "non-ASCII text");
    }
}
