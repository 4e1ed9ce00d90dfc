//! Throughput of one dense layer at the encoder's shapes: candle's f32
//! matmul against the int8 kernel (`quant.rs`), single-threaded, as the
//! labelling workers run them. Prints GMAC/s; run with
//! `cargo bench -p stance-model --bench dense`.

use std::time::Instant;

use candle_core::{Device, Tensor};
use stance_model::quant::PackedInt8;

fn main() {
    // Single-threaded operations, as under `stance label`'s workers.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let device = Device::Cpu;
    println!(
        "{:>6} {:>6} {:>6} {:>12} {:>12} {:>8}",
        "rows", "in", "out", "f32 GMAC/s", "int8 GMAC/s", "ratio"
    );
    for (rows, inp, out) in [
        (960, 384, 384),
        (960, 384, 1536),
        (960, 1536, 384),
        (256, 384, 384),
    ] {
        let x = Tensor::randn(0f32, 1.0, (rows, inp), &device).unwrap();
        let w = Tensor::randn(0f32, 0.05, (out, inp), &device).unwrap();
        let b = vec![0f32; out];
        let macs = (rows * inp * out) as f64;
        let wt = w.t().unwrap();
        let time = |f: &dyn Fn()| {
            f();
            let reps = 20;
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() / reps as f64
        };
        let f32_s = time(&|| {
            std::hint::black_box(x.matmul(&wt).unwrap());
        });
        let packed = PackedInt8::new(
            &w.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            &b,
            out,
            inp,
        );
        let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let int8_s = time(&|| {
            std::hint::black_box(packed.matmul(&xs, rows));
        });
        println!(
            "{rows:>6} {inp:>6} {out:>6} {:>12.1} {:>12.1} {:>7.2}x",
            macs / f32_s / 1e9,
            macs / int8_s / 1e9,
            f32_s / int8_s
        );
    }
}
