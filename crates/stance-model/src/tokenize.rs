use std::path::Path;

use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;

use crate::error::ModelError;

/// WordPiece tokenisation from a model's `tokenizer.json`, truncating to a
/// maximum length and padding each batch only to its longest member.
pub struct SentenceTokenizer {
    tokenizer: Tokenizer,
    max_tokens: usize,
    pad_id: u32,
    sep_id: Option<u32>,
}

/// One tokenised sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    /// Whether the sentence was cut to the maximum length.
    pub truncated: bool,
}

impl SentenceTokenizer {
    pub fn from_file(
        path: &Path,
        max_tokens: usize,
        vocab_size: usize,
    ) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Tokenizer {
            path: path.to_owned(),
            message,
        };
        if max_tokens < 2 {
            return Err(err(format!(
                "max tokens must be at least 2, got {max_tokens}"
            )));
        }
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?;
        let tokenizer_vocab = tokenizer.get_vocab_size(true);
        if tokenizer_vocab > vocab_size {
            return Err(err(format!(
                "its vocabulary has {tokenizer_vocab} tokens but the model's config.json says \
                 vocab_size {vocab_size}: the tokenizer belongs to another model"
            )));
        }
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        let sep_id = tokenizer.token_to_id("[SEP]");
        Ok(Self {
            tokenizer,
            max_tokens,
            pad_id,
            sep_id,
        })
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Token ids with special tokens, cut to `max_tokens` keeping the final `[SEP]`.
    pub fn encode(&self, text: &str) -> Result<Encoded, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        let mut ids = encoding.get_ids().to_vec();
        let truncated = ids.len() > self.max_tokens;
        if truncated {
            let last = *ids.last().expect("non-empty when longer than max");
            ids.truncate(self.max_tokens);
            if Some(last) == self.sep_id {
                ids[self.max_tokens - 1] = last;
            }
        }
        Ok(Encoded { ids, truncated })
    }

    /// Pads the sequences to the longest one and builds the model's inputs.
    pub fn batch(&self, sequences: &[&[u32]], device: &Device) -> Result<Batch, ModelError> {
        Batch::new(sequences, self.pad_id, device)
    }
}

/// Model inputs for a batch padded to its longest sequence.
pub struct Batch {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
}

impl Batch {
    pub fn new(sequences: &[&[u32]], pad_id: u32, device: &Device) -> Result<Self, ModelError> {
        let longest = sequences.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let n = sequences.len();
        let mut ids = Vec::with_capacity(n * longest);
        let mut mask = Vec::with_capacity(n * longest);
        for seq in sequences {
            ids.extend_from_slice(seq);
            ids.extend(std::iter::repeat_n(pad_id, longest - seq.len()));
            mask.extend(std::iter::repeat_n(1u32, seq.len()));
            mask.extend(std::iter::repeat_n(0u32, longest - seq.len()));
        }
        let input_ids = Tensor::from_vec(ids, (n, longest), device)?;
        let attention_mask = Tensor::from_vec(mask, (n, longest), device)?;
        let token_type_ids = input_ids.zeros_like()?;
        Ok(Self {
            input_ids,
            token_type_ids,
            attention_mask,
        })
    }
}
