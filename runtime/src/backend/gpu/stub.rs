//! Built without the `gpu` feature: no GPU backend.

use crate::backend::Backend;
use crate::error::SessionError;
use crate::model::Model;
use crate::program::{Buf, Program};
use crate::session::SessionConfig;

/// The sampling values of one GPU draw.
#[derive(Clone, Copy, Debug)]
pub struct GpuDraw<'a> {
    pub top_k: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub min_p: f32,
    pub uniform: f32,
    pub penalty: f32,
    pub recent: &'a [u32],
}

/// Uninhabited: no GPU, no snapshot.
pub enum StateBytes {}

impl StateBytes {
    pub fn ranges(&self) -> std::iter::Empty<(usize, &[u8])> {
        match *self {}
    }

    pub fn ring(&self, _i: usize) -> &[u8] {
        match *self {}
    }
}

/// Uninhabited: a session never holds one when the feature is off.
#[derive(Debug)]
pub enum GpuBackend {}

/// `Backend::Gpu` is an error, anything else runs on the CPU.
pub fn select(
    _model: &Model,
    config: &SessionConfig,
    _decode: &Program,
    _prefill: &Program,
) -> Result<Option<Box<GpuBackend>>, SessionError> {
    match config.backend {
        Backend::Gpu => Err(SessionError::InvalidConfig(
            "this build of weft has no GPU backend (feature `gpu`)".into(),
        )),
        _ => Ok(None),
    }
}

impl GpuBackend {
    pub fn set_tokens(&mut self, _tokens: &[u32]) {
        match *self {}
    }

    pub fn set_frame(&mut self, _input: Buf, _frame: &[f32]) {
        match *self {}
    }

    pub fn run(
        &mut self,
        _prefill: bool,
        _pos0: usize,
        _n: usize,
        _last: &mut [f32],
        _all: Option<&mut [f32]>,
    ) {
        match *self {}
    }

    pub fn decode_greedy(&mut self, _pos: usize) -> u32 {
        match *self {}
    }

    pub fn read_state<R>(&self, _f: impl FnOnce(&StateBytes) -> R) -> R {
        match *self {}
    }

    pub fn write_state<'a>(
        &mut self,
        _recurrent: &[f32],
        _rings: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        match *self {}
    }

    pub fn decode_sample(&mut self, _pos: usize, _draw: &GpuDraw) -> Option<u32> {
        match *self {}
    }

    pub fn clear_state(&mut self) {
        match *self {}
    }
}
