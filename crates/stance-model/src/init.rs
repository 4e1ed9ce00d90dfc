//! Seeded random initialisation.

use candle_core::{Device, Result, Tensor};
use rand::{rngs::StdRng, Rng};

/// One draw from N(0, std²) by the Box-Muller transform.
pub fn normal(rng: &mut StdRng, std: f64) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
}

/// A tensor of N(0, std²) draws.
pub fn normal_tensor(
    shape: &[usize],
    std: f64,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| normal(rng, std)).collect();
    Tensor::from_vec(values, shape, device)
}
