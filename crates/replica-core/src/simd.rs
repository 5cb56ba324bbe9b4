//! CPU-state hygiene shared by the numerical code.

/// Clears the upper halves of the AVX registers (`vzeroupper`) on the current thread.
///
/// faer's x86 matrix-product kernels (hand-written assembly in `private-gemm-x86`) return with
/// the upper halves of the ymm registers dirty, on whichever (rayon) threads ran them. Scalar f64
/// code compiled for baseline x86-64 (SSE2) then pays a false-dependency penalty on every
/// instruction until something executes `vzeroupper` (measured: row log-sum-exps after a product
/// ran 20 times slower). Code that runs scalar loops on threads that may have run a product calls
/// this first (~1 ns).
#[cfg(target_arch = "x86_64")]
pub fn clear_upper_simd_state() {
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above), the only requirement of
        // `zeroupper_avx`.
        unsafe { zeroupper_avx() }
    }
}

/// No-op off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub fn clear_upper_simd_state() {}

/// `vzeroupper`. Unsafe only because of `#[target_feature]`: callers must have checked that the
/// CPU supports AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zeroupper_avx() {
    std::arch::x86_64::_mm256_zeroupper()
}
