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

/// One tokenised sentence, optionally followed by its context as the second
/// segment of a sentence pair: `[CLS] sentence [SEP] context [SEP]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    /// Whether the sentence was cut to the maximum length.
    pub truncated: bool,
    /// Where the context segment (token type 1) starts in `ids`; `None`
    /// when there is no context.
    pub context_start: Option<usize>,
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
    ///
    /// Only a prefix of a very long text is tokenised (see [`prefix_to_tokenize`]),
    /// so a 10 MB sentence costs no more memory than a 16 KB one.
    pub fn encode(&self, text: &str) -> Result<Encoded, ModelError> {
        let prefix = prefix_to_tokenize(text, self.max_tokens);
        let encoding = self
            .tokenizer
            .encode(prefix, true)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        let mut ids = encoding.get_ids().to_vec();
        let truncated = ids.len() > self.max_tokens || prefix.len() < text.len();
        if ids.len() > self.max_tokens {
            let last = *ids.last().expect("non-empty when longer than max");
            ids.truncate(self.max_tokens);
            if Some(last) == self.sep_id {
                ids[self.max_tokens - 1] = last;
            }
        }
        Ok(Encoded {
            ids,
            truncated,
            context_start: None,
        })
    }

    /// Like [`encode`](Self::encode), then appends up to `context_tokens`
    /// tokens of `context` (its beginning) and a `[SEP]` as the second
    /// segment. No context, an empty one, a budget of 0 or a tokenizer
    /// without `[SEP]` give the single-sentence encoding.
    pub fn encode_with_context(
        &self,
        text: &str,
        context: Option<&str>,
        context_tokens: usize,
    ) -> Result<Encoded, ModelError> {
        let mut encoded = self.encode(text)?;
        let (Some(context), Some(sep)) = (context, self.sep_id) else {
            return Ok(encoded);
        };
        if context_tokens == 0 {
            return Ok(encoded);
        }
        let prefix = prefix_to_tokenize(context, context_tokens);
        let context_ids = self
            .tokenizer
            .encode(prefix, false)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        let kept = &context_ids.get_ids()[..context_ids.len().min(context_tokens)];
        if kept.is_empty() {
            return Ok(encoded);
        }
        encoded.context_start = Some(encoded.ids.len());
        encoded.ids.extend_from_slice(kept);
        encoded.ids.push(sep);
        Ok(encoded)
    }

    /// Pads the encodings to the longest one and builds the model's inputs
    /// (token type 1 on context segments).
    pub fn batch(&self, encoded: &[&Encoded], device: &Device) -> Result<Batch, ModelError> {
        Batch::new(encoded, self.pad_id, device)
    }
}

/// Bytes of text tokenised per allowed token. WordPiece tokens of real text
/// average under 6 bytes, so a prefix this long yields more tokens than are
/// kept unless the text is mostly whitespace or giant words.
const PREFIX_BYTES_PER_TOKEN: usize = 128;

/// The part of `text` worth tokenising when at most `max_tokens` are kept:
/// all of it when short, else a prefix of `max_tokens * 128` bytes cut back
/// to the last whitespace, so that no word is split and the kept tokens are
/// the ones the whole text would give.
pub fn prefix_to_tokenize(text: &str, max_tokens: usize) -> &str {
    let budget = max_tokens.saturating_mul(PREFIX_BYTES_PER_TOKEN);
    if text.len() <= budget {
        return text;
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    match head.rfind(char::is_whitespace) {
        Some(space) if space > 0 => &head[..space],
        _ => head,
    }
}

/// Model inputs for a batch padded to its longest sequence.
pub struct Batch {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
}

impl Batch {
    /// Pads `encoded` to its longest member: token type 0 for sentences and
    /// padding, 1 for context segments.
    pub fn new(encoded: &[&Encoded], pad_id: u32, device: &Device) -> Result<Self, ModelError> {
        let longest = encoded
            .iter()
            .map(|e| e.ids.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let n = encoded.len();
        let mut ids = Vec::with_capacity(n * longest);
        let mut mask = Vec::with_capacity(n * longest);
        let mut types = Vec::with_capacity(n * longest);
        let any_context = encoded.iter().any(|e| e.context_start.is_some());
        for e in encoded {
            let (seq, padding) = (&e.ids, longest - e.ids.len());
            if any_context {
                let start = e.context_start.unwrap_or(seq.len()).min(seq.len());
                types.extend(std::iter::repeat_n(0u32, start));
                types.extend(std::iter::repeat_n(1u32, seq.len() - start));
                types.extend(std::iter::repeat_n(0u32, padding));
            }
            ids.extend_from_slice(seq);
            ids.extend(std::iter::repeat_n(pad_id, padding));
            mask.extend(std::iter::repeat_n(1u32, seq.len()));
            mask.extend(std::iter::repeat_n(0u32, padding));
        }
        let input_ids = Tensor::from_vec(ids, (n, longest), device)?;
        let attention_mask = Tensor::from_vec(mask, (n, longest), device)?;
        let token_type_ids = if any_context {
            Tensor::from_vec(types, (n, longest), device)?
        } else {
            input_ids.zeros_like()?
        };
        Ok(Self {
            input_ids,
            token_type_ids,
            attention_mask,
        })
    }
}
