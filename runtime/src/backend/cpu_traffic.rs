//! Memory traffic of one decode step: the bytes a Program reads from weights, recurrent state
//! and KV rings, for roofline accounting (`weft bench`).

use crate::model::Model;
use crate::program::{Op, Program};
use crate::state::KvType;

/// Bytes one decode step reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Weight matrices (each read once: one expert per routed slot) and f32 weight vectors,
    /// plus the embedding row.
    pub weights: u64,
    /// Conv and SSM state (read once and written once per step; counted once here).
    pub state: u64,
    /// KV bytes per filled ring slot, summed over the rings (keys + values).
    pub kv_per_slot: u64,
}

impl Traffic {
    /// Bytes read by a step whose rings hold `filled[i]` slots.
    pub fn bytes(&self, filled_slots: u64) -> u64 {
        self.weights + self.state + self.kv_per_slot * filled_slots
    }
}

/// The traffic of `program` (a decode Program of `model`) with KV rings of `kv_type`.
pub fn decode_traffic(model: &Model, program: &Program, kv_type: KvType) -> Traffic {
    let mut t = Traffic::default();
    let f32s = |n: usize| 4 * n as u64;
    let plan = model.plan();
    // A token reads one embedding row; a frame model reads its whole input projection.
    if let Some(embd) = &plan.token_embd {
        t.weights += model.matrix(embd.id, 0).row_bytes() as u64;
    }
    if let Some((w, b)) = &plan.frame_in {
        t.weights += model.matrix(w.id, 0).data.len() as u64;
        t.weights += b.as_ref().map_or(0, |b| f32s(model.vector(b.id).len()));
    }
    for op in &program.ops {
        match op {
            Op::MatMul { w, .. } | Op::ExpertMatMul { w, .. } => {
                t.weights += model.matrix(*w, 0).data.len() as u64;
            }
            Op::AddBias { b, .. } => t.weights += f32s(model.vector(*b).len()),
            Op::RmsNorm { w, .. } => {
                t.weights += w.map_or(0, |w| f32s(model.vector(w).len()));
            }
            Op::GatedRmsNorm { w, .. } => t.weights += f32s(model.vector(*w).len()),
            Op::Conv1dSilu { w, b, state, .. } => {
                t.weights += f32s(model.vector(*w).len());
                t.weights += b.map_or(0, |b| f32s(model.vector(b).len()));
                t.state += f32s(state.len);
            }
            Op::Softplus { bias, .. } => {
                t.weights += bias.map_or(0, |b| f32s(model.vector(b).len()));
            }
            Op::SsmScan1 { a, d, state, .. } | Op::SsmScan2 { a, d, state, .. } => {
                t.weights += f32s(model.vector(*a).len() + model.vector(*d).len());
                t.state += f32s(state.len);
            }
            Op::Attend { kv, .. } => {
                t.kv_per_slot += 2 * (kv_type.bytes() * program.state.kv[*kv].width) as u64;
            }
            _ => {}
        }
    }
    t
}
