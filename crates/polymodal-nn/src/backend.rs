//! The one place the tensor backend is chosen. burn 0.22 dispatches on the device at run time;
//! switching to a GPU backend means changing these two functions (and burn's features).

use burn::tensor::Device;

/// Device for inference and evaluation.
pub fn inference_device() -> Device {
    Device::flex()
}

/// Device for training (autodiff on top of the inference backend).
pub fn training_device() -> Device {
    Device::flex().autodiff()
}

/// Keeps freed tensor memory inside the process (glibc only; elsewhere a no-op). Call once at
/// the start of a program, before any tensor exists.
///
/// Every tensor op on the CPU backend allocates its output, and a training step frees and
/// reallocates the same few megabytes hundreds of times. With glibc's defaults the freed
/// blocks go back to the kernel (trimmed off the top of the heap, or unmapped when they were
/// mapped on their own), so the next step page-faults and zero-fills the same pages again:
/// kernel time was about a fifth of a training run's CPU time (docs/BENCHMARKS.md, "Issue 11,
/// third pass"). Raising the trim threshold and padding the heap's growth keeps those pages,
/// and blocks up to 32 MiB (glibc's upper limit for this setting) come from the heap instead
/// of their own mappings. The cost is a higher resident size that no longer shrinks after a
/// peak (about +20 MB on the default model). Results do not change: only where buffers live.
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::raw::c_int;
        extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // glibc's <malloc.h> parameter numbers.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_TOP_PAD: c_int = -2;
        const M_MMAP_THRESHOLD: c_int = -3;
        // SAFETY: mallopt only changes allocator parameters; it is called with valid
        // parameter numbers and in-range values. A rejected value (return 0) leaves glibc's
        // default in place, which is still correct, so the result is not checked.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
            mallopt(M_TOP_PAD, 256 << 20);
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
        }
    }
}
