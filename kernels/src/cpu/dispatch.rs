//! Which SIMD path the kernels use: detected once per process, overridable for debugging.
//!
//! `WEFT_FORCE_SCALAR=1` forces the scalar reference kernels; `WEFT_PATH=<name>` (a name from
//! [`Path::name`]) picks another path the CPU supports (e.g. `avx2` on an AVX-512 machine, to
//! compare). Both are read once, at the first kernel call. Every dispatching kernel also has an
//! `*_on(path, ..)` variant so that tests and benchmarks can run each supported path explicitly.

use std::sync::atomic::{AtomicU8, Ordering};

/// A family of kernels. A path is usable only where [`Path::is_supported`] says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// The reference kernels (`*_scalar`), any CPU.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL/VNNI (+ AVX2, FMA, F16C): Ice Lake, Zen 4 and later.
    Avx512,
    /// [`Path::Avx512`] plus AVX-512 VBMI (byte permutes): the int8 matvec lines up several
    /// quantized blocks per instruction. Ice Lake, Zen 4 and later.
    Avx512Vbmi,
    /// aarch64 Advanced SIMD (always present on aarch64).
    Neon,
    /// aarch64 NEON with the SDOT int8 dot product (ARMv8.2 dotprod: Cortex-A55/A76 and later).
    NeonDotprod,
}

impl Path {
    /// Every path, best last within an architecture.
    pub const ALL: [Path; 6] = [
        Path::Scalar,
        Path::Avx2,
        Path::Avx512,
        Path::Avx512Vbmi,
        Path::Neon,
        Path::NeonDotprod,
    ];

    /// Short lower-case name (also the value `WEFT_PATH` accepts).
    pub fn name(self) -> &'static str {
        match self {
            Path::Scalar => "scalar",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
            Path::Avx512Vbmi => "avx512-vbmi",
            Path::Neon => "neon",
            Path::NeonDotprod => "neon-dotprod",
        }
    }

    /// Whether this CPU can run the path (std caches the CPUID / HWCAP queries).
    pub fn is_supported(self) -> bool {
        match self {
            Path::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => super::x86::Avx2::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => super::x86::Avx512::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            Path::Avx512Vbmi => super::x86::Avx512::vbmi().is_some(),
            #[cfg(target_arch = "aarch64")]
            Path::Neon => true,
            #[cfg(target_arch = "aarch64")]
            Path::NeonDotprod => super::arm::Dotprod::new().is_some(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The supported paths, scalar first (a fixed array: no allocation).
    pub fn supported() -> impl Iterator<Item = Path> {
        Path::ALL.into_iter().filter(|p| p.is_supported())
    }

    fn from_name(s: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == s)
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// 0 = not yet chosen, else index in `Path::ALL` + 1.
static SELECTED: AtomicU8 = AtomicU8::new(0);

/// The path the dispatching kernels use: the best supported one unless overridden by the
/// environment (see the module docs). Chosen at the first call, then one relaxed atomic load.
#[inline]
pub fn selected_path() -> Path {
    match SELECTED.load(Ordering::Relaxed) {
        0 => select(),
        i => Path::ALL[i as usize - 1],
    }
}

#[cold]
fn select() -> Path {
    let p = choose(
        std::env::var("WEFT_FORCE_SCALAR").ok().as_deref(),
        std::env::var("WEFT_PATH").ok().as_deref(),
    );
    let i = Path::ALL.iter().position(|&q| q == p).expect("listed") as u8 + 1;
    // Racing first calls compute the same answer; whichever store lands is fine.
    SELECTED.store(i, Ordering::Relaxed);
    p
}

/// The path for the given `WEFT_FORCE_SCALAR` / `WEFT_PATH` values.
fn choose(force_scalar: Option<&str>, path: Option<&str>) -> Path {
    if matches!(force_scalar, Some(v) if !v.is_empty() && v != "0") {
        return Path::Scalar;
    }
    if let Some(name) = path {
        match Path::from_name(name) {
            Some(p) if p.is_supported() => return p,
            // An unusable override is a configuration slip, not a reason to stop: say so once.
            _ => eprintln!("weft: WEFT_PATH={name:?} is not a supported path here; ignoring it"),
        }
    }
    best()
}

/// The fastest supported path of this CPU.
pub fn best() -> Path {
    [
        Path::Avx512Vbmi,
        Path::Avx512,
        Path::Avx2,
        Path::NeonDotprod,
        Path::Neon,
    ]
    .into_iter()
    .find(|p| p.is_supported())
    .unwrap_or(Path::Scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides() {
        assert_eq!(choose(Some("1"), None), Path::Scalar);
        assert_eq!(choose(Some("1"), Some("avx2")), Path::Scalar);
        assert_eq!(choose(Some("0"), None), best());
        assert_eq!(choose(None, Some("scalar")), Path::Scalar);
        assert_eq!(choose(None, Some("no-such-path")), best());
        for p in Path::supported() {
            assert_eq!(choose(None, Some(p.name())), p);
        }
    }

    #[test]
    fn selection_is_supported_and_stable() {
        let p = selected_path();
        assert!(p.is_supported());
        assert_eq!(selected_path(), p);
        assert!(Path::supported().any(|q| q == Path::Scalar));
        #[cfg(target_arch = "aarch64")]
        assert!(Path::Neon.is_supported());
    }

    /// `WEFT_EXPECT_PATH=<name>` (set by scripts/test-arm.sh) asserts which path this run
    /// dispatches to, so a CI run proves it exercised the path it meant to.
    #[test]
    fn expected_path_is_selected() {
        eprintln!("weft kernels: selected path = {}", selected_path());
        if let Ok(want) = std::env::var("WEFT_EXPECT_PATH") {
            assert_eq!(selected_path().name(), want);
        }
    }
}
