//! Transparent huge pages for the large buffers decode streams through every token.
//!
//! Decode reads every weight and the whole recurrent state once per token. With 4 KiB pages a
//! 140 MB model spans 34,000 pages, so most of those reads start with a TLB miss and a page
//! walk; 2 MiB pages cut that 512-fold (+4–12 % decode tokens/s on mamba2-130m, bench/README.md).
//! Linux and Android back memory with huge pages when `madvise(MADV_HUGEPAGE)` asks for it and
//! `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or `always`; elsewhere this module
//! changes nothing.

/// Asks the kernel to back the 2 MiB-aligned part of `buf` with huge pages. Contents are
/// unchanged; pages not yet touched come in as huge pages, touched ones may be merged later by
/// the kernel. Best effort: returns whether the advice was taken (false on other systems, for
/// buffers under 2 MiB, or where the kernel has no THP).
pub fn advise_huge_pages<T>(buf: &[T]) -> bool {
    const HUGE: usize = 2 << 20;
    let start = buf.as_ptr() as usize;
    let end = start + std::mem::size_of_val(buf);
    let (lo, hi) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if hi <= lo {
        return false;
    }
    advise(lo, hi - lo)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn advise(addr: usize, len: usize) -> bool {
    // SAFETY: `addr..addr + len` lies inside a live allocation the caller borrows, and
    // MADV_HUGEPAGE only changes how the kernel backs those pages, never their contents.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE) == 0 }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn advise(_addr: usize, _len: usize) -> bool {
    false
}

/// `n` zeros, advised for huge pages before anything touches them (large zeroed allocations
/// come straight from the kernel untouched, so their first writes fault in huge pages).
pub fn zeroed_huge<T: bytemuck::Zeroable>(n: usize) -> Vec<T> {
    let v = bytemuck::allocation::zeroed_vec::<T>(n);
    advise_huge_pages(&v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_huge_is_zeroed_and_writable() {
        for n in [0, 1, 1000, 3 << 20] {
            let mut v = zeroed_huge::<f32>(n);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&x| x == 0.0));
            v.iter_mut().enumerate().for_each(|(i, x)| *x = i as f32);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
        }
    }

    #[test]
    fn small_buffers_are_left_alone() {
        assert!(!advise_huge_pages(&[0u8; 4096]));
    }
}
