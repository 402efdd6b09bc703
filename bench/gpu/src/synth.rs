//! Random-weight Mamba-2 GGUFs at real shapes, written straight to bytes (random quant blocks
//! with small scales: no quantisation pass, so multi-GB models build in seconds).

use weft::gguf::{GgmlType, GgufWriter};

pub struct Shape {
    pub name: &'static str,
    pub n_embd: usize,
    pub layers: usize,
    pub d_inner: usize,
    pub d_state: usize,
    pub heads: usize,
    pub groups: usize,
    pub vocab: usize,
}

pub const SHAPES: [Shape; 3] = [
    Shape {
        name: "mamba2-130m",
        n_embd: 768,
        layers: 24,
        d_inner: 1536,
        d_state: 128,
        heads: 24,
        groups: 1,
        vocab: 50288,
    },
    Shape {
        name: "zamba2-1.2b",
        n_embd: 2048,
        layers: 38,
        d_inner: 4096,
        d_state: 128,
        heads: 64,
        groups: 1,
        vocab: 32000,
    },
    Shape {
        name: "zamba2-2.7b",
        n_embd: 2560,
        layers: 54,
        d_inner: 5120,
        d_state: 64,
        heads: 80,
        groups: 1,
        vocab: 32000,
    },
];

struct Rand(u64);

impl Rand {
    fn bytes(&mut self, out: &mut [u8]) {
        for c in out.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let b = self.0.to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
    }

    fn floats(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        let mut b = vec![0u8; 4 * n];
        self.bytes(&mut b);
        b.chunks_exact(4)
            .map(|c| {
                lo + (hi - lo) * (u32::from_le_bytes([c[0], c[1], c[2], c[3]]) >> 8) as f32
                    / (1 << 24) as f32
            })
            .collect()
    }
}

/// Random `rows × cols` matrix bytes of `ty` (scales 1/(8·√cols) so activations stay O(1)).
fn matrix(r: &mut Rand, ty: GgmlType, rows: usize, cols: usize) -> Vec<u8> {
    let n = rows * ty.row_bytes(cols).unwrap();
    let mut b = vec![0u8; n];
    r.bytes(&mut b);
    let scale = half::f16::from_f32(1.0 / (8.0 * (cols as f32).sqrt())).to_le_bytes();
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 => {
            for blk in b.chunks_exact_mut(ty.block_bytes()) {
                blk[..2].copy_from_slice(&scale);
            }
        }
        GgmlType::F16 => {
            for h in b.chunks_exact_mut(2) {
                let v = (u16::from_le_bytes([h[0], h[1]]) as f32 / 65536.0 - 0.5) * 0.1;
                h.copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
            }
        }
        _ => unreachable!("bench types: q8_0, q4_0, f16"),
    }
    b
}

/// The GGUF bytes of `s` with matrices in `ty`.
pub fn gguf(s: &Shape, ty: GgmlType) -> Vec<u8> {
    let mut r = Rand(0x2545_f491_4f6c_dd1d);
    let mut w = GgufWriter::new();
    let a = "mamba2";
    w.add_str("general.architecture", a).unwrap();
    w.add_str("general.name", s.name).unwrap();
    for (k, v) in [
        ("context_length", 1 << 20),
        ("embedding_length", s.n_embd),
        ("feed_forward_length", 0),
        ("attention.head_count", 0),
        ("block_count", s.layers),
        ("ssm.conv_kernel", 4),
        ("ssm.inner_size", s.d_inner),
        ("ssm.state_size", s.d_state),
        ("ssm.time_step_rank", s.heads),
        ("ssm.group_count", s.groups),
        ("vocab_size", s.vocab),
    ] {
        w.add_u32(&format!("{a}.{k}"), v as u32).unwrap();
    }
    w.add_f32(&format!("{a}.attention.layer_norm_rms_epsilon"), 1e-5)
        .unwrap();
    let (e, di, gn, nh) = (
        s.n_embd as u64,
        s.d_inner as u64,
        (s.groups * s.d_state) as u64,
        s.heads as u64,
    );
    let (conv_dim, proj) = (di + 2 * gn, 2 * di + 2 * gn + nh);
    w.add_tensor(
        "token_embd.weight",
        &[e, s.vocab as u64],
        ty,
        matrix(&mut r, ty, s.vocab, s.n_embd),
    )
    .unwrap();
    w.add_tensor_f32("output_norm.weight", &[e], &vec![1.0; s.n_embd])
        .unwrap();
    for l in 0..s.layers {
        let b = format!("blk.{l}");
        w.add_tensor_f32(&format!("{b}.attn_norm.weight"), &[e], &vec![1.0; s.n_embd])
            .unwrap();
        w.add_tensor(
            &format!("{b}.ssm_in.weight"),
            &[e, proj],
            ty,
            matrix(&mut r, ty, proj as usize, s.n_embd),
        )
        .unwrap();
        w.add_tensor_f32(
            &format!("{b}.ssm_conv1d.weight"),
            &[4, conv_dim],
            &r.floats(4 * conv_dim as usize, -0.5, 0.5),
        )
        .unwrap();
        w.add_tensor_f32(
            &format!("{b}.ssm_conv1d.bias"),
            &[conv_dim],
            &r.floats(conv_dim as usize, -0.1, 0.1),
        )
        .unwrap();
        w.add_tensor_f32(
            &format!("{b}.ssm_dt.bias"),
            &[nh],
            &r.floats(s.heads, -4.0, -2.0),
        )
        .unwrap();
        w.add_tensor_f32(
            &format!("{b}.ssm_a"),
            &[1, nh],
            &r.floats(s.heads, -8.0, -1.0),
        )
        .unwrap();
        w.add_tensor_f32(&format!("{b}.ssm_d"), &[1, nh], &vec![1.0; s.heads])
            .unwrap();
        w.add_tensor_f32(
            &format!("{b}.ssm_norm.weight"),
            &[di / s.groups as u64, s.groups as u64],
            &vec![1.0; s.d_inner],
        )
        .unwrap();
        w.add_tensor(
            &format!("{b}.ssm_out.weight"),
            &[di, e],
            ty,
            matrix(&mut r, ty, s.n_embd, s.d_inner),
        )
        .unwrap();
    }
    w.into_bytes().unwrap()
}
