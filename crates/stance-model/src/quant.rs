//! Int8 dense layers for inference: weights quantised once per output
//! channel (symmetric, i8), activations quantised per row as they arrive
//! (asymmetric, u8 with a zero point), products summed exactly in i32 with
//! AVX-512 VNNI (`vpdpbusd`, 64 multiply-adds per instruction) and rescaled
//! to f32 with the bias added.
//!
//! With `x ≈ sa·(u − z)` per row and `w ≈ sw·q` per output channel,
//! `x·w ≈ sa·sw·(Σ u·q − z·Σ q)`: the kernel computes `Σ u·q`, and `Σ q` per
//! channel is precomputed. CPUs without AVX-512 VNNI run a portable kernel
//! that gives the same integers, more slowly.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::kernels::ROUNDING_MAGIC;

/// Output channels per packed block (one 512-bit register of i32 sums).
const BLOCK_N: usize = 16;
/// Input channels per multiply-add step (four bytes per i32 lane).
const STEP_K: usize = 4;
/// Rows of activations per micro-kernel call.
const ROWS: usize = 8;
/// Packed blocks per micro-kernel call: 8 rows × 3 blocks = 24 accumulator
/// registers, with 3 weight loads and 8 broadcasts per 24 multiply-adds.
const TILE_BLOCKS: usize = 3;
/// Output channels per micro-kernel call.
const TILE_N: usize = TILE_BLOCKS * BLOCK_N;

/// A weight matrix (out × in) quantised and packed for the kernel.
#[derive(Debug)]
pub struct PackedInt8 {
    out_dim: usize,
    in_dim: usize,
    /// `in_dim` rounded up to a multiple of [`STEP_K`].
    in_padded: usize,
    /// `out_dim` rounded up to a multiple of [`TILE_N`].
    out_padded: usize,
    /// Blocks of 16 channels; within one, for each group of 4 inputs, 16 × 4
    /// bytes: channel j's 4 weights at `j*4..j*4+4`.
    packed: Vec<i8>,
    /// Per output channel: the weight scale, and the sum of its i8 weights.
    scales: Vec<f32>,
    sums: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedInt8 {
    /// Quantises `weight` (out × in, row-major f32) and `bias` (out).
    pub fn new(weight: &[f32], bias: &[f32], out_dim: usize, in_dim: usize) -> Self {
        assert_eq!(weight.len(), out_dim * in_dim);
        assert_eq!(bias.len(), out_dim);
        let in_padded = in_dim.div_ceil(STEP_K) * STEP_K;
        let out_padded = out_dim.div_ceil(TILE_N) * TILE_N;
        let mut packed = vec![0i8; out_padded * in_padded];
        let mut scales = vec![0f32; out_padded];
        let mut sums = vec![0i32; out_padded];
        for n in 0..out_dim {
            let row = &weight[n * in_dim..(n + 1) * in_dim];
            let max = row.iter().fold(0f32, |m, &v| m.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            scales[n] = scale;
            let (block, lane) = (n / BLOCK_N, n % BLOCK_N);
            for (k, &v) in row.iter().enumerate() {
                let q = (v / scale).round().clamp(-127.0, 127.0) as i8;
                sums[n] += q as i32;
                let offset = block * BLOCK_N * in_padded + (k / STEP_K) * BLOCK_N * STEP_K;
                packed[offset + lane * STEP_K + k % STEP_K] = q;
            }
        }
        Self {
            out_dim,
            in_dim,
            in_padded,
            out_padded,
            packed,
            scales,
            sums,
            bias: bias.to_vec(),
        }
    }

    /// `x · Wᵀ + b` for `x` of `rows` rows of `in_dim` values (row-major).
    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.in_dim);
        let mut out = vec![0f32; rows * self.out_dim];
        let vnni = has_vnni();
        let chunk = |block: &mut RowBlock, (out, x): (&mut [f32], &[f32])| {
            let n_rows = x.len() / self.in_dim;
            if vnni {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked).
                unsafe {
                    self.chunk_avx512(block, x, out, n_rows)
                };
            } else {
                block.quantise(x, self.in_dim, n_rows);
                self.block_product(block, out, n_rows, false);
            }
        };
        if crate::kernels::parallel_ops() {
            out.par_chunks_mut(ROWS * self.out_dim)
                .zip(x.par_chunks(ROWS * self.in_dim))
                .for_each_init(|| RowBlock::new(self.in_padded), chunk);
        } else {
            let mut block = RowBlock::new(self.in_padded);
            out.chunks_mut(ROWS * self.out_dim)
                .zip(x.chunks(ROWS * self.in_dim))
                .for_each(|pair| chunk(&mut block, pair));
        }
        out
    }

    /// One chunk of rows, compiled for AVX-512 so that quantisation and
    /// rescaling (inlined here) vectorise 16 wide.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn chunk_avx512(&self, block: &mut RowBlock, x: &[f32], out: &mut [f32], n_rows: usize) {
        block.quantise(x, self.in_dim, n_rows);
        self.block_product(block, out, n_rows, true);
    }

    #[inline(always)]
    fn block_product(&self, block: &RowBlock, out: &mut [f32], n_rows: usize, vnni: bool) {
        let mut acc = [[0i32; TILE_N]; ROWS];
        for tile in 0..self.out_padded / TILE_N {
            let b =
                &self.packed[tile * TILE_N * self.in_padded..(tile + 1) * TILE_N * self.in_padded];
            if vnni {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU has AVX-512 F and VNNI (checked); the
                // kernel asserts that the buffers hold ROWS × in_padded bytes
                // and TILE_BLOCKS packed blocks.
                unsafe {
                    vnni_kernel(&block.quantised, b, self.in_padded, &mut acc)
                };
            } else {
                portable_kernel(&block.quantised, b, self.in_padded, &mut acc);
            }
            let n0 = tile * TILE_N;
            let width = TILE_N.min(self.out_dim - n0);
            for (r, acc_row) in acc.iter().enumerate().take(n_rows) {
                let out_row = &mut out[r * self.out_dim + n0..r * self.out_dim + n0 + width];
                rescale(
                    &acc_row[..width],
                    block.scales[r],
                    block.zeros[r],
                    &self.scales[n0..n0 + width],
                    &self.sums[n0..n0 + width],
                    &self.bias[n0..n0 + width],
                    out_row,
                );
            }
        }
    }
}

/// `out[j] = sa · sw[j] · (acc[j] − z · Σq[j]) + bias[j]`.
#[inline(always)]
fn rescale(acc: &[i32], sa: f32, z: i32, sw: &[f32], sums: &[i32], bias: &[f32], out: &mut [f32]) {
    for j in 0..out.len() {
        out[j] = sa * sw[j] * (acc[j] - z * sums[j]) as f32 + bias[j];
    }
}

/// Quantises `row` into `dst` (u8, asymmetric over [min(row, 0), max(row, 0)]);
/// returns the scale and the zero point.
#[inline(always)]
fn quantise_row(row: &[f32], dst: &mut [u8]) -> (f32, i32) {
    // Sixteen running minima and maxima, so that the loop vectorises (a single
    // float min/max chain would not: its order matters for NaN).
    let mut lows = [0f32; 16];
    let mut highs = [0f32; 16];
    let mut chunks = row.chunks_exact(16);
    for chunk in &mut chunks {
        for i in 0..16 {
            lows[i] = if chunk[i] < lows[i] {
                chunk[i]
            } else {
                lows[i]
            };
            highs[i] = if chunk[i] > highs[i] {
                chunk[i]
            } else {
                highs[i]
            };
        }
    }
    for (i, &v) in chunks.remainder().iter().enumerate() {
        lows[i] = if v < lows[i] { v } else { lows[i] };
        highs[i] = if v > highs[i] { v } else { highs[i] };
    }
    let lo = lows.iter().fold(0f32, |a, &b| if b < a { b } else { a });
    let hi = highs.iter().fold(0f32, |a, &b| if b > a { b } else { a });
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zero = (-lo / scale).round().clamp(0.0, 255.0);
    let inverse = 1.0 / scale;
    // Rounded through the mantissa (see ROUNDING_MAGIC): a float-to-int cast
    // would not vectorise.
    for (d, &v) in dst.iter_mut().zip(row) {
        let shifted = (v * inverse + zero).clamp(0.0, 255.0) + ROUNDING_MAGIC;
        *d = shifted.to_bits() as u8;
    }
    (scale, zero as i32)
}

/// Up to [`ROWS`] rows of activations quantised to u8, with their scales
/// and zero points; rows past the input stay zero.
struct RowBlock {
    quantised: Vec<u8>,
    scales: [f32; ROWS],
    zeros: [i32; ROWS],
}

impl RowBlock {
    fn new(in_padded: usize) -> Self {
        Self {
            quantised: vec![0; ROWS * in_padded],
            scales: [0.0; ROWS],
            zeros: [0; ROWS],
        }
    }

    #[inline(always)]
    fn quantise(&mut self, x: &[f32], in_dim: usize, n_rows: usize) {
        let in_padded = self.quantised.len() / ROWS;
        for r in 0..n_rows {
            let row = &x[r * in_dim..(r + 1) * in_dim];
            let dst = &mut self.quantised[r * in_padded..r * in_padded + in_dim];
            (self.scales[r], self.zeros[r]) = quantise_row(row, dst);
        }
    }
}

fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU runs the int8 kernel natively (AVX-512 VNNI).
pub fn int8_is_fast() -> bool {
    has_vnni()
}

/// `acc[r][j] = Σ_k a[r][k] · w[j][k]` over one tile of [`TILE_BLOCKS`]
/// packed blocks, in plain Rust: the same integers as the VNNI kernel.
fn portable_kernel(a: &[u8], b: &[i8], in_padded: usize, acc: &mut [[i32; TILE_N]; ROWS]) {
    for (r, acc_row) in acc.iter_mut().enumerate() {
        let a_row = &a[r * in_padded..(r + 1) * in_padded];
        for (j, sum_out) in acc_row.iter_mut().enumerate() {
            let block = &b[(j / BLOCK_N) * BLOCK_N * in_padded..];
            let lane = j % BLOCK_N;
            let mut sum = 0i32;
            for k4 in 0..in_padded / STEP_K {
                for t in 0..STEP_K {
                    let w = block[k4 * BLOCK_N * STEP_K + lane * STEP_K + t] as i32;
                    sum += a_row[k4 * STEP_K + t] as i32 * w;
                }
            }
            *sum_out = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni_kernel(a: &[u8], b: &[i8], in_padded: usize, acc: &mut [[i32; TILE_N]; ROWS]) {
    use std::arch::x86_64::*;
    assert!(a.len() >= ROWS * in_padded && b.len() >= TILE_N * in_padded);
    let mut c = [[_mm512_setzero_si512(); TILE_BLOCKS]; ROWS];
    let a_ptr = a.as_ptr();
    let block_stride = BLOCK_N * in_padded;
    for k4 in 0..in_padded / STEP_K {
        let mut w = [_mm512_setzero_si512(); TILE_BLOCKS];
        for (t, w_t) in w.iter_mut().enumerate() {
            *w_t = _mm512_loadu_si512(b.as_ptr().add(t * block_stride + k4 * 64) as *const _);
        }
        for (r, c_row) in c.iter_mut().enumerate() {
            let four = (a_ptr.add(r * in_padded + k4 * STEP_K) as *const i32).read_unaligned();
            let x = _mm512_set1_epi32(four);
            for t in 0..TILE_BLOCKS {
                c_row[t] = _mm512_dpbusd_epi32(c_row[t], x, w[t]);
            }
        }
    }
    for (r, c_row) in c.iter().enumerate() {
        for (t, c_rt) in c_row.iter().enumerate() {
            _mm512_storeu_si512(acc[r][t * BLOCK_N..].as_mut_ptr() as *mut _, *c_rt);
        }
    }
}

/// A dense layer as a candle op over (rows, in) f32 tensors.
#[derive(Debug, Clone)]
pub struct Int8Linear {
    weights: Arc<PackedInt8>,
}

impl Int8Linear {
    pub fn new(weight: &Tensor, bias: &Tensor) -> Result<Self> {
        let (out_dim, in_dim) = weight.dims2()?;
        let w = weight
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let b = bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        Ok(Self {
            weights: Arc::new(PackedInt8::new(&w, &b, out_dim, in_dim)),
        })
    }

    /// `xs · Wᵀ + b` for `xs` of shape (rows, in).
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.contiguous()?.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for Int8Linear {
    fn name(&self) -> &'static str {
        "stance-int8-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("int8 linear: expected f32, got {:?}", storage.dtype());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("int8 linear: input is not contiguous");
        };
        let (rows, in_dim) = layout.shape().dims2()?;
        if in_dim != self.weights.in_dim {
            candle_core::bail!(
                "int8 linear: input has {in_dim} features, weights {}",
                self.weights.in_dim
            );
        }
        let out = self.weights.matmul(&data[start..end], rows);
        Ok((
            CpuStorage::F32(out),
            Shape::from((rows, self.weights.out_dim)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    fn random(n: usize, rng: &mut StdRng, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|_| (rng.random::<f32>() - 0.5) * 2.0 * scale)
            .collect()
    }

    fn reference(x: &[f32], w: &[f32], b: &[f32], rows: usize, out: usize, inp: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * out];
        for r in 0..rows {
            for n in 0..out {
                let mut s = b[n] as f64;
                for k in 0..inp {
                    s += x[r * inp + k] as f64 * w[n * inp + k] as f64;
                }
                y[r * out + n] = s as f32;
            }
        }
        y
    }

    #[test]
    fn kernels_agree_exactly_and_match_f32_within_quantisation_error() {
        let mut rng = StdRng::seed_from_u64(3);
        // Odd sizes: rows not a multiple of 8, inputs not of 4, outputs not of 32.
        for (rows, out, inp) in [(1, 1, 1), (13, 37, 50), (70, 384, 384), (9, 40, 1536)] {
            let x = random(rows * inp, &mut rng, 2.0);
            let w = random(out * inp, &mut rng, 0.1);
            let b = random(out, &mut rng, 0.5);
            let packed = PackedInt8::new(&w, &b, out, inp);
            let y = packed.matmul(&x, rows);
            let exact = reference(&x, &w, &b, rows, out, inp);
            // Error bound: half a step of each operand, summed over the inputs.
            let bound = (inp as f32).sqrt() * 2.0 * (4.0 / 255.0) * 0.1 + 1e-4;
            for (i, (a, e)) in y.iter().zip(&exact).enumerate() {
                assert!(
                    (a - e).abs() < bound,
                    "{rows}x{out}x{inp} [{i}]: {a} vs {e} (bound {bound})"
                );
            }
            // The portable kernel gives the same integers as the VNNI one.
            let mut block = RowBlock::new(packed.in_padded);
            let n_rows = rows.min(ROWS);
            block.quantise(&x[..n_rows * inp], inp, n_rows);
            let mut portable = vec![0f32; n_rows * out];
            packed.block_product(&block, &mut portable, n_rows, false);
            if has_vnni() {
                let mut fast = vec![0f32; n_rows * out];
                packed.block_product(&block, &mut fast, n_rows, true);
                assert_eq!(portable, fast);
            }
            assert_eq!(&y[..n_rows * out], &portable[..]);
        }
    }

    #[test]
    fn constant_and_zero_rows_are_exact() {
        let w = vec![0.5f32, -0.25, 1.0, 0.0, 0.1, 0.2];
        let packed = PackedInt8::new(&w, &[1.0, -1.0], 2, 3);
        let y = packed.matmul(&[0.0, 0.0, 0.0, 2.0, 2.0, 2.0], 2);
        assert_eq!(&y[..2], &[1.0, -1.0]);
        assert!((y[2] - (1.0 + 2.0 * 1.25)).abs() < 1e-2, "{y:?}");
        assert!((y[3] - (-1.0 + 2.0 * 0.3)).abs() < 1e-2, "{y:?}");
    }
}
