//! Large results allocated for few page faults: on Linux the memory of a
//! large zeroed array is advised as transparent huge pages before anything
//! is written to it, so that filling it takes one page fault per 2 MiB
//! instead of one per 4 KiB (W5's 257 MB of Jacobians: 128 faults instead
//! of 63,000, which cost about a sixth of its run time). Elsewhere, or where
//! the kernel declines the advice, the arrays are ordinary.

/// Arrays at least this large (in bytes) get the huge-page advice: smaller
/// ones hold less than a few huge pages.
const HUGE_ADVICE_MIN_BYTES: usize = 8 << 20;

/// `len` zeros, their memory advised as huge pages when large.
pub(super) fn large_zeros(len: usize) -> Vec<f64> {
    // `vec![0.0; len]` is `calloc`: large blocks are fresh zero pages that
    // nothing has touched yet, so the advice applies to every fault.
    let mut values = vec![0.0f64; len];
    if std::mem::size_of_val(values.as_slice()) >= HUGE_ADVICE_MIN_BYTES {
        advise_huge_pages(&mut values);
    }
    values
}

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
fn advise_huge_pages(values: &mut [f64]) {
    use std::ffi::{c_int, c_void};
    extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
    /// `MADV_HUGEPAGE` of the generic Linux ABI (x86-64 and AArch64).
    const MADV_HUGEPAGE: c_int = 14;
    let begin = values.as_mut_ptr() as usize;
    if let Some((start, stop)) = huge_range(begin, begin + std::mem::size_of_val(values)) {
        // SAFETY: `start..stop` lies inside `values`, which this function
        // borrows mutably; `MADV_HUGEPAGE` only changes how the kernel backs
        // the range with pages, never its contents, and needs no other
        // invariant. A failure (THP disabled) leaves ordinary pages, so the
        // result is deliberately ignored.
        let _ = unsafe { madvise(start as *mut c_void, stop - start, MADV_HUGEPAGE) };
    }
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
fn advise_huge_pages(_values: &mut [f64]) {}

/// The size of a transparent huge page on x86-64 and AArch64.
const HUGE_PAGE: usize = 2 << 20;

/// The whole huge pages inside the addresses `begin..end`, as a range of
/// addresses; `None` when it holds none.
#[cfg_attr(
    not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))),
    allow(dead_code)
)]
fn huge_range(begin: usize, end: usize) -> Option<(usize, usize)> {
    let (start, stop) = (begin.next_multiple_of(HUGE_PAGE), end / HUGE_PAGE * HUGE_PAGE);
    (stop > start).then_some((start, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advised_range_is_the_whole_huge_pages_inside_the_array() {
        let page = HUGE_PAGE;
        // Aligned at both ends: all of it.
        assert_eq!(huge_range(3 * page, 7 * page), Some((3 * page, 7 * page)));
        // Unaligned: rounded inwards to whole pages.
        assert_eq!(huge_range(3 * page + 8, 7 * page - 8), Some((4 * page, 6 * page)));
        // Less than one whole page inside: none, also when the array spans
        // a page boundary.
        assert_eq!(huge_range(3 * page + 8, 4 * page + 8), None);
        assert_eq!(huge_range(3 * page, 4 * page - 1), None);
        assert_eq!(huge_range(3 * page, 3 * page), None);
        // An array of 8 MiB (the advice's threshold) at any alignment holds
        // at least three whole pages.
        for offset in [0, 8, page / 2, page - 8] {
            let begin = 5 * page + offset;
            let (start, stop) = huge_range(begin, begin + HUGE_ADVICE_MIN_BYTES).unwrap();
            assert!(start >= begin && stop <= begin + HUGE_ADVICE_MIN_BYTES);
            assert!((stop - start) / page >= 3, "offset {offset}");
        }
    }

    #[test]
    fn large_and_small_arrays_are_zeroed_and_writable() {
        for len in [60, 64 * 10 * 2048] {
            let mut a = large_zeros(len);
            assert_eq!(a.len(), len);
            assert!(a.iter().all(|&v| v == 0.0));
            a.fill(1.5);
            assert_eq!(a.iter().sum::<f64>(), 1.5 * len as f64);
        }
    }
}
