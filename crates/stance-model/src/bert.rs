//! BERT as in `transformers`' `modeling_bert.py`: embeddings, encoder layers,
//! pooler, and the `BertForSequenceClassification` head. Weights are
//! addressed by the Hugging Face names (`embeddings.word_embeddings.weight`,
//! `encoder.layer.{i}.attention.self.query.weight`, `classifier.weight`, ...).

use std::sync::{Arc, Mutex};

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Embedding, VarBuilder};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::config::ModelConfig;
use crate::quant::Int8Linear;

/// Whether a forward pass trains (dropout on, every op differentiable) or
/// infers (dropout off, fused kernels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    Inference,
    Training,
}

/// Inverted dropout driven by a seeded generator, so that a training run
/// with the same seed draws the same masks.
#[derive(Debug, Clone)]
pub struct Dropout {
    probability: f32,
    rng: Arc<Mutex<StdRng>>,
}

impl Dropout {
    pub fn new(probability: f32, rng: Arc<Mutex<StdRng>>) -> Self {
        Self { probability, rng }
    }

    pub fn seeded_rng(seed: u64) -> Arc<Mutex<StdRng>> {
        Arc::new(Mutex::new(StdRng::seed_from_u64(seed)))
    }

    pub fn forward(&self, xs: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        if mode == ForwardMode::Inference || self.probability <= 0.0 {
            return Ok(xs.clone());
        }
        let keep_scale = 1.0 / (1.0 - self.probability);
        let n = xs.elem_count();
        let mask: Vec<f32> = {
            let mut rng = self.rng.lock().expect("dropout rng poisoned");
            (0..n)
                .map(|_| {
                    if rng.random::<f32>() < self.probability {
                        0.0
                    } else {
                        keep_scale
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        xs * mask
    }
}

#[derive(Debug, Clone)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn load(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }

    fn forward(&self, xs: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        match mode {
            ForwardMode::Inference => candle_nn::ops::layer_norm(
                &xs.contiguous()?,
                &self.weight,
                &self.bias,
                self.eps as f32,
            ),
            ForwardMode::Training => {
                let hidden = xs.dim(D::Minus1)? as f64;
                let mean = (xs.sum_keepdim(D::Minus1)? / hidden)?;
                let centered = xs.broadcast_sub(&mean)?;
                let variance = (centered.sqr()?.sum_keepdim(D::Minus1)? / hidden)?;
                let normed = centered.broadcast_div(&(variance + self.eps)?.sqrt()?)?;
                normed
                    .broadcast_mul(&self.weight)?
                    .broadcast_add(&self.bias)
            }
        }
    }
}

/// A dense layer, `x · Wᵀ + b`, with `W` stored as (out, in) like PyTorch.
///
/// Unlike `candle_nn::Linear`, which multiplies a (batch, seq, in) input as
/// `batch` small matrices of `seq` rows, this folds every leading dimension
/// into the rows of one matrix product: one large GEMM per layer instead of
/// one per sentence, which is what keeps the matmul kernel busy.
///
/// After [`Linear::quantize_int8`] it runs the int8 kernel of [`crate::quant`]
/// instead (inference only: the int8 op has no gradient).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
    int8: Option<Int8Linear>,
}

impl Linear {
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    pub fn quantize_int8(&mut self) -> Result<()> {
        self.int8 = Some(Int8Linear::new(&self.weight, &self.bias)?);
        Ok(())
    }

    /// Reorders the outputs (rows of the weight and the bias): new output
    /// `i` is old output `order[i]`.
    pub fn reorder_outputs(&mut self, order: &[usize]) -> Result<()> {
        let rows: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let index = Tensor::from_vec(rows, order.len(), self.weight.device())?;
        self.weight = self.weight.index_select(&index, 0)?;
        self.bias = self.bias.index_select(&index, 0)?;
        if self.int8.is_some() {
            self.quantize_int8()?;
        }
        Ok(())
    }

    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims();
        let in_dim = *dims
            .last()
            .expect("linear input has at least one dimension");
        let rows = xs.elem_count() / in_dim.max(1);
        let flat = xs.reshape((rows, in_dim))?;
        let out = match &self.int8 {
            Some(int8) => int8.forward(&flat)?,
            None => flat.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?,
        };
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("non-empty dims") = self.weight.dim(0)?;
        out.reshape(out_dims)
    }
}

fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    Ok(Linear {
        weight: vb.get((out_dim, in_dim), "weight")?,
        bias: vb.get(out_dim, "bias")?,
        int8: None,
    })
}

#[derive(Debug, Clone)]
struct Embeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    layer_norm: LayerNorm,
    dropout: Dropout,
}

impl Embeddings {
    fn load(vb: VarBuilder, cfg: &ModelConfig, rng: &Arc<Mutex<StdRng>>) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            word: candle_nn::embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            position: candle_nn::embedding(
                cfg.max_position_embeddings,
                h,
                vb.pp("position_embeddings"),
            )?,
            token_type: candle_nn::embedding(
                cfg.type_vocab_size,
                h,
                vb.pp("token_type_embeddings"),
            )?,
            layer_norm: LayerNorm::load(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: Dropout::new(cfg.hidden_dropout_prob as f32, rng.clone()),
        })
    }

    fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        mode: ForwardMode,
    ) -> Result<Tensor> {
        let (_batch, seq_len) = input_ids.dims2()?;
        let positions = Tensor::arange(0u32, seq_len as u32, input_ids.device())?;
        let words = self.word.forward(input_ids)?;
        let types = self.token_type.forward(token_type_ids)?;
        let positions = self.position.forward(&positions)?;
        let xs = (words + types)?.broadcast_add(&positions)?;
        let xs = self.layer_norm.forward(&xs, mode)?;
        self.dropout.forward(&xs, mode)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    layer_norm: LayerNorm,
    attention_dropout: Dropout,
    output_dropout: Dropout,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(vb: VarBuilder, cfg: &ModelConfig, rng: &Arc<Mutex<StdRng>>) -> Result<Self> {
        let h = cfg.hidden_size;
        let attn = vb.pp("self");
        let out = vb.pp("output");
        Ok(Self {
            query: linear(h, h, attn.pp("query"))?,
            key: linear(h, h, attn.pp("key"))?,
            value: linear(h, h, attn.pp("value"))?,
            output: linear(h, h, out.pp("dense"))?,
            layer_norm: LayerNorm::load(h, cfg.layer_norm_eps, out.pp("LayerNorm"))?,
            attention_dropout: Dropout::new(cfg.attention_probs_dropout_prob as f32, rng.clone()),
            output_dropout: Dropout::new(cfg.hidden_dropout_prob as f32, rng.clone()),
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    fn quantize_int8(&mut self) -> Result<()> {
        for linear in [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.output,
        ] {
            linear.quantize_int8()?;
        }
        Ok(())
    }

    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, s, _) = xs.dims3()?;
        xs.reshape((b, s, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `mask_bias` is (batch, 1, 1, seq): 0 for tokens, a large negative for padding.
    /// Attention outputs for the rows of `queries` (the first rows of `xs`,
    /// or all of it), attending over every row of `xs`.
    fn forward(
        &self,
        queries: &Tensor,
        xs: &Tensor,
        mask_bias: &Tensor,
        mode: ForwardMode,
    ) -> Result<Tensor> {
        let (b, s, h) = queries.dims3()?;
        let q = self.split_heads(&self.query.forward(queries)?)?;
        let k = self.split_heads(&self.key.forward(xs)?)?;
        let v = self.split_heads(&self.value.forward(xs)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = q.matmul(&k.t()?)?;
        let probs = match mode {
            ForwardMode::Inference => crate::kernels::masked_softmax(&scores, mask_bias, scale)?,
            ForwardMode::Training => {
                candle_nn::ops::softmax(&(scores * scale)?.broadcast_add(mask_bias)?, D::Minus1)?
            }
        };
        let probs = self.attention_dropout.forward(&probs, mode)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        let projected = self.output.forward(&context)?;
        let projected = self.output_dropout.forward(&projected, mode)?;
        self.layer_norm.forward(&(projected + queries)?, mode)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    layer_norm: LayerNorm,
    dropout: Dropout,
    activation: String,
}

impl Layer {
    fn load(vb: VarBuilder, cfg: &ModelConfig, rng: &Arc<Mutex<StdRng>>) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            attention: Attention::load(vb.pp("attention"), cfg, rng)?,
            intermediate: linear(h, cfg.intermediate_size, vb.pp("intermediate").pp("dense"))?,
            output: linear(cfg.intermediate_size, h, vb.pp("output").pp("dense"))?,
            layer_norm: LayerNorm::load(h, cfg.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
            dropout: Dropout::new(cfg.hidden_dropout_prob as f32, rng.clone()),
            activation: cfg.hidden_act.clone(),
        })
    }

    fn quantize_int8(&mut self) -> Result<()> {
        self.attention.quantize_int8()?;
        self.intermediate.quantize_int8()?;
        self.output.quantize_int8()
    }

    /// Outputs for the first `rows` positions of each sequence (all of them
    /// when `rows` is `None`); every position is attended over either way.
    fn forward(
        &self,
        xs: &Tensor,
        mask_bias: &Tensor,
        mode: ForwardMode,
        rows: Option<usize>,
    ) -> Result<Tensor> {
        let queries = match rows {
            Some(n) => xs.narrow(1, 0, n)?,
            None => xs.clone(),
        };
        let attended = self.attention.forward(&queries, xs, mask_bias, mode)?;
        let inner = self.intermediate.forward(&attended)?;
        let inner = match self.activation.as_str() {
            "gelu" => crate::kernels::gelu_erf(&inner)?,
            "relu" => inner.relu()?,
            _ => inner.gelu()?,
        };
        let out = self.output.forward(&inner)?;
        let out = self.dropout.forward(&out, mode)?;
        self.layer_norm.forward(&(out + attended)?, mode)
    }
}

/// The BERT encoder with its pooler (`BertModel`).
#[derive(Debug, Clone)]
pub struct BertEncoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    pooler: Linear,
}

impl BertEncoder {
    /// `vb` points at the encoder's root: names like `embeddings.word_embeddings.weight`.
    pub fn load(vb: VarBuilder, cfg: &ModelConfig, rng: &Arc<Mutex<StdRng>>) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(vb.pp("encoder").pp("layer").pp(i), cfg, rng))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings: Embeddings::load(vb.pp("embeddings"), cfg, rng)?,
            layers,
            pooler: linear(
                cfg.hidden_size,
                cfg.hidden_size,
                vb.pp("pooler").pp("dense"),
            )?,
        })
    }

    /// Switches the encoder layers' dense layers to int8 weights and
    /// activations (see [`crate::quant`]); the embeddings, layer norms,
    /// attention products and the pooler stay f32. Inference only.
    pub fn quantize_int8(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            layer.quantize_int8()?;
        }
        Ok(())
    }

    /// Last hidden states, (batch, seq, hidden). `attention_mask` is (batch, seq)
    /// of 1 for tokens and 0 for padding.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        mode: ForwardMode,
    ) -> Result<Tensor> {
        self.forward_rows(input_ids, token_type_ids, attention_mask, mode, None)
    }

    /// The last hidden state of the first ([CLS]) token only, (batch, 1,
    /// hidden): what the pooler reads. The last layer then computes its
    /// output projection and feed-forward block for one row per sentence
    /// instead of all of them (about a seventh of the encoder's work), with
    /// the same values as [`BertEncoder::forward`]'s first row.
    pub fn forward_cls(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        mode: ForwardMode,
    ) -> Result<Tensor> {
        self.forward_rows(input_ids, token_type_ids, attention_mask, mode, Some(1))
    }

    fn forward_rows(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        mode: ForwardMode,
        last_layer_rows: Option<usize>,
    ) -> Result<Tensor> {
        let (b, s) = attention_mask.dims2()?;
        let dtype = self.pooler.weight().dtype();
        let mask = attention_mask.to_dtype(dtype)?;
        // (1 - mask) * dtype::MIN, as `transformers` builds the additive mask.
        let mask_bias = ((mask.ones_like()? - mask)? * f32::MIN as f64)?.reshape((b, 1, 1, s))?;
        let mut xs = self.embeddings.forward(input_ids, token_type_ids, mode)?;
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            let rows = if i == last { last_layer_rows } else { None };
            xs = layer.forward(&xs, &mask_bias, mode, rows)?;
        }
        Ok(xs)
    }

    /// The pooler output: dense + tanh over the first ([CLS]) token.
    pub fn pool(&self, hidden: &Tensor) -> Result<Tensor> {
        let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        self.pooler.forward(&cls)?.tanh()
    }

    /// Mean of the last hidden states over real tokens (sentence-transformers pooling).
    pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let mask = attention_mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        summed.broadcast_div(&counts)
    }
}

/// `BertForSequenceClassification`'s head: dropout then a linear layer over the pooled output.
#[derive(Debug, Clone)]
pub struct ClassificationHead {
    dropout: Dropout,
    classifier: Linear,
}

impl ClassificationHead {
    /// `vb` points at the model root: names `classifier.weight`, `classifier.bias`.
    pub fn load(
        vb: VarBuilder,
        cfg: &ModelConfig,
        num_labels: usize,
        rng: &Arc<Mutex<StdRng>>,
    ) -> Result<Self> {
        let p = cfg.classifier_dropout.unwrap_or(cfg.hidden_dropout_prob);
        Ok(Self {
            dropout: Dropout::new(p as f32, rng.clone()),
            classifier: linear(cfg.hidden_size, num_labels, vb.pp("classifier"))?,
        })
    }

    pub fn forward(&self, pooled: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        self.classifier
            .forward(&self.dropout.forward(pooled, mode)?)
    }

    /// Reorders the logits: new logit `i` is old logit `order[i]`.
    pub fn reorder_outputs(&mut self, order: &[usize]) -> Result<()> {
        self.classifier.reorder_outputs(order)
    }
}

/// The whole `BertForSequenceClassification`: token ids in, logits out.
#[derive(Debug, Clone)]
pub struct SequenceClassifier {
    pub encoder: BertEncoder,
    pub head: ClassificationHead,
}

impl SequenceClassifier {
    /// `root` is the model root holding `classifier.*`; `encoder` the BERT root
    /// (`root.pp("bert")` in a fine-tuned checkpoint).
    pub fn load(
        root: VarBuilder,
        encoder: VarBuilder,
        cfg: &ModelConfig,
        num_labels: usize,
        rng: &Arc<Mutex<StdRng>>,
    ) -> Result<Self> {
        Ok(Self {
            encoder: BertEncoder::load(encoder, cfg, rng)?,
            head: ClassificationHead::load(root, cfg, num_labels, rng)?,
        })
    }

    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        mode: ForwardMode,
    ) -> Result<Tensor> {
        // Inference needs only [CLS]'s hidden state. Training keeps the full
        // forward pass, so that its dropout draws (and a seed's model) do not change.
        let hidden = match mode {
            ForwardMode::Inference => {
                self.encoder
                    .forward_cls(input_ids, token_type_ids, attention_mask, mode)?
            }
            ForwardMode::Training => {
                self.encoder
                    .forward(input_ids, token_type_ids, attention_mask, mode)?
            }
        };
        let pooled = self.encoder.pool(&hidden)?;
        self.head.forward(&pooled, mode)?.to_dtype(DType::F32)
    }
}
