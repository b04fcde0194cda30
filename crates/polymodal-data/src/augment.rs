//! Seeded load-time augmentation: small translations of images and time shifts of
//! spectrograms. Applied only to training batches; the same seed gives the same batch bit for bit.

use polymodal_core::{seed::Rng, ModalityKind, ModalitySpec};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    pub enabled: bool,
    /// Largest image translation in pixels (each axis, uniform in [-k, k]).
    pub image_shift: usize,
    /// Largest spectrogram time shift in frames.
    pub audio_shift: usize,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            image_shift: 2,
            audio_shift: 3,
        }
    }
}

/// Augments a batch `[n, spec.numel()]` in place.
pub fn apply(spec: &ModalitySpec, cfg: &AugmentConfig, batch: &mut [f32], rng: &mut Rng) {
    if !cfg.enabled || spec.shape.len() != 3 {
        return;
    }
    let (c, h, w) = (spec.shape[0], spec.shape[1], spec.shape[2]);
    let d = c * h * w;
    let (max_dy, max_dx) = match spec.kind {
        ModalityKind::Image => (cfg.image_shift, cfg.image_shift),
        ModalityKind::Audio => (0, cfg.audio_shift),
        _ => return,
    };
    if max_dx == 0 && max_dy == 0 {
        return;
    }
    let mut scratch = vec![0f32; d];
    for sample in batch.chunks_exact_mut(d) {
        let dy = rng.random_range(-(max_dy as i64)..=max_dy as i64);
        let dx = rng.random_range(-(max_dx as i64)..=max_dx as i64);
        // Uncovered cells take the sample's minimum: the background (black / silence).
        let fill = sample.iter().copied().fold(f32::INFINITY, f32::min);
        shift(sample, &mut scratch, c, h, w, dy, dx, fill);
        sample.copy_from_slice(&scratch);
    }
}

#[allow(clippy::too_many_arguments)]
fn shift(src: &[f32], dst: &mut [f32], c: usize, h: usize, w: usize, dy: i64, dx: i64, fill: f32) {
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let sy = y as i64 - dy;
                let sx = x as i64 - dx;
                dst[(ch * h + y) * w + x] = if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64
                {
                    src[(ch * h + sy as usize) * w + sx as usize]
                } else {
                    fill
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_fills_background() {
        let src = [1.0, 2.0, 3.0, 4.0];
        let mut dst = [0.0; 4];
        shift(&src, &mut dst, 1, 2, 2, 0, 1, -1.0);
        assert_eq!(dst, [-1.0, 1.0, -1.0, 3.0]);
    }

    #[test]
    fn same_seed_same_augmentation() {
        let spec = ModalitySpec {
            name: "image".into(),
            kind: ModalityKind::Image,
            shape: vec![1, 4, 4],
        };
        let base: Vec<f32> = (0..32).map(|v| v as f32).collect();
        let cfg = AugmentConfig::default();
        let run = |seed| {
            let mut b = base.clone();
            apply(
                &spec,
                &cfg,
                &mut b,
                &mut polymodal_core::seed::rng(seed, "t"),
            );
            b
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), base);
    }
}
