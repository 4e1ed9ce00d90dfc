//! Metrics for predicted labels against gold labels, calibration, and rule
//! baselines. Knows nothing of models or files; never prints.
//!
//! * [`metrics`]: accuracy, per-label precision/recall/F1, macro and
//!   weighted F1, Cohen's kappa, confusion matrix, bootstrap intervals
//!   (sentence or document clusters), calibration, lenient accuracy and a
//!   breakdown by source, gathered in a serialisable [`Report`].
//! * [`calibration`]: softmax with a temperature, temperature fitting,
//!   expected calibration error, reliability tables.
//! * [`render`]: the report as Markdown or plain text.
//! * [`baseline`]: a majority-class baseline and a cue-phrase [`Lexicon`]
//!   written from the codebook.
//!
//! Labels are indices into a label list (`&[String]`); nothing here assumes
//! the project's four labels except the lexicon, which answers in
//! [`CANONICAL_LABELS`] order.

pub mod baseline;
pub mod calibration;
pub mod metrics;
pub mod render;

pub use baseline::{Lexicon, LexiconDecision, CANONICAL_LABELS};
pub use metrics::{
    accuracy, evaluate, macro_f1, try_evaluate, EvalError, EvalInput, Report,
    DEFAULT_BOOTSTRAP_RESAMPLES,
};
