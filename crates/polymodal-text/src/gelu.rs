//! Exact-form (erf) GELU with a branch-free erf that the compiler vectorises.
//!
//! burn-flex evaluates GELU element by element through `libm::erff`, which a profile of the
//! encoder put at 15 % of MiniLM's time (docs/BENCHMARKS.md). BERT's GELU is the erf form, so
//! the tanh approximation would change the embeddings; instead erf itself is replaced by a
//! rational minimax approximation on [-4, 4] (odd degree-13 numerator over even degree-8
//! denominator in x, the form Eigen and XLA use for f32), saturating to ±1 outside, where f32 erf
//! is ±1 anyway. The loop has no branches, so it runs on SIMD lanes. Its error against
//! `libm::erff` is bounded in the tests below.

use burn::tensor::{Tensor, TensorData};

/// erf(x) for f32, |error| ≤ [`ERF_MAX_ABS_ERROR`] against libm's correctly rounded-ish `erff`.
// The coefficients are quoted as published, with more digits than f32 keeps.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    // Outside [-4, 4], erf is ±1 to within f32 precision (1 - erf(4) ≈ 1.5e-8); NaN stays NaN.
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    // Plain multiply-adds: `mul_add` without a target FMA becomes a libm call per element.
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024_e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_5e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

/// GELU(x) = x/2 · (1 + erf(x/√2)), in place.
pub(crate) fn gelu_in_place(values: &mut [f32]) {
    const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    for v in values.iter_mut() {
        let x = *v;
        *v = 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2));
    }
}

/// Exact-form GELU of a tensor, computed on the host with [`gelu_in_place`].
pub(crate) fn gelu<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let device = t.device();
    let shape = t.shape();
    let data = t.into_data().convert::<f32>();
    let mut values = data
        .try_into_vec::<f32>()
        .expect("converted to f32 just above");
    gelu_in_place(&mut values);
    Tensor::from_data(TensorData::new(values, shape), &device)
}

#[cfg(test)]
pub(crate) const ERF_MAX_ABS_ERROR: f32 = 1e-6;

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Every f32 step of 1e-4 in [-8, 8], plus the region boundaries.
    fn grid() -> Vec<f32> {
        let mut xs: Vec<f32> = (-80_000..=80_000).map(|i| i as f32 * 1e-4).collect();
        xs.extend([
            4.0,
            -4.0,
            f32::from_bits(4.0f32.to_bits() - 1),
            1e-30,
            -1e-30,
            0.0,
            -0.0,
            1e6,
            -1e6,
        ]);
        xs
    }

    /// `libm::erff`, through burn-flex's `erf` (the exact erf burn's GELU uses).
    fn reference_erf(xs: &[f32]) -> Vec<f32> {
        let device = Device::flex();
        Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [xs.len()]), &device)
            .erf()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn erf_is_within_its_bound_of_libm() {
        let xs = grid();
        let exact = reference_erf(&xs);
        let mut worst = (0f32, 0f32);
        for (&x, &e) in xs.iter().zip(&exact) {
            let err = (erf(x) - e).abs();
            if err > worst.0 {
                worst = (err, x);
            }
        }
        assert!(
            worst.0 <= ERF_MAX_ABS_ERROR,
            "max |erf - erff| = {:e} at x = {}",
            worst.0,
            worst.1
        );
        // Odd, saturating, exact at 0.
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(-1.5), -erf(1.5));
        assert!((erf(1e6) - 1.0).abs() <= ERF_MAX_ABS_ERROR);
        assert!((erf(f32::INFINITY) - 1.0).abs() <= ERF_MAX_ABS_ERROR);
        assert!((erf(f32::NEG_INFINITY) + 1.0).abs() <= ERF_MAX_ABS_ERROR);
    }

    #[test]
    fn gelu_matches_burns_exact_gelu() {
        let xs = grid();
        let device = Device::flex();
        let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device);
        let exact = burn::tensor::activation::gelu(t.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let ours = gelu(t.reshape([xs.len(), 1]))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        for ((&x, &e), &o) in xs.iter().zip(&exact).zip(&ours) {
            // |Δgelu| = |x|/2 · |Δerf|, plus one rounding of the result.
            let bound = 0.5 * x.abs() * ERF_MAX_ABS_ERROR + 2.0 * f32::EPSILON * e.abs().max(1e-30);
            assert!(
                (o - e).abs() <= bound,
                "gelu({x}) = {o}, exact {e}, bound {bound}"
            );
        }
        let nan = gelu(Tensor::<1>::from_data(
            TensorData::new(vec![f32::NAN], [1]),
            &device,
        ))
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
        assert!(nan[0].is_nan(), "NaN propagates");
    }
}
