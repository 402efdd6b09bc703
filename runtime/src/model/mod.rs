//! [`Model`]: an immutable, shareable (`Send + Sync`) model — the GGUF view, its validated
//! [`Config`], the [`Plan`] of blocks and the weights bound to it.

pub mod attention;
pub mod config;
pub mod ffn;
pub mod frames;
pub mod jamba;
pub mod llama;
pub mod mamba;
pub mod mamba2;
pub mod plan;
pub mod tokenizer;
pub mod weights;
pub mod zamba2;

use std::path::Path;

use weft_kernels::cpu::matvec::WeightView;

pub use config::{Arch, Config};
pub use plan::Plan;

use crate::error::ModelError;
use crate::gguf::{Gguf, Placement};
use crate::program::{Program, ProgramBuilder, WeightId};
use weights::{Binder, Stored, WeightTable};

/// A loaded model. Sessions share it through an `Arc`.
#[derive(Debug)]
pub struct Model {
    gguf: Gguf,
    config: Config,
    plan: Plan,
    weights: WeightTable,
    fingerprint: u64,
}

impl Model {
    /// Memory-maps and validates a GGUF file.
    pub fn load(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        Model::from_gguf(Gguf::open(path.as_ref())?)
    }

    /// Opens a GGUF file placed as `placement` asks ([`Placement::HugePages`]: read into huge
    /// pages, faster decode for a copy at load) and validates it as [`Model::load`] does.
    pub fn load_with(path: impl AsRef<Path>, placement: Placement) -> Result<Model, ModelError> {
        Model::from_gguf(Gguf::open_with(path.as_ref(), placement, &mut |_| true)?)
    }

    /// Reads the config, builds the Plan and binds every weight, checking shapes and types.
    pub fn from_gguf(gguf: Gguf) -> Result<Model, ModelError> {
        let name = gguf.get_str("general.architecture")?.to_string();
        let arch = Arch::from_name(&name).ok_or(ModelError::UnsupportedArchitecture(name))?;
        let meta = config::Meta {
            gguf: &gguf,
            arch: arch.name(),
        };
        let config = match arch {
            Arch::Mamba => mamba::config(&meta)?,
            Arch::Mamba2 => mamba2::config(&meta)?,
            Arch::Jamba => jamba::config(&meta)?,
            Arch::Zamba2 => zamba2::config(&meta)?,
            Arch::Llama => llama::config(&meta)?,
        };
        let mut binder = Binder::new(&gguf);
        let plan = Plan::build(&config, &mut binder)?;
        let weights = binder.finish();
        let fingerprint = fingerprint(&config, &gguf);
        Ok(Model {
            gguf,
            config,
            plan,
            weights,
            fingerprint,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn gguf(&self) -> &Gguf {
        &self.gguf
    }

    /// Hash of the architecture, hyper-parameters and tensor table: identifies the model in
    /// saved session states.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Lowers the Plan into a Program for up to `rows` tokens (or frames) per run.
    pub fn compile(&self, rows: usize, logits_all: bool) -> Program {
        let mut p = ProgramBuilder::new(rows, self.config.input_width());
        let logits = self.plan.lower(&self.config, &mut p, logits_all);
        p.finish(logits)
    }

    /// An f32 weight (norm, bias, A, D, conv taps).
    pub fn vector(&self, id: WeightId) -> &[f32] {
        match &self.weights.stored[id.0 as usize] {
            Stored::Vector(v) => v,
            Stored::Matrix { .. } => panic!("weight {} is a matrix", self.weights.name(id)),
        }
    }

    /// A matrix (or expert `expert` of a stacked one) as the kernels read it.
    pub fn matrix(&self, id: WeightId, expert: usize) -> WeightView<'_> {
        match &self.weights.stored[id.0 as usize] {
            Stored::Matrix {
                tensor,
                ty,
                rows,
                cols,
                ..
            } => {
                let bytes = self.gguf.tensor_bytes(tensor);
                let per = bytes.len() / self.experts(id);
                WeightView {
                    ty: *ty,
                    data: &bytes[expert * per..(expert + 1) * per],
                    rows: *rows,
                    cols: *cols,
                }
            }
            Stored::Vector(_) => panic!("weight {} is a vector", self.weights.name(id)),
        }
    }

    /// Experts stacked in matrix `id` (1 for a plain matrix).
    pub fn experts(&self, id: WeightId) -> usize {
        match &self.weights.stored[id.0 as usize] {
            Stored::Matrix { experts, .. } => *experts,
            Stored::Vector(_) => 1,
        }
    }
}

/// FNV-1a over the config and the tensor table (names, types, dims).
fn fingerprint(config: &Config, gguf: &Gguf) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(format!("{config:?}").as_bytes());
    for t in gguf.tensors() {
        h.write(t.name.as_bytes());
        h.write(&t.ty.id().to_le_bytes());
        for &d in &t.dims {
            h.write(&d.to_le_bytes());
        }
    }
    h.0
}

pub(crate) struct Fnv(pub u64);

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
