use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use candle_core::{DType, Device};

use crate::bert::{BertEncoder, Dropout, ForwardMode, SequenceClassifier};
use crate::config::LabelSet;
use crate::dir::{weights_sha256, ModelDir};
use crate::error::ModelError;
use crate::tokenize::{Encoded, SentenceTokenizer};

/// The arithmetic of the encoder's dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout: the logits of PyTorch, within 1e-4.
    F32,
    /// Int8 weights and activations in the encoder's dense layers (see
    /// `quant`): several times faster on CPUs with AVX-512 VNNI, with labels
    /// that agree with f32 on nearly every sentence.
    Int8,
}

impl Precision {
    /// Int8 where this CPU runs it natively (AVX-512 VNNI), else f32.
    pub fn fastest() -> Self {
        if crate::quant::int8_is_fast() {
            Precision::Int8
        } else {
            Precision::F32
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

/// How a classifier runs.
#[derive(Debug, Clone)]
pub struct ClassifierOptions {
    /// Sentences longer than this many tokens (special tokens included) are cut.
    pub max_tokens: usize,
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Arithmetic of the dense layers (default f32, the exact reference).
    pub precision: Precision,
    /// Threads that each run whole batches. With more than one, set
    /// `RAYON_NUM_THREADS=1` before the first tensor operation, so that each
    /// operation runs on its caller's thread: on small batches that beats
    /// splitting every operation across cores (1.3x on 2 cores; see the
    /// README's speed section). 1 (the default) runs batches in turn, with
    /// every operation split across candle's threads.
    pub workers: usize,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        Self {
            max_tokens: 128,
            batch_size: 32,
            precision: Precision::F32,
            workers: 1,
        }
    }
}

/// The model's verdict on one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index into the classifier's [`LabelSet`].
    pub label: usize,
    /// Probability of the predicted label.
    pub confidence: f32,
    /// Softmax of the logits divided by the model's temperature, in label order.
    pub probabilities: Vec<f32>,
    /// Raw logits, in label order.
    pub logits: Vec<f32>,
    /// Whether the text was cut to the maximum token count.
    pub truncated: bool,
}

/// A loaded sequence classifier, ready to label texts.
pub struct Classifier {
    dir: ModelDir,
    model: SequenceClassifier,
    tokenizer: SentenceTokenizer,
    labels: LabelSet,
    device: Device,
    options: ClassifierOptions,
    sha256: OnceLock<String>,
}

impl Classifier {
    /// Loads a fine-tuned model directory (weights memory-mapped, computed in f32).
    pub fn load(path: &Path, options: ClassifierOptions) -> Result<Self, ModelError> {
        let dir = ModelDir::open(path)?;
        let config_path = dir.path.join(crate::dir::CONFIG_FILE);
        let labels = dir
            .config
            .labels
            .clone()
            .ok_or_else(|| ModelError::Config {
                path: config_path.clone(),
                message:
                    "no id2label: this is a bare encoder, not a classifier. Fine-tune it with \
                      `stance train --base DIR` first"
                        .into(),
            })?;
        if options.batch_size == 0 {
            return Err(ModelError::Config {
                path: config_path,
                message: "batch size must be at least 1".into(),
            });
        }
        let device = Device::Cpu;
        let vb = dir.var_builder(DType::F32, &device)?;
        let weights_error = |e: candle_core::Error| ModelError::Weights {
            path: dir.weights_path(),
            message: e.to_string(),
        };
        if !vb.contains_tensor("classifier.weight") {
            return Err(ModelError::Weights {
                path: dir.weights_path(),
                message: "no classifier.weight: this is a bare encoder, not a classifier".into(),
            });
        }
        let encoder_vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb.clone()
        };
        let rng = Dropout::seeded_rng(0);
        let mut model = SequenceClassifier::load(vb, encoder_vb, &dir.config, labels.len(), &rng)
            .map_err(weights_error)?;
        if options.precision == Precision::Int8 {
            model.encoder.quantize_int8().map_err(weights_error)?;
        }
        let tokenizer = SentenceTokenizer::from_file(
            &dir.tokenizer_path(),
            dir.config.sentence_tokens(options.max_tokens),
            dir.config.vocab_size,
        )?;
        Ok(Self {
            dir,
            model,
            tokenizer,
            labels,
            device,
            options,
            sha256: OnceLock::new(),
        })
    }

    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// Puts the model's outputs in the order of `names` when its labels are
    /// the same set in another order (a model trained elsewhere may sort its
    /// labels differently), so that predictions and probabilities come in
    /// that order. Returns whether the order changed; an error, leaving the
    /// model as it was, when the label sets differ.
    pub fn order_labels_as(&mut self, names: &[String]) -> Result<bool, ModelError> {
        if self.labels.names() == names {
            return Ok(false);
        }
        let order: Option<Vec<usize>> = names.iter().map(|n| self.labels.index_of(n)).collect();
        let (Some(order), true) = (order, names.len() == self.labels.len()) else {
            return Err(ModelError::Config {
                path: self.dir.path.join(crate::dir::CONFIG_FILE),
                message: format!(
                    "the model's labels {:?} are not {:?} in any order",
                    self.labels.names(),
                    names
                ),
            });
        };
        self.model
            .head
            .reorder_outputs(&order)
            .map_err(|e| ModelError::Weights {
                path: self.dir.weights_path(),
                message: e.to_string(),
            })?;
        self.labels = LabelSet::new(names.to_vec());
        Ok(true)
    }

    pub fn model_dir(&self) -> &ModelDir {
        &self.dir
    }

    pub fn precision(&self) -> Precision {
        self.options.precision
    }

    pub fn temperature(&self) -> f64 {
        self.dir.config.temperature
    }

    /// The sha256 of `model.safetensors`, computed once.
    pub fn weights_sha256(&self) -> Result<String, ModelError> {
        if let Some(sha) = self.sha256.get() {
            return Ok(sha.clone());
        }
        let sha = weights_sha256(&self.dir.weights_path())?;
        Ok(self.sha256.get_or_init(|| sha).clone())
    }

    /// Tokens of the previous sentence the model reads beside each sentence
    /// (`stance_context_tokens` in its config); 0 when it reads sentences alone.
    pub fn context_tokens(&self) -> usize {
        self.dir.config.context_tokens
    }

    /// Tokens a sentence is cut to: the requested maximum, less what the
    /// model's positions cannot hold beside its context.
    pub fn max_tokens(&self) -> usize {
        self.tokenizer.max_tokens()
    }

    pub fn tokenize(&self, text: &str) -> Result<Encoded, ModelError> {
        self.tokenizer.encode(text)
    }

    /// Tokenises many texts, split across the classifier's workers; in input order.
    pub fn tokenize_many(&self, texts: &[&str]) -> Result<Vec<Encoded>, ModelError> {
        self.tokenize_many_in_context(texts, &vec![None; texts.len()])
    }

    /// Tokenises sentences each with the previous sentence of its document
    /// (`None` for a document's first sentence), as a pair when the model
    /// reads context; in input order.
    ///
    /// # Panics
    /// When `previous` and `texts` differ in length.
    pub fn tokenize_many_in_context(
        &self,
        texts: &[&str],
        previous: &[Option<&str>],
    ) -> Result<Vec<Encoded>, ModelError> {
        assert_eq!(
            texts.len(),
            previous.len(),
            "one previous sentence per text"
        );
        let context_tokens = self.context_tokens();
        let encode_all = |part: &[(&str, Option<&str>)]| -> Result<Vec<Encoded>, ModelError> {
            part.iter()
                .map(|&(t, p)| self.tokenizer.encode_with_context(t, p, context_tokens))
                .collect()
        };
        let pairs: Vec<(&str, Option<&str>)> = texts
            .iter()
            .copied()
            .zip(previous.iter().copied())
            .collect();
        let workers = self.options.workers.max(1);
        if workers == 1 || texts.len() < 64 {
            return encode_all(&pairs);
        }
        let share = texts.len().div_ceil(workers);
        std::thread::scope(|scope| {
            let handles: Vec<_> = pairs
                .chunks(share)
                .map(|part| scope.spawn(move || encode_all(part)))
                .collect();
            let mut all = Vec::with_capacity(texts.len());
            for handle in handles {
                all.extend(handle.join().expect("a tokenising worker panicked")?);
            }
            Ok(all)
        })
    }

    /// Labels texts. Texts are grouped into batches of similar length, and the
    /// predictions come back in input order.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>, ModelError> {
        let encoded = self.tokenize_many(texts)?;
        self.predict_encoded(&encoded)
    }

    /// Labels sentences each with the previous sentence of its document
    /// (`None` for a document's first); a model that reads no context
    /// ignores `previous`. In input order.
    pub fn predict_in_context(
        &self,
        texts: &[&str],
        previous: &[Option<&str>],
    ) -> Result<Vec<Prediction>, ModelError> {
        let encoded = self.tokenize_many_in_context(texts, previous)?;
        self.predict_encoded(&encoded)
    }

    /// Labels already-tokenised texts, batching by length, in input order.
    pub fn predict_encoded(&self, encoded: &[Encoded]) -> Result<Vec<Prediction>, ModelError> {
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        // Longest first: parallel workers then end on short batches and finish together.
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].ids.len()));
        let batches: Vec<&[usize]> = order.chunks(self.options.batch_size).collect();
        let run_batch = |batch: &[usize]| -> Result<Vec<(usize, Prediction)>, ModelError> {
            let rows: Vec<&Encoded> = batch.iter().map(|&i| &encoded[i]).collect();
            let logits = self.logits(&rows)?;
            Ok(logits
                .into_iter()
                .zip(batch)
                .map(|(row, &i)| (i, self.prediction(row, encoded[i].truncated)))
                .collect())
        };
        let workers = self.options.workers.clamp(1, batches.len().max(1));
        let mut out: Vec<Option<Prediction>> = vec![None; encoded.len()];
        if workers == 1 {
            for batch in &batches {
                for (i, p) in run_batch(batch)? {
                    out[i] = Some(p);
                }
            }
        } else {
            // Workers take the next batch as they finish one, so that long
            // and short batches balance out.
            let next = AtomicUsize::new(0);
            let done = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| -> Result<Vec<(usize, Prediction)>, ModelError> {
                            let mut mine = Vec::new();
                            loop {
                                let b = next.fetch_add(1, Ordering::Relaxed);
                                let Some(batch) = batches.get(b) else {
                                    return Ok(mine);
                                };
                                mine.extend(run_batch(batch)?);
                            }
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a labelling worker panicked"))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            for (i, p) in done.into_iter().flatten() {
                out[i] = Some(p);
            }
        }
        Ok(out
            .into_iter()
            .map(|p| p.expect("every index predicted"))
            .collect())
    }

    fn prediction(&self, logits: Vec<f32>, truncated: bool) -> Prediction {
        let probabilities = softmax(&logits, self.temperature());
        // The label comes from the logits, which a temperature does not
        // reorder (a huge one can round every probability to the same value).
        let label = logits
            .iter()
            .enumerate()
            .fold(0, |best, (i, &z)| if z > logits[best] { i } else { best });
        let confidence = probabilities[label];
        Prediction {
            label,
            confidence,
            probabilities,
            logits,
            truncated,
        }
    }

    /// Logits of one padded batch, a row per encoding (context segments typed 1).
    pub fn logits(&self, encoded: &[&Encoded]) -> Result<Vec<Vec<f32>>, ModelError> {
        let batch = self.tokenizer.batch(encoded, &self.device)?;
        let logits = self.model.forward(
            &batch.input_ids,
            &batch.token_type_ids,
            &batch.attention_mask,
            ForwardMode::Inference,
        )?;
        Ok(logits.to_vec2::<f32>()?)
    }

    /// Mean-pooled last hidden states (sentence-transformers pooling), in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let encoded = self.tokenize_many(texts)?;
        let rows: Vec<&Encoded> = encoded.iter().collect();
        let batch = self.tokenizer.batch(&rows, &self.device)?;
        let hidden = self.model.encoder.forward(
            &batch.input_ids,
            &batch.token_type_ids,
            &batch.attention_mask,
            ForwardMode::Inference,
        )?;
        let pooled = BertEncoder::mean_pool(&hidden, &batch.attention_mask)?;
        Ok(pooled.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }

    /// The encoder, for callers that need hidden states.
    pub fn model(&self) -> &SequenceClassifier {
        &self.model
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Softmax of `logits / temperature`, computed stably.
pub fn softmax(logits: &[f32], temperature: f64) -> Vec<f32> {
    let t = temperature as f32;
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&l| ((l - max) / t).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}
