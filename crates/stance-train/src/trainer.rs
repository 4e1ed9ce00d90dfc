use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{VarBuilder, VarMap};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use stance_model::{
    load_weights_for_training, save_model, Dropout, Encoded, ForwardMode, LabelSet, ModelDir,
    ModelError, SentenceTokenizer, SequenceClassifier, StorageDType,
};

use crate::averaging::{host_values, with_weights, WeightAverage};
use crate::optimizer::{layer_rate_scale, AdamW, LinearSchedule, Trainable};

/// One gold sentence, with label indices into the run's [`LabelSet`].
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub label: usize,
    /// The runner-up act of the codebook's precedence rule, if any.
    pub secondary: Option<usize>,
    /// The previous sentence of the same document, read as context when
    /// [`TrainConfig::context_tokens`] is above 0.
    pub previous: Option<String>,
    /// A teacher's probabilities over the labels (knowledge distillation),
    /// mixed into the target with [`TrainConfig::teacher_weight`].
    pub teacher: Option<Vec<f32>>,
}

/// How the loss weighs each class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassWeighting {
    /// Every sentence counts the same.
    None,
    /// Weight `sqrt(n_max / n_class)`: softens the imbalance.
    Sqrt,
    /// Weight `n_max / n_class`: a balanced loss.
    Inverse,
}

/// Hyperparameters of a fine-tuning run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    /// Layer-wise learning-rate decay in (0, 1]: the head trains at
    /// `learning_rate`, each encoder layer below it at one more factor of
    /// this, the embeddings lowest (1: one rate for all).
    pub layer_decay: f64,
    /// Keeps the word-embedding matrix as the base model has it: words that
    /// the training set lacks keep their place beside those it has.
    pub freeze_word_embeddings: bool,
    pub batch_size: usize,
    pub max_tokens: usize,
    /// Tokens of the previous sentence given as a second segment; 0: none.
    /// Saved in the model's config, so that labelling reads the same.
    pub context_tokens: usize,
    /// Fraction of all steps spent warming the learning rate up.
    pub warmup_ratio: f64,
    pub weight_decay: f64,
    /// Overrides the hidden and classifier dropout of the base config.
    pub dropout: Option<f64>,
    pub seed: u64,
    /// Seeds the batch order and dropout instead of `seed`, which then seeds
    /// only the new head: runs that differ only here start from the same
    /// weights, so their weights can be averaged.
    pub data_seed: Option<u64>,
    pub class_weighting: ClassWeighting,
    /// Epochs without a better dev macro-F1 before stopping; 0 never stops early.
    pub patience: usize,
    /// Probability mass moved from the label to `secondary` in the target (0 = hard labels).
    pub secondary_weight: f64,
    /// Share of the target taken from an example's teacher probabilities,
    /// when it has them (0 = gold labels only, 1 = the teacher only).
    pub teacher_weight: f64,
    /// Share of each target spread evenly over all labels (label smoothing;
    /// 0 = none), applied after the secondary and teacher mixing.
    pub label_smoothing: f64,
    /// R-Drop consistency weight (0 = off): each batch runs through the
    /// encoder twice with different dropout masks, and this weight times the
    /// mean symmetric KL divergence between the two predictions joins the
    /// loss. Doubles the work of a step.
    pub rdrop: f64,
    /// Adversarial training on the word embeddings (FGM, Miyato et al.
    /// 2017; 0 = off): after each backward pass the word-embedding matrix is
    /// moved this far (L2 norm of the whole step) along its gradient, the
    /// batch runs again, and the gradients of both passes are summed. Makes
    /// a step about twice as costly.
    pub adversarial: f64,
    pub max_grad_norm: f64,
    pub storage: StorageDType,
    /// Decays of exponential moving averages of the weights, each scored on
    /// dev beside the live weights after every epoch; the best of all is
    /// saved. Empty: the live weights only.
    pub average_decays: Vec<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 6,
            learning_rate: 1e-4,
            layer_decay: 1.0,
            freeze_word_embeddings: false,
            batch_size: 16,
            max_tokens: 128,
            context_tokens: 0,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            dropout: None,
            seed: 42,
            data_seed: None,
            class_weighting: ClassWeighting::Sqrt,
            patience: 2,
            secondary_weight: 0.0,
            teacher_weight: 0.0,
            label_smoothing: 0.0,
            rdrop: 0.0,
            adversarial: 0.0,
            max_grad_norm: 1.0,
            storage: StorageDType::F16,
            average_decays: Vec::new(),
        }
    }
}

/// Which weights a score belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weights {
    /// The weights as the optimiser left them.
    Live,
    /// An exponential moving average of the weights with this decay.
    Average { decay: f64 },
}

impl std::fmt::Display for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weights::Live => write!(f, "live weights"),
            Weights::Average { decay } => write!(f, "weight average {decay}"),
        }
    }
}

/// The dev scores of one set of weights after an epoch.
#[derive(Debug, Clone)]
pub struct DevScore {
    pub weights: Weights,
    pub macro_f1: f64,
    pub accuracy: f64,
}

/// What one epoch achieved.
#[derive(Debug, Clone)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    /// Dev scores of the live weights, then of each weight average.
    pub scores: Vec<DevScore>,
    /// Index into `scores` of this epoch's best weights (the first with the
    /// highest macro-F1).
    pub best: usize,
    pub seconds: f64,
    /// Whether this epoch's best weights are the best so far (and were saved).
    pub improved: bool,
}

impl EpochReport {
    /// The dev scores of the live weights.
    pub fn live(&self) -> &DevScore {
        &self.scores[0]
    }

    /// The dev scores of this epoch's best weights.
    pub fn best(&self) -> &DevScore {
        &self.scores[self.best]
    }
}

/// The result of a run: the best epoch was saved to the output directory.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub epochs: Vec<EpochReport>,
    pub best_epoch: usize,
    pub best_macro_f1: f64,
    /// Which weights of the best epoch were saved.
    pub best_weights: Weights,
    /// Dev predictions of the best epoch, as label indices.
    pub best_dev_predictions: Vec<usize>,
    pub class_weights: Vec<f64>,
    pub train_truncated: usize,
    pub seconds: f64,
    pub stopped_early: bool,
}

/// Receives progress; every method has an empty default.
pub trait TrainObserver {
    fn epoch_started(&mut self, _epoch: usize, _steps: usize) {}
    fn step(&mut self, _step_in_epoch: usize, _loss: f64, _learning_rate: f64) {}
    fn evaluating(&mut self, _epoch: usize, _sentences: usize) {}
    fn epoch_finished(&mut self, _report: &EpochReport) {}
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: the base model lacks tensor {name}")]
    MissingTensor { path: PathBuf, name: String },
}

/// Class weights for the loss from the training labels.
pub fn class_weights(labels: &[usize], classes: usize, weighting: ClassWeighting) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        counts[l] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    counts
        .iter()
        .map(|&n| {
            let ratio = most / n.max(1) as f64;
            match weighting {
                ClassWeighting::None => 1.0,
                ClassWeighting::Sqrt => ratio.sqrt(),
                ClassWeighting::Inverse => ratio,
            }
        })
        .collect()
}

/// Fine-tunes `base` on `train`, evaluates on `dev` after every epoch, and
/// saves the best epoch to `out` as a `BertForSequenceClassification` directory.
pub fn train(
    base: &Path,
    labels: &LabelSet,
    train: &[Example],
    dev: &[Example],
    cfg: &TrainConfig,
    out: &Path,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    if train.is_empty() {
        return Err(TrainError::Invalid("the training set is empty".into()));
    }
    if dev.is_empty() {
        return Err(TrainError::Invalid("the dev set is empty".into()));
    }
    if cfg.batch_size == 0 || cfg.epochs == 0 {
        return Err(TrainError::Invalid(
            "epochs and batch size must be at least 1".into(),
        ));
    }
    if !(cfg.layer_decay > 0.0 && cfg.layer_decay <= 1.0) {
        return Err(TrainError::Invalid(format!(
            "layer decay {} must be in (0, 1]",
            cfg.layer_decay
        )));
    }
    if !(0.0..=1.0).contains(&cfg.teacher_weight) {
        return Err(TrainError::Invalid(
            "teacher weight must be in [0, 1]".into(),
        ));
    }
    if let Some((i, e)) = train.iter().enumerate().find(|(_, e)| {
        e.teacher.as_ref().is_some_and(|t| {
            t.len() != labels.len()
                || t.iter().any(|p| !p.is_finite() || *p < 0.0)
                || t.iter().sum::<f32>() <= 0.0
        })
    }) {
        return Err(TrainError::Invalid(format!(
            "training example {} ({:?}): teacher probabilities must be {} non-negative numbers, not all 0",
            i + 1,
            e.text,
            labels.len()
        )));
    }
    if !(0.0..1.0).contains(&cfg.label_smoothing) {
        return Err(TrainError::Invalid(format!(
            "label smoothing {} must be in [0, 1)",
            cfg.label_smoothing
        )));
    }
    if !(cfg.rdrop >= 0.0 && cfg.rdrop.is_finite()) {
        return Err(TrainError::Invalid(format!(
            "R-Drop weight {} must be a finite number, 0 or above",
            cfg.rdrop
        )));
    }
    if !(cfg.adversarial >= 0.0 && cfg.adversarial.is_finite()) {
        return Err(TrainError::Invalid(format!(
            "adversarial step {} must be a finite number, 0 or above",
            cfg.adversarial
        )));
    }
    if !(0.0..1.0).contains(&cfg.secondary_weight) {
        return Err(TrainError::Invalid(
            "secondary weight must be in [0, 1)".into(),
        ));
    }
    if let Some(d) = cfg
        .average_decays
        .iter()
        .find(|d| !(0.0..1.0).contains(*d) || **d == 0.0)
    {
        return Err(TrainError::Invalid(format!(
            "weight-average decay {d} must be in (0, 1)"
        )));
    }
    let device = Device::Cpu;
    let base_dir = ModelDir::open(base)?;
    let mut config = base_dir.config.clone();
    config
        .set_context_tokens(cfg.context_tokens)
        .map_err(|e| TrainError::Invalid(format!("base model {}: {e}", base.display())))?;
    if let Some(p) = cfg.dropout {
        config.hidden_dropout_prob = p;
        config.classifier_dropout = None;
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed);

    // Weights: the base model's, plus a fresh head unless the base already
    // classifies into the same labels.
    let mut tensors = load_weights_for_training(&base_dir, &device)?;
    let same_head = base_dir.config.labels.as_ref() == Some(labels);
    if !same_head {
        tensors.retain(|name, _| !name.starts_with("classifier."));
    }
    let h = config.hidden_size;
    let mut fresh = |name: &str, shape: &[usize], rng: &mut StdRng| -> Result<(), TrainError> {
        if !tensors.contains_key(name) {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with(".bias") {
                vec![0.0; n]
            } else {
                (0..n)
                    .map(|_| stance_model::init::normal(rng, 0.02))
                    .collect()
            };
            tensors.insert(name.into(), Tensor::from_vec(values, shape, &device)?);
        }
        Ok(())
    };
    fresh("bert.pooler.dense.weight", &[h, h], &mut rng)?;
    fresh("bert.pooler.dense.bias", &[h], &mut rng)?;
    fresh("classifier.weight", &[labels.len(), h], &mut rng)?;
    fresh("classifier.bias", &[labels.len()], &mut rng)?;

    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().expect("varmap lock");
        for (name, tensor) in &tensors {
            data.insert(name.clone(), Var::from_tensor(tensor)?);
        }
    }
    if let Some(data_seed) = cfg.data_seed {
        rng = StdRng::seed_from_u64(data_seed);
    }
    let dropout_rng = Dropout::seeded_rng(cfg.data_seed.unwrap_or(cfg.seed).wrapping_add(1));
    let root = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = SequenceClassifier::load(
        root.clone(),
        root.pp("bert"),
        &config,
        labels.len(),
        &dropout_rng,
    )
    .map_err(|e| ModelError::Weights {
        path: base_dir.weights_path(),
        message: e.to_string(),
    })?;
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((name, _)) = vars.iter().find(|(n, _)| !tensors.contains_key(n)) {
        return Err(TrainError::MissingTensor {
            path: base_dir.weights_path(),
            name: name.clone(),
        });
    }
    let mut optimizer = AdamW::new(
        vars.iter()
            .filter(|(n, _)| !(cfg.freeze_word_embeddings && n == WORD_EMBEDDINGS))
            .map(|(n, v)| Trainable {
                var: v.clone(),
                decay: !(n.ends_with(".bias") || n.contains("LayerNorm")),
                rate_scale: layer_rate_scale(n, config.num_hidden_layers, cfg.layer_decay),
            })
            .collect(),
        cfg.weight_decay,
    );
    let live: Vec<Var> = vars.iter().map(|(_, v)| v.clone()).collect();
    let mut averages = cfg
        .average_decays
        .iter()
        .map(|&d| WeightAverage::new(d, &live))
        .collect::<Vec<_>>();

    let tokenizer = SentenceTokenizer::from_file(
        &base_dir.tokenizer_path(),
        config.sentence_tokens(cfg.max_tokens),
        config.vocab_size,
    )?;
    let context_tokens = config.context_tokens;
    let encode = |examples: &[Example]| -> Result<Vec<Encoded>, ModelError> {
        examples
            .iter()
            .map(|e| tokenizer.encode_with_context(&e.text, e.previous.as_deref(), context_tokens))
            .collect()
    };
    let train_encoded = encode(train)?;
    let dev_encoded = encode(dev)?;
    let train_truncated = train_encoded.iter().filter(|e| e.truncated).count();

    let train_labels: Vec<usize> = train.iter().map(|e| e.label).collect();
    let weights = class_weights(&train_labels, labels.len(), cfg.class_weighting);
    let steps_per_epoch = train.len().div_ceil(cfg.batch_size);
    let schedule = LinearSchedule {
        peak: cfg.learning_rate,
        warmup_steps: ((steps_per_epoch * cfg.epochs) as f64 * cfg.warmup_ratio).round() as usize,
        total_steps: steps_per_epoch * cfg.epochs,
    };

    let gold: Vec<usize> = dev.iter().map(|e| e.label).collect();
    let mut reports = Vec::new();
    let mut best: Option<(usize, f64, Vec<usize>, Weights)> = None;
    let mut since_best = 0;
    let mut global_step = 0;
    let mut stopped_early = false;
    for epoch in 1..=cfg.epochs {
        let epoch_started = Instant::now();
        let batches = length_bucketed_batches(&train_encoded, cfg.batch_size, &mut rng);
        observer.epoch_started(epoch, batches.len());
        let mut loss_sum = 0.0;
        for (i, batch) in batches.iter().enumerate() {
            let mut rows: Vec<&Encoded> = batch.iter().map(|&j| &train_encoded[j]).collect();
            if cfg.rdrop > 0.0 {
                // The same rows again: one forward pass, two dropout masks.
                rows.extend_from_within(..);
            }
            let inputs = tokenizer.batch(&rows, &device)?;
            let forward = || {
                model.forward(
                    &inputs.input_ids,
                    &inputs.token_type_ids,
                    &inputs.attention_mask,
                    ForwardMode::Training,
                )
            };
            let logits = forward()?;
            let targets = target_weights(
                batch,
                train,
                &weights,
                labels.len(),
                Mixing {
                    secondary_weight: cfg.secondary_weight,
                    teacher_weight: cfg.teacher_weight,
                    label_smoothing: cfg.label_smoothing,
                },
            );
            let (targets, norm) = (
                Tensor::from_vec(targets.0, (batch.len(), labels.len()), &device)?,
                targets.1,
            );
            let batch_loss = |logits: &Tensor| -> candle_core::Result<Tensor> {
                let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
                if cfg.rdrop > 0.0 {
                    consistency_loss(&log_probs, &targets, norm, cfg.rdrop)
                } else {
                    weighted_cross_entropy(&log_probs, &targets, norm)
                }
            };
            let loss = batch_loss(&logits)?;
            let loss_value = loss.to_scalar::<f32>()? as f64;
            let mut grads = loss.backward()?;
            // The first pass's graph (its activations) is not needed again:
            // free it before a second pass builds its own.
            drop((loss, logits));
            if cfg.adversarial > 0.0 {
                let embeddings = &vars
                    .iter()
                    .find(|(n, _)| n == WORD_EMBEDDINGS)
                    .expect("the encoder has word embeddings")
                    .1;
                add_adversarial_gradients(&mut grads, embeddings, &live, cfg.adversarial, || {
                    Ok(batch_loss(&forward()?)?)
                })?;
            }
            let lr = schedule.rate(global_step);
            optimizer.step(&grads, lr, cfg.max_grad_norm)?;
            if !averages.is_empty() {
                let current = host_values(&live)?;
                for average in &mut averages {
                    average.update(&current);
                }
            }
            global_step += 1;
            loss_sum += loss_value;
            observer.step(i + 1, loss_sum / (i + 1) as f64, lr);
        }
        observer.evaluating(epoch, dev.len());
        let score = |predictions: &[usize], weights: Weights| DevScore {
            weights,
            macro_f1: stance_eval::macro_f1(labels.len(), &gold, predictions),
            accuracy: stance_eval::accuracy(&gold, predictions),
        };
        // Candidates: the live weights, then each average; the first with
        // the highest macro-F1 is this epoch's best.
        let predictions = predict(&model, &tokenizer, &dev_encoded, &device)?;
        let mut scores = vec![score(&predictions, Weights::Live)];
        let mut epoch_best: (usize, Vec<usize>, Option<Vec<Tensor>>) = (0, predictions, None);
        for average in &averages {
            let weights = average.tensors(&live)?;
            let predictions = with_weights(&live, &weights, || {
                predict(&model, &tokenizer, &dev_encoded, &device)
            })?;
            scores.push(score(
                &predictions,
                Weights::Average {
                    decay: average.decay(),
                },
            ));
            if scores.last().expect("pushed").macro_f1 > scores[epoch_best.0].macro_f1 {
                epoch_best = (scores.len() - 1, predictions, Some(weights));
            }
        }
        let (best_index, predictions, averaged) = epoch_best;
        let f1 = scores[best_index].macro_f1;
        let improved = best.as_ref().is_none_or(|b| f1 > b.1);
        if improved {
            let current: HashMap<String, Tensor> = match &averaged {
                None => vars
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
                    .collect(),
                Some(weights) => vars
                    .iter()
                    .map(|(n, _)| n.clone())
                    .zip(weights.iter().cloned())
                    .collect(),
            };
            save_model(
                out,
                &config,
                labels,
                1.0,
                &base_dir.tokenizer_path(),
                &current,
                cfg.storage,
            )?;
            best = Some((epoch, f1, predictions, scores[best_index].weights));
            since_best = 0;
        } else {
            since_best += 1;
        }
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / batches.len() as f64,
            scores,
            best: best_index,
            seconds: epoch_started.elapsed().as_secs_f64(),
            improved,
        };
        observer.epoch_finished(&report);
        reports.push(report);
        if cfg.patience > 0 && since_best >= cfg.patience && epoch < cfg.epochs {
            stopped_early = true;
            break;
        }
    }
    let (best_epoch, best_macro_f1, best_dev_predictions, best_weights) =
        best.expect("at least one epoch ran");
    Ok(TrainOutcome {
        epochs: reports,
        best_epoch,
        best_macro_f1,
        best_weights,
        best_dev_predictions,
        class_weights: weights,
        train_truncated,
        seconds: started.elapsed().as_secs_f64(),
        stopped_early,
    })
}

/// Fast gradient method (Miyato et al. 2017): moves `embeddings` by
/// `epsilon` along its gradient in `grads` (normalised over the whole
/// matrix, so only the rows of the batch's tokens move), computes the loss
/// again with `adversarial_loss` and its gradients, restores the
/// embeddings, and adds those gradients to `grads`. Does nothing when the gradient is zero.
fn add_adversarial_gradients(
    grads: &mut candle_core::backprop::GradStore,
    embeddings: &Var,
    trainable: &[Var],
    epsilon: f64,
    adversarial_loss: impl FnOnce() -> Result<Tensor, TrainError>,
) -> Result<(), TrainError> {
    let Some(gradient) = grads.get(embeddings.as_tensor()) else {
        return Ok(());
    };
    let norm = gradient.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt() as f64;
    if !(norm > 0.0 && norm.is_finite()) {
        return Ok(());
    }
    let original = embeddings.as_tensor().copy()?;
    embeddings.set(&(&original + (gradient * (epsilon / norm))?)?)?;
    // Backward passes read their operands' storage, so the embeddings stay
    // moved until the gradients exist; they are restored either way.
    let adversarial = adversarial_loss().and_then(|loss| Ok(loss.backward()?));
    embeddings.set(&original)?;
    let adversarial = adversarial?;
    for var in trainable {
        if let Some(extra) = adversarial.get(var.as_tensor()) {
            let sum = match grads.get(var.as_tensor()) {
                Some(g) => (g + extra)?,
                None => extra.clone(),
            };
            grads.insert(var.as_tensor(), sum);
        }
    }
    Ok(())
}

/// Cross-entropy of log-probabilities against class-weighted target rows:
/// their weighted mean, as PyTorch's `cross_entropy(weight=...)` computes it.
/// `norm` is the sum of the row weights ([`target_weights`]).
fn weighted_cross_entropy(
    log_probs: &Tensor,
    targets: &Tensor,
    norm: f64,
) -> candle_core::Result<Tensor> {
    (log_probs * targets)?.sum_all()? * (-1.0 / norm)
}

/// R-Drop (Liang et al., 2021): `log_probs` holds every row of the batch
/// twice, each pass under its own dropout mask. The loss is the mean
/// cross-entropy of both passes plus `weight` times the mean over rows of
/// the symmetric KL divergence between them, `(KL(p‖q) + KL(q‖p)) / 2 =
/// Σ (p − q)(log p − log q) / 2`.
fn consistency_loss(
    log_probs: &Tensor,
    targets: &Tensor,
    norm: f64,
    weight: f64,
) -> candle_core::Result<Tensor> {
    let rows = targets.dim(0)?;
    let first = log_probs.narrow(0, 0, rows)?;
    let second = log_probs.narrow(0, rows, rows)?;
    let cross_entropy = ((weighted_cross_entropy(&first, targets, norm)?
        + weighted_cross_entropy(&second, targets, norm)?)?
        * 0.5)?;
    let divergence = ((first.exp()? - second.exp()?)? * (&first - &second)?)?.sum_all()?;
    cross_entropy + (divergence * (0.5 * weight / rows as f64))?
}

/// The word-embedding matrix, as `BertForSequenceClassification` names it.
const WORD_EMBEDDINGS: &str = "bert.embeddings.word_embeddings.weight";

/// How a training target departs from the one-hot gold label.
#[derive(Debug, Clone, Copy)]
struct Mixing {
    secondary_weight: f64,
    teacher_weight: f64,
    label_smoothing: f64,
}

/// Per-row target distributions scaled by class weight, flattened, and the
/// sum of the row weights (the loss is their weighted mean, as PyTorch's
/// `cross_entropy(weight=..., label_smoothing=...)` computes it).
fn target_weights(
    batch: &[usize],
    examples: &[Example],
    class_weights: &[f64],
    classes: usize,
    mixing: Mixing,
) -> (Vec<f32>, f64) {
    let Mixing {
        secondary_weight,
        teacher_weight,
        label_smoothing,
    } = mixing;
    let mut targets = vec![0f32; batch.len() * classes];
    let mut norm = 0.0;
    for (row, &j) in batch.iter().enumerate() {
        let example = &examples[j];
        let w = class_weights[example.label];
        norm += w;
        match example.secondary {
            Some(s) if secondary_weight > 0.0 && s != example.label => {
                targets[row * classes + example.label] = (w * (1.0 - secondary_weight)) as f32;
                targets[row * classes + s] = (w * secondary_weight) as f32;
            }
            _ => targets[row * classes + example.label] = w as f32,
        }
        if let Some(teacher) = example.teacher.as_ref().filter(|_| teacher_weight > 0.0) {
            let sum: f32 = teacher.iter().sum();
            let row_targets = &mut targets[row * classes..(row + 1) * classes];
            for (target, &p) in row_targets.iter_mut().zip(teacher) {
                let p = p / sum;
                *target = ((1.0 - teacher_weight) * *target as f64 + teacher_weight * w * p as f64)
                    as f32;
            }
        }
        if label_smoothing > 0.0 {
            let even = w * label_smoothing / classes as f64;
            for target in &mut targets[row * classes..(row + 1) * classes] {
                *target = ((1.0 - label_smoothing) * *target as f64 + even) as f32;
            }
        }
    }
    (targets, norm)
}

/// Shuffles, sorts windows of 50 batches by length, cuts them into batches
/// and shuffles the batches: little padding, still random.
fn length_bucketed_batches(
    encoded: &[Encoded],
    batch_size: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.shuffle(rng);
    let mut batches = Vec::new();
    for window in order.chunks_mut(batch_size * 50) {
        window.sort_by_key(|&i| encoded[i].ids.len());
        for batch in window.chunks(batch_size) {
            batches.push(batch.to_vec());
        }
    }
    batches.shuffle(rng);
    batches
}

fn predict(
    model: &SequenceClassifier,
    tokenizer: &SentenceTokenizer,
    encoded: &[Encoded],
    device: &Device,
) -> Result<Vec<usize>, TrainError> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].ids.len());
    let mut predictions = vec![0; encoded.len()];
    for chunk in order.chunks(64) {
        let rows: Vec<&Encoded> = chunk.iter().map(|&i| &encoded[i]).collect();
        let inputs = tokenizer.batch(&rows, device)?;
        let logits = model.forward(
            &inputs.input_ids,
            &inputs.token_type_ids,
            &inputs.attention_mask,
            ForwardMode::Inference,
        )?;
        let argmax = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        for (&i, p) in chunk.iter().zip(argmax) {
            predictions[i] = p as usize;
        }
    }
    Ok(predictions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(label: usize, secondary: Option<usize>, teacher: Option<Vec<f32>>) -> Example {
        Example {
            text: "x".into(),
            label,
            secondary,
            previous: None,
            teacher,
        }
    }

    #[test]
    fn targets_mix_gold_secondary_and_teacher() {
        let examples = [
            example(0, None, None),
            example(1, Some(2), None),
            example(2, None, Some(vec![2.0, 0.0, 2.0])),
        ];
        let weights = [1.0, 1.0, 2.0];
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);

        let mix = |secondary_weight, teacher_weight, label_smoothing| Mixing {
            secondary_weight,
            teacher_weight,
            label_smoothing,
        };
        let (t, norm) = target_weights(&[0, 1, 2], &examples, &weights, 3, mix(0.0, 0.0, 0.0));
        assert!(close(&t, &[1., 0., 0., 0., 1., 0., 0., 0., 2.]), "{t:?}");
        assert_eq!(norm, 4.0);

        // Secondary mass, and half of the target from the (normalised)
        // teacher, scaled by the gold label's class weight.
        let (t, norm) = target_weights(&[0, 1, 2], &examples, &weights, 3, mix(0.25, 0.5, 0.0));
        assert!(
            close(&t, &[1., 0., 0., 0., 0.75, 0.25, 0.5, 0., 1.5]),
            "{t:?}"
        );
        assert_eq!(norm, 4.0);

        // The teacher alone.
        let (t, _) = target_weights(&[2], &examples, &weights, 3, mix(0.0, 1.0, 0.0));
        assert!(close(&t, &[1., 0., 1.]), "{t:?}");

        // Label smoothing 0.3 keeps 0.7 of the target and spreads 0.3 of the
        // row's weight evenly (0.1 a label at weight 1, 0.2 at weight 2),
        // after the secondary mixing; each row still sums to its weight.
        let (t, norm) = target_weights(&[0, 1, 2], &examples, &weights, 3, mix(0.25, 0.0, 0.3));
        assert!(
            close(&t, &[0.8, 0.1, 0.1, 0.1, 0.625, 0.275, 0.2, 0.2, 1.6]),
            "{t:?}"
        );
        assert_eq!(norm, 4.0);
    }

    #[test]
    fn consistency_loss_adds_the_symmetric_divergence_of_the_two_passes() {
        let device = Device::Cpu;
        let log_probs = |rows: &[[f32; 2]]| {
            let flat: Vec<f32> = rows.iter().flatten().map(|p| p.ln()).collect();
            Tensor::from_vec(flat, (rows.len(), 2), &device).unwrap()
        };
        let targets = Tensor::from_vec(vec![1f32, 0.], (1, 2), &device).unwrap();
        let value = |t: Tensor| t.to_scalar::<f32>().unwrap() as f64;

        // One row, gold label 0, seen as p = (0.5, 0.5) and q = (0.8, 0.2).
        // Cross-entropy: (−ln 0.5 − ln 0.8) / 2 = 0.458145.
        // Σ (p − q)(ln p − ln q) = −0.3 · (ln 0.5 − ln 0.8) + 0.3 · (ln 0.5 − ln 0.2)
        //   = 0.141001 + 0.274887 = 0.415888; half of it, times weight 2: 0.415888.
        let both = log_probs(&[[0.5, 0.5], [0.8, 0.2]]);
        let loss = value(consistency_loss(&both, &targets, 1.0, 2.0).unwrap());
        assert!((loss - (0.458145 + 0.415888)).abs() < 1e-5, "{loss}");

        // Two passes that agree add nothing to the cross-entropy.
        let same = log_probs(&[[0.8, 0.2], [0.8, 0.2]]);
        let loss = value(consistency_loss(&same, &targets, 1.0, 2.0).unwrap());
        let alone =
            value(weighted_cross_entropy(&log_probs(&[[0.8, 0.2]]), &targets, 1.0).unwrap());
        assert!(
            (loss - alone).abs() < 1e-7 && (alone - 0.223144).abs() < 1e-5,
            "{loss} {alone}"
        );
    }

    #[test]
    fn adversarial_gradients_come_from_moved_embeddings_which_are_then_restored() {
        let device = Device::Cpu;
        let values = [1.0f32, 2.0, 0.0, -1.0, 3.0, 0.5];
        let embeddings = Var::from_vec(values.to_vec(), (3, 2), &device).unwrap();
        let other = Var::from_vec(vec![2.0f32], 1, &device).unwrap();
        // loss = sum(E^2) * w: dL/dE = 2 w E, dL/dw = sum(E^2).
        let loss = || -> Result<Tensor, TrainError> {
            Ok(embeddings
                .as_tensor()
                .sqr()?
                .sum_all()?
                .mul(&other.as_tensor().sum_all()?)?)
        };
        let flat = |t: &Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
        let mut grads = loss().unwrap().backward().unwrap();
        let g1 = flat(grads.get(embeddings.as_tensor()).unwrap());
        let g1_norm = g1.iter().map(|g| g * g).sum::<f32>().sqrt();
        let epsilon = 0.5;
        let moved: Vec<f32> = values
            .iter()
            .zip(&g1)
            .map(|(e, g)| e + epsilon as f32 * g / g1_norm)
            .collect();
        let mut calls = 0;
        add_adversarial_gradients(
            &mut grads,
            &embeddings,
            &[embeddings.clone(), other.clone()],
            epsilon,
            || {
                calls += 1;
                loss()
            },
        )
        .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(flat(embeddings.as_tensor()), values);
        let summed = flat(grads.get(embeddings.as_tensor()).unwrap());
        for ((s, g), m) in summed.iter().zip(&g1).zip(&moved) {
            assert!((s - (g + 2.0 * 2.0 * m)).abs() < 1e-5, "{summed:?}");
        }
        let w_grad: f32 = grads
            .get(other.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()[0];
        let squares = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
        assert!((w_grad - (squares(&values) + squares(&moved))).abs() < 1e-4);

        // A zero gradient moves nothing and runs no second pass.
        let zero = Var::from_vec(vec![0.0f32; 2], 2, &device).unwrap();
        let mut grads = zero
            .as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        add_adversarial_gradients(&mut grads, &zero, std::slice::from_ref(&zero), 1.0, || {
            panic!("no second pass expected")
        })
        .unwrap();
    }
}
