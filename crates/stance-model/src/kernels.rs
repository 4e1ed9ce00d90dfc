//! CPU kernels that candle computes slowly: the exact (erf) GELU, and the
//! attention softmax with its scale and padding mask in one pass.
//!
//! candle evaluates `gelu_erf` one element at a time through libm's `erff`,
//! which was 15% of labelling time in a `perf` profile. Here erf is a
//! polynomial (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7) over
//! a polynomial `exp`, written so that the compiler vectorises it, and built
//! for AVX-512 and AVX2 with runtime dispatch.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Elements per parallel chunk: large enough that scheduling is noise.
const CHUNK: usize = 1 << 14;

/// `exp(x)` for `x` in [-88, 88], relative error about 2e-7.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Adding 1.5 · 2^23 rounds to an integer held in the low mantissa bits:
    // n = round(x / ln 2) without a float-to-int cast (which does not vectorise).
    let shifted = x * std::f32::consts::LOG2_E + ROUNDING_MAGIC;
    let n = shifted - ROUNDING_MAGIC;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    // Taylor series of exp(r) for |r| <= ln2/2, to degree 6.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2^n: n + 127 in the exponent field (n is in [-126, 127] after the clamp).
    let n_bits = shifted.to_bits().wrapping_sub(ROUNDING_MAGIC.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// 1.5 · 2^23: a float whose last mantissa bit is worth 1, so adding it to a
/// value of magnitude below 2^22 rounds that value to the nearest integer.
pub(crate) const ROUNDING_MAGIC: f32 = 12_582_912.0;

/// `erf(z)`, Abramowitz & Stegun 7.1.26.
#[inline(always)]
fn erf_approx(z: f32) -> f32 {
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let e = 1.0 - poly * exp_approx(-a * a);
    e.copysign(z)
}

#[inline(always)]
fn gelu_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_approx(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// d/dx of `x·Φ(x)`: `Φ(x) + x·φ(x)`.
#[inline(always)]
fn gelu_grad_scalar(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf_approx(x * std::f32::consts::FRAC_1_SQRT_2));
    cdf + x * INV_SQRT_2PI * exp_approx(-0.5 * x * x)
}

macro_rules! dispatched_map {
    ($name:ident, $scalar:ident) => {
        fn $name(xs: &[f32], out: &mut [f32]) {
            #[inline(always)]
            fn body(xs: &[f32], out: &mut [f32]) {
                for (o, &x) in out.iter_mut().zip(xs) {
                    *o = $scalar(x);
                }
            }
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512(xs: &[f32], out: &mut [f32]) {
                    body(xs, out)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2(xs: &[f32], out: &mut [f32]) {
                    body(xs, out)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports the features the function was built for.
                    return unsafe { avx512(xs, out) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { avx2(xs, out) };
                }
            }
            body(xs, out)
        }
    };
}

dispatched_map!(gelu_chunk, gelu_scalar);
dispatched_map!(gelu_grad_chunk, gelu_grad_scalar);

/// Whether operations should split across threads: not when candle runs
/// single-threaded (`RAYON_NUM_THREADS=1`), as under parallel labelling
/// workers that each own a core.
pub(crate) fn parallel_ops() -> bool {
    candle_core::utils::get_num_threads() > 1
}

type MapKernel = fn(&[f32], &mut [f32]);

fn par_map(xs: &[f32], kernel: MapKernel) -> Vec<f32> {
    let mut out = vec![0f32; xs.len()];
    if parallel_ops() {
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK))
            .for_each(|(o, x)| kernel(x, o));
    } else {
        kernel(xs, &mut out);
    }
    out
}

/// Applies `kernel` to a contiguous f32 CPU tensor's elements.
fn map_f32(
    name: &'static str,
    storage: &CpuStorage,
    layout: &Layout,
    kernel: MapKernel,
) -> Result<(CpuStorage, Shape)> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{name}: expected f32, got {:?}", storage.dtype());
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{name}: input is not contiguous");
    };
    Ok((
        CpuStorage::F32(par_map(&data[start..end], kernel)),
        layout.shape().clone(),
    ))
}

struct GeluErf;
struct GeluErfGrad;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "stance-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        map_f32(self.name(), storage, layout, gelu_chunk)
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let slope = arg.contiguous()?.apply_op1_no_bwd(&GeluErfGrad)?;
        Ok(Some(grad_res.mul(&slope)?))
    }
}

impl CustomOp1 for GeluErfGrad {
    fn name(&self) -> &'static str {
        "stance-gelu-erf-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        map_f32(self.name(), storage, layout, gelu_grad_chunk)
    }
}

/// Attention probabilities in one pass: `softmax(scores · scale + mask)` over
/// the last axis, for scores (batch, heads, queries, keys) and an additive
/// mask (batch, 1, 1, keys). Replaces a scale, a broadcast add and candle's
/// softmax (three passes and two temporaries, with a scalar `expf`).
struct MaskedSoftmax {
    scale: f32,
}

impl candle_core::CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "stance-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        scores: &CpuStorage,
        scores_layout: &Layout,
        mask: &CpuStorage,
        mask_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(scores), CpuStorage::F32(mask)) = (scores, mask) else {
            candle_core::bail!("{}: expected f32 inputs", self.name());
        };
        let (Some((s0, s1)), Some((m0, m1))) = (
            scores_layout.contiguous_offsets(),
            mask_layout.contiguous_offsets(),
        ) else {
            candle_core::bail!("{}: inputs must be contiguous", self.name());
        };
        let (batch, heads, queries, keys) = scores_layout.shape().dims4()?;
        if mask_layout.shape().elem_count() != batch * keys {
            candle_core::bail!("{}: mask shape {:?}", self.name(), mask_layout.shape());
        }
        let (scores, mask) = (&scores[s0..s1], &mask[m0..m1]);
        let mut out = vec![0f32; scores.len()];
        let rows_per_batch = heads * queries;
        for (b, (out, scores)) in out
            .chunks_mut(rows_per_batch * keys)
            .zip(scores.chunks(rows_per_batch * keys))
            .enumerate()
        {
            softmax_rows(scores, &mask[b * keys..(b + 1) * keys], self.scale, out);
        }
        Ok((CpuStorage::F32(out), scores_layout.shape().clone()))
    }
}

fn softmax_rows(scores: &[f32], mask: &[f32], scale: f32, out: &mut [f32]) {
    #[inline(always)]
    fn body(scores: &[f32], mask: &[f32], scale: f32, out: &mut [f32]) {
        let keys = mask.len();
        for (o, s) in out.chunks_mut(keys).zip(scores.chunks(keys)) {
            let mut max = f32::MIN;
            for ((o, &s), &m) in o.iter_mut().zip(s).zip(mask) {
                *o = s * scale + m;
                max = if *o > max { *o } else { max };
            }
            let mut sum = 0f32;
            for o in o.iter_mut() {
                *o = exp_approx(*o - max);
                sum += *o;
            }
            let inverse = 1.0 / sum;
            for o in o.iter_mut() {
                *o *= inverse;
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(scores: &[f32], mask: &[f32], scale: f32, out: &mut [f32]) {
            body(scores, mask, scale, out)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512 F.
            return unsafe { avx512(scores, mask, scale, out) };
        }
    }
    body(scores, mask, scale, out)
}

/// `softmax(scores · scale + mask_bias)` over the last axis, inference only
/// (no gradient): the fused kernel for f32 on the CPU, candle's ops elsewhere.
pub fn masked_softmax(scores: &Tensor, mask_bias: &Tensor, scale: f64) -> Result<Tensor> {
    if scores.device().is_cpu() && scores.dtype() == DType::F32 && mask_bias.dtype() == DType::F32 {
        scores.contiguous()?.apply_op2_no_bwd(
            &mask_bias.contiguous()?,
            &MaskedSoftmax {
                scale: scale as f32,
            },
        )
    } else {
        candle_nn::ops::softmax_last_dim(&(scores * scale)?.broadcast_add(mask_bias)?)
    }
}

/// The exact GELU, `x·Φ(x)`, as `transformers`' `"gelu"`: the vectorised
/// kernel for f32 on the CPU (differentiable), candle's `gelu_erf` elsewhere.
pub fn gelu_erf(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && xs.dtype() == DType::F32 {
        xs.contiguous()?.apply_op1(GeluErf)
    } else {
        xs.gelu_erf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn reference_gelu(x: f64) -> f64 {
        0.5 * x * (1.0 + libm_erf(x / std::f64::consts::SQRT_2))
    }

    /// erf in f64 by its Taylor series (|x| < 3) or continued fraction tail:
    /// independent of the approximation under test.
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let value = if a < 3.0 {
            let mut term = a;
            let mut sum = a;
            for n in 1..200 {
                term *= -a * a / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc continued fraction (Lentz), accurate far in the tail.
            let mut f = a;
            for k in (1..60).rev() {
                f = a + (k as f64 / 2.0) / f;
            }
            1.0 - (-a * a).exp() / (f * std::f64::consts::PI.sqrt())
        };
        value.copysign(x)
    }

    #[test]
    fn exp_matches_std_over_its_range() {
        let mut x = -80.0f32;
        while x < 80.0 {
            let relative = ((exp_approx(x) - x.exp()) / x.exp()).abs();
            assert!(relative < 1e-6, "exp({x}): relative error {relative}");
            x += 0.173;
        }
    }

    #[test]
    fn gelu_matches_the_exact_formula() {
        let xs: Vec<f32> = (-4000..4000).map(|i| i as f32 * 0.0037).collect();
        let mut out = vec![0.0; xs.len()];
        gelu_chunk(&xs, &mut out);
        for (&x, &y) in xs.iter().zip(&out) {
            let expected = reference_gelu(x as f64);
            assert!(
                (y as f64 - expected).abs() < 2e-6,
                "gelu({x}) = {y}, expected {expected}"
            );
        }
        // Far tails: identity on the right, zero on the left, no NaN.
        let tails = [-1e30f32, -100.0, -20.0, 20.0, 100.0, 1e30];
        let mut out = vec![0.0; tails.len()];
        gelu_chunk(&tails, &mut out);
        assert_eq!(
            out,
            [-0.0, -0.0, -0.0, 20.0, 100.0, 1e30].map(|v: f32| v * 1.0)
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let device = Device::Cpu;
        let xs: Vec<f32> = (-300..300).map(|i| i as f32 * 0.02).collect();
        let var = Var::from_vec(xs.clone(), xs.len(), &device).unwrap();
        let grads = gelu_erf(var.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let grad = grads
            .get(var.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (&x, &g) in xs.iter().zip(&grad) {
            let h = 1e-3;
            let numeric = (reference_gelu(x as f64 + h) - reference_gelu(x as f64 - h)) / (2.0 * h);
            assert!(
                (g as f64 - numeric).abs() < 1e-5,
                "gelu'({x}) = {g}, expected {numeric}"
            );
        }
    }

    #[test]
    fn agrees_with_candle_on_a_large_tensor() {
        let device = Device::Cpu;
        let xs = Tensor::randn(0f32, 3.0, (70, 1000), &device).unwrap();
        let ours = gelu_erf(&xs).unwrap();
        let candle = xs.gelu_erf().unwrap();
        let diff = (ours - candle).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 2e-6);
    }
}
