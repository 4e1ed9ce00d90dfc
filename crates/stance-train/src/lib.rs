//! Fine-tuning of the stance classifier: full fine-tuning of a BERT encoder
//! and its classification head on gold sentences, in f32 on the CPU.
//!
//! AdamW with decoupled weight decay (none on biases and LayerNorm), linear
//! warm-up and decay, optional layer-wise learning-rate decay, gradient clipping, class-weighted cross-entropy,
//! length-bucketed batches, evaluation on the dev set after each epoch,
//! optional exponential moving averages of the weights scored beside them,
//! keeping the best epoch by macro-F1 and stopping early. Every random choice
//! (head initialisation, shuffling, dropout) comes from one seed.
//!
//! This crate reads no gold files and never prints: the caller passes the
//! examples and observes progress through [`TrainObserver`].

mod averaging;
mod optimizer;
mod trainer;

pub use averaging::WeightAverage;
pub use optimizer::{layer_rate_scale, AdamW, LinearSchedule, Trainable};
pub use trainer::{
    class_weights, train, ClassWeighting, DevScore, EpochReport, Example, TrainConfig, TrainError,
    TrainObserver, TrainOutcome, Weights,
};
