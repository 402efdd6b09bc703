//! The WGSL kernels (`kernels/shaders/*.wgsl`), their variants and the tiny preprocessor that
//! turns a kernel × variant × tier into one WGSL module. Needs no GPU: the naga test validates
//! every combination in plain `cargo test`.
//!
//! Preprocessor: lines `#if A || !B`, `#elif …`, `#else`, `#endif` (nestable) keep or drop the
//! lines between them; a name is true when it is a define of the variant or of the tier. The
//! tier also prepends `const SG: u32 = …;` (subgroup size) when it uses subgroups.

/// Capability tier a shader is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Downlevel: ≤ 4 storage buffers per kernel, ≤ 256 invocations, < 16 KiB workgroup memory,
    /// no f16, no subgroups. Every kernel has this form.
    Base,
    /// Subgroup reductions, for adapters whose subgroup size is fixed (`size`, a power of two
    /// between 4 and 128).
    Subgroups { size: u32 },
}

impl Tier {
    /// 0 for [`Tier::Base`], 1 for [`Tier::Subgroups`].
    pub fn level(self) -> u32 {
        match self {
            Tier::Base => 0,
            Tier::Subgroups { .. } => 1,
        }
    }

    /// Lanes that reduce one output row in matvec / scan kernels; `256 / lanes` rows per workgroup.
    pub fn row_lanes(self) -> u32 {
        match self {
            Tier::Base => 32,
            Tier::Subgroups { size } => size,
        }
    }
}

/// Storage binding access (bindings 3.. of a kernel; 0-2 are the same for every kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// One WGSL kernel (one file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kernel {
    MatVec,
    MatVec1,
    Embed,
    RmsNorm,
    GatedRmsNorm,
    Conv1dSilu,
    Softplus,
    SsmScan1,
    SsmScan2,
    Glu,
    Add,
    AddBias,
    Copy,
    Rope,
    Attend,
    Attend1,
    AttendMerge,
    MoeRoute,
    Argmax,
    SampleTopK,
    Penalize,
}

/// The weight-type defines of matvec / embed.
pub const WEIGHT_TYPES: [&str; 5] = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];

const COMMON: &str = include_str!("../../shaders/common.wgsl");

impl Kernel {
    pub const ALL: [Kernel; 21] = [
        Kernel::MatVec,
        Kernel::MatVec1,
        Kernel::Embed,
        Kernel::RmsNorm,
        Kernel::GatedRmsNorm,
        Kernel::Conv1dSilu,
        Kernel::Softplus,
        Kernel::SsmScan1,
        Kernel::SsmScan2,
        Kernel::Glu,
        Kernel::Add,
        Kernel::AddBias,
        Kernel::Copy,
        Kernel::Rope,
        Kernel::Attend,
        Kernel::Attend1,
        Kernel::AttendMerge,
        Kernel::MoeRoute,
        Kernel::Argmax,
        Kernel::SampleTopK,
        Kernel::Penalize,
    ];

    /// File name under `kernels/shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::MatVec => "matvec.wgsl",
            Kernel::MatVec1 => "matvec1.wgsl",
            Kernel::Embed => "embed.wgsl",
            Kernel::RmsNorm => "rms_norm.wgsl",
            Kernel::GatedRmsNorm => "gated_rms_norm.wgsl",
            Kernel::Conv1dSilu => "conv1d_silu.wgsl",
            Kernel::Softplus => "softplus.wgsl",
            Kernel::SsmScan1 => "ssm_scan1.wgsl",
            Kernel::SsmScan2 => "ssm_scan2.wgsl",
            Kernel::Glu => "glu.wgsl",
            Kernel::Add => "add.wgsl",
            Kernel::AddBias => "add_bias.wgsl",
            Kernel::Copy => "copy.wgsl",
            Kernel::Rope => "rope.wgsl",
            Kernel::Attend => "attend.wgsl",
            Kernel::Attend1 => "attend1.wgsl",
            Kernel::AttendMerge => "attend_merge.wgsl",
            Kernel::MoeRoute => "moe_route.wgsl",
            Kernel::Argmax => "argmax.wgsl",
            Kernel::SampleTopK => "sample_topk.wgsl",
            Kernel::Penalize => "penalize.wgsl",
        }
    }

    /// The kernel's WGSL (without the prelude).
    pub fn source(self) -> &'static str {
        match self {
            Kernel::MatVec => include_str!("../../shaders/matvec.wgsl"),
            Kernel::MatVec1 => include_str!("../../shaders/matvec1.wgsl"),
            Kernel::Embed => include_str!("../../shaders/embed.wgsl"),
            Kernel::RmsNorm => include_str!("../../shaders/rms_norm.wgsl"),
            Kernel::GatedRmsNorm => include_str!("../../shaders/gated_rms_norm.wgsl"),
            Kernel::Conv1dSilu => include_str!("../../shaders/conv1d_silu.wgsl"),
            Kernel::Softplus => include_str!("../../shaders/softplus.wgsl"),
            Kernel::SsmScan1 => include_str!("../../shaders/ssm_scan1.wgsl"),
            Kernel::SsmScan2 => include_str!("../../shaders/ssm_scan2.wgsl"),
            Kernel::Glu => include_str!("../../shaders/glu.wgsl"),
            Kernel::Add => include_str!("../../shaders/add.wgsl"),
            Kernel::AddBias => include_str!("../../shaders/add_bias.wgsl"),
            Kernel::Copy => include_str!("../../shaders/copy.wgsl"),
            Kernel::Rope => include_str!("../../shaders/rope.wgsl"),
            Kernel::Attend => include_str!("../../shaders/attend.wgsl"),
            Kernel::Attend1 => include_str!("../../shaders/attend1.wgsl"),
            Kernel::AttendMerge => include_str!("../../shaders/attend_merge.wgsl"),
            Kernel::MoeRoute => include_str!("../../shaders/moe_route.wgsl"),
            Kernel::Argmax => include_str!("../../shaders/argmax.wgsl"),
            Kernel::SampleTopK => include_str!("../../shaders/sample_topk.wgsl"),
            Kernel::Penalize => include_str!("../../shaders/penalize.wgsl"),
        }
    }

    /// Access of the kernel-specific storage bindings 3, 4, …
    pub fn storage(self) -> &'static [Access] {
        self.storage_of(&[])
    }

    /// [`Kernel::storage`] of one variant: matvec1's `CONV` binds the conv state, weight and
    /// bias too (seven storage buffers in all, beyond the downlevel four: only recorded where
    /// the adapter has them, see [`GpuContext::storage_buffers`](super::GpuContext)).
    pub fn storage_of(self, defines: &[&str]) -> &'static [Access] {
        use Access::*;
        match self {
            Kernel::MatVec1 if defines.contains(&"CONV") => {
                &[Read, Read, Read, ReadWrite, Read, Read]
            }
            Kernel::MatVec | Kernel::MatVec1 => &[Read, Read, Read],
            Kernel::Embed => &[Read, Read],
            Kernel::RmsNorm | Kernel::GatedRmsNorm | Kernel::Softplus | Kernel::AddBias => &[Read],
            Kernel::Rope => &[Read],
            Kernel::Conv1dSilu | Kernel::SsmScan1 | Kernel::SsmScan2 => &[ReadWrite, Read, Read],
            Kernel::Attend | Kernel::Attend1 => &[ReadWrite, ReadWrite],
            Kernel::AttendMerge => &[Read],
            Kernel::Argmax | Kernel::SampleTopK | Kernel::Penalize => &[ReadWrite],
            Kernel::Glu | Kernel::Add | Kernel::Copy | Kernel::MoeRoute => &[],
        }
    }

    /// Every variant of the kernel, as its list of defines.
    pub fn variants(self) -> Vec<Vec<&'static str>> {
        match self {
            Kernel::MatVec => WEIGHT_TYPES
                .iter()
                .flat_map(|t| {
                    let fused = [vec![*t], vec![*t, "NORM"], vec![*t, "NORM", "GATED"]];
                    let t1 = fused.clone().map(|mut v| {
                        v.push("T1");
                        v
                    });
                    fused.into_iter().chain(t1).chain([vec![*t, "EXPERT"]])
                })
                .collect(),
            Kernel::MatVec1 => ["Q8_0", "Q4_0"]
                .iter()
                .flat_map(|t| {
                    [
                        vec![*t],
                        vec![*t, "NORM"],
                        vec![*t, "NORM", "GATED"],
                        vec![*t, "GATED"],
                        vec![*t, "GATED", "GELU"],
                    ]
                })
                .flat_map(|v| {
                    let mut one_row = v.clone();
                    one_row.push("MR1");
                    [v, one_row]
                })
                .flat_map(|v| {
                    let mut conv = v.clone();
                    conv.push("CONV");
                    if v.contains(&"GATED") {
                        vec![v]
                    } else {
                        vec![v, conv]
                    }
                })
                .collect(),
            Kernel::Embed => WEIGHT_TYPES.iter().map(|t| vec![*t]).collect(),
            Kernel::Glu => vec![vec!["SILU"], vec!["GELU"]],
            Kernel::Attend | Kernel::Attend1 => vec![vec!["KV_F32"], vec!["KV_F16"]],
            _ => vec![vec![]],
        }
    }
}

/// Why a shader could not be preprocessed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShaderError {
    #[error("{file}:{line}: {msg}")]
    Directive {
        file: &'static str,
        line: usize,
        msg: &'static str,
    },
}

/// The full WGSL of `kernel` with `defines` at `tier`: tier constants, prelude, kernel.
pub fn build(kernel: Kernel, defines: &[&str], tier: Tier) -> Result<String, ShaderError> {
    let mut defs: Vec<&str> = defines.to_vec();
    let mut out = String::new();
    if let Tier::Subgroups { size } = tier {
        defs.push("SUBGROUPS");
        out.push_str(&format!("const SG: u32 = {size}u;\n"));
    }
    out.push_str(&preprocess(COMMON, "common.wgsl", &defs)?);
    out.push_str(&preprocess(kernel.source(), kernel.file(), &defs)?);
    Ok(out)
}

fn eval(expr: &str, defs: &[&str]) -> bool {
    expr.split("||").any(|term| {
        let term = term.trim();
        match term.strip_prefix('!') {
            Some(name) => !defs.contains(&name.trim()),
            None => defs.contains(&term),
        }
    })
}

/// Applies the `#if` directives of `src`.
pub fn preprocess(src: &str, file: &'static str, defs: &[&str]) -> Result<String, ShaderError> {
    // Per open #if: (parent active, a branch already taken, this branch active).
    let mut stack: Vec<(bool, bool, bool)> = Vec::new();
    let mut out = String::with_capacity(src.len());
    let err = |line, msg| ShaderError::Directive { file, line, msg };
    for (i, line) in src.lines().enumerate() {
        let active = stack.last().is_none_or(|s| s.2);
        let t = line.trim_start();
        if let Some(e) = t.strip_prefix("#if ") {
            let on = active && eval(e, defs);
            stack.push((active, on, on));
        } else if let Some(e) = t.strip_prefix("#elif ") {
            let s = stack.last_mut().ok_or(err(i + 1, "#elif without #if"))?;
            let on = s.0 && !s.1 && eval(e, defs);
            s.1 |= on;
            s.2 = on;
        } else if t.starts_with("#else") {
            let s = stack.last_mut().ok_or(err(i + 1, "#else without #if"))?;
            s.2 = s.0 && !s.1;
            s.1 = true;
        } else if t.starts_with("#endif") {
            stack.pop().ok_or(err(i + 1, "#endif without #if"))?;
        } else if t.starts_with('#') {
            return Err(err(i + 1, "unknown directive"));
        } else if active {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !stack.is_empty() {
        return Err(err(src.lines().count(), "unterminated #if"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_select_lines() {
        let src = "a\n#if X\nb\n#elif Y || !Z\nc\n#else\nd\n#endif\ne\n";
        assert_eq!(preprocess(src, "t", &["X"]).unwrap(), "a\nb\ne\n");
        assert_eq!(preprocess(src, "t", &["Y", "Z"]).unwrap(), "a\nc\ne\n");
        assert_eq!(preprocess(src, "t", &[]).unwrap(), "a\nc\ne\n");
        assert_eq!(preprocess(src, "t", &["Z"]).unwrap(), "a\nd\ne\n");
        let nested = "#if A\n#if B\nx\n#else\ny\n#endif\n#endif\n";
        assert_eq!(preprocess(nested, "t", &["A"]).unwrap(), "y\n");
        assert_eq!(preprocess(nested, "t", &["B"]).unwrap(), "");
        assert!(preprocess("#if A\n", "t", &[]).is_err());
        assert!(preprocess("#endif\n", "t", &[]).is_err());
        assert!(preprocess("#define A\n", "t", &[]).is_err());
    }

    #[test]
    fn every_shader_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".wgsl") && f != "common.wgsl")
            .collect();
        files.sort();
        let mut listed: Vec<String> = Kernel::ALL.iter().map(|k| k.file().to_string()).collect();
        listed.sort();
        assert_eq!(files, listed, "every kernels/shaders/*.wgsl is a Kernel");
    }
}
