//! Fixed-size state blobs: `save_state` / `load_state` without allocation.
//!
//! Layout (little endian): a 64-byte header — magic `WEFTSTAT`, version, flags, model
//! fingerprint, session fingerprint, total size, position, history count — then the recurrent
//! state, each KV ring (fill, slot positions, keys, values), the last logits, the sampler's RNG
//! state and the history buffer. A blob only loads into a session of the same model and the same
//! state-shaping configuration (`kv_window`, `kv_sinks`, `history`).

use super::Session;
use crate::backend::gpu::StateBytes;
use crate::error::SessionError;
use crate::model::Fnv;
use crate::state::KvRing;

const MAGIC: &[u8; 8] = b"WEFTSTAT";
const VERSION: u32 = 1;
const HEADER: usize = 64;
const HAS_LOGITS: u32 = 1;

impl Session {
    /// Bytes of a state blob of this session (constant for its lifetime).
    pub fn state_size(&self) -> usize {
        let rings: usize = self
            .state
            .kv
            .iter()
            .map(|r| 8 + 8 * r.capacity() + 2 * r.rows_bytes())
            .sum();
        let (history, _) = self.history.parts();
        HEADER
            + 4 * self.state.recurrent.len()
            + rings
            + 4 * self.logits.len()
            + 32
            + 4 * history.len()
    }

    /// Identifies the state-shaping part of the configuration.
    fn session_fingerprint(&self) -> u64 {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        for v in [
            self.config.kv_window,
            self.config.kv_sinks,
            self.history.capacity(),
            self.state.recurrent.len(),
        ] {
            h.write(&(v as u64).to_le_bytes());
        }
        for r in &self.state.kv {
            h.write(&(r.width() as u64).to_le_bytes());
        }
        // (f32 rings hash as before the type existed: their older blobs still load)
        if self.config.kv_type != crate::KvType::F32 {
            h.write(self.config.kv_type.name().as_bytes());
        }
        h.0
    }

    /// Writes the whole state into `out` (exactly [`Session::state_size`] bytes).
    pub fn save_state(&self, out: &mut [u8]) -> Result<(), SessionError> {
        let size = self.state_size();
        if out.len() != size {
            return Err(SessionError::StateSize {
                expected: size,
                found: out.len(),
            });
        }
        let (history, count) = self.history.parts();
        let mut w = Writer { buf: out, at: 0 };
        w.bytes(MAGIC);
        w.u32(VERSION);
        w.u32(if self.has_logits { HAS_LOGITS } else { 0 });
        w.u64(self.model.fingerprint());
        w.u64(self.session_fingerprint());
        w.u64(size as u64);
        w.u64(self.position as u64);
        w.u64(count);
        w.u64(0);
        match self.gpu.as_deref() {
            Some(g) => g.read_state(|gpu| self.write_gpu_state(&mut w, gpu)),
            None => self.write_cpu_state(&mut w),
        }
        w.f32s(&self.logits);
        self.sampler.rng_state().iter().for_each(|&s| w.u64(s));
        history.iter().for_each(|&t| w.u32(t));
        debug_assert_eq!(w.at, size);
        Ok(())
    }

    fn write_cpu_state(&self, w: &mut Writer) {
        w.f32s(&self.state.recurrent);
        for ring in &self.state.kv {
            let (positions, filled) = ring.parts();
            w.u64(filled as u64);
            positions.iter().for_each(|&p| w.u64(p));
            let n = 2 * ring.rows_bytes();
            ring.write_rows(&mut w.buf[w.at..w.at + n]);
            w.at += n;
        }
    }

    /// The same bytes from a GPU session: its state ranges placed at their CPU offsets, its
    /// rings' fill and positions derived from the stream position (a blob loads on either
    /// backend).
    fn write_gpu_state(&self, w: &mut Writer, gpu: &StateBytes) {
        let start = w.at;
        let len = 4 * self.state.recurrent.len();
        w.buf[start..start + len].fill(0);
        for (off, bytes) in gpu.ranges() {
            let at = start + 4 * off;
            w.buf[at..at + bytes.len()].copy_from_slice(bytes);
        }
        w.at += len;
        for (i, ring) in self.state.kv.iter().enumerate() {
            let (filled, positions) = ring.layout_after(self.position);
            w.u64(filled as u64);
            positions.for_each(|p| w.u64(p));
            w.bytes(gpu.ring(i));
        }
    }

    /// Restores a blob written by [`Session::save_state`] (on either backend); on error the
    /// session is unchanged.
    pub fn load_state(&mut self, blob: &[u8]) -> Result<(), SessionError> {
        let size = self.state_size();
        if blob.len() < HEADER {
            return Err(SessionError::StateSize {
                expected: size,
                found: blob.len(),
            });
        }
        let mut r = Reader { buf: blob, at: 0 };
        if r.take(8) != MAGIC {
            return Err(SessionError::StateMagic);
        }
        let version = r.u32();
        if version != VERSION {
            return Err(SessionError::StateVersion {
                expected: VERSION,
                found: version,
            });
        }
        let flags = r.u32();
        if r.u64() != self.model.fingerprint() {
            return Err(SessionError::StateModel);
        }
        if r.u64() != self.session_fingerprint() {
            return Err(SessionError::StateSessionConfig);
        }
        if r.u64() != size as u64 || blob.len() != size {
            return Err(SessionError::StateSize {
                expected: size,
                found: blob.len(),
            });
        }
        let position = r.u64();
        let count = r.u64();
        let body = r.at + 8;
        self.validate_body(blob, body)?;

        let mut r = Reader {
            buf: blob,
            at: body,
        };
        r.f32s(&mut self.state.recurrent);
        for ring in &mut self.state.kv {
            let (positions, filled) = ring.parts_mut();
            *filled = r.u64() as usize;
            positions.iter_mut().for_each(|p| *p = r.u64());
            ring.read_rows(r.take(2 * ring.rows_bytes()));
        }
        r.f32s(&mut self.logits);
        let rng = [r.u64(), r.u64(), r.u64(), r.u64()];
        self.sampler.set_rng_state(rng)?; // validated above: cannot fail
        let (history, history_count) = self.history.parts_mut();
        history.iter_mut().for_each(|t| *t = r.u32());
        *history_count = count;
        self.position = position as usize;
        self.has_logits = flags & HAS_LOGITS != 0;
        if let Some(g) = self.gpu.as_deref_mut() {
            let rings = self.state.kv.iter().map(KvRing::all_bytes);
            g.write_state(&self.state.recurrent, rings);
        }
        Ok(())
    }

    /// Checks the values a blob could get wrong (ring fill, RNG) before anything is written.
    fn validate_body(&self, blob: &[u8], body: usize) -> Result<(), SessionError> {
        let mut r = Reader {
            buf: blob,
            at: body + 4 * self.state.recurrent.len(),
        };
        for ring in &self.state.kv {
            let filled = r.u64();
            if filled > ring.capacity() as u64 {
                return Err(SessionError::StateCorrupt(
                    "KV ring fill exceeds its capacity",
                ));
            }
            r.at += 8 * ring.capacity() + 2 * ring.rows_bytes();
        }
        r.at += 4 * self.logits.len();
        if (0..4).all(|_| r.u64() == 0) {
            return Err(SessionError::StateCorrupt("all-zero RNG state"));
        }
        Ok(())
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    fn f32s(&mut self, v: &[f32]) {
        let out = &mut self.buf[self.at..self.at + 4 * v.len()];
        for (o, x) in out.chunks_exact_mut(4).zip(v) {
            o.copy_from_slice(&x.to_le_bytes());
        }
        self.at += 4 * v.len();
    }
}

/// Reads a blob whose size was checked against the session's layout.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let b = &self.buf[self.at..self.at + n];
        self.at += n;
        b
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().expect("4 bytes"))
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().expect("8 bytes"))
    }

    fn f32s(&mut self, out: &mut [f32]) {
        let src = self.take(4 * out.len());
        for (o, b) in out.iter_mut().zip(src.chunks_exact(4)) {
            *o = f32::from_le_bytes(b.try_into().expect("4 bytes"));
        }
    }
}
