//! The image-conditioned language model: a CNN turns the canvas into a grid of patch tokens, a
//! linear projector maps them to the decoder width, and a causal transformer decoder reads them
//! either as a prefix before the instruction (LLaVA-style) or through cross-attention in every
//! block. "No image" (for visual dependence, docs/METHODS.md §6.2) removes the image tokens:
//! text positions have their own position embedding, so removing the prefix shifts nothing.
//!
//! No dropout anywhere: burn's dropout draws from a process-global RNG, which would make runs
//! irreproducible, and the models are small.

use crate::error::{Result, VlError};
use crate::tokenizer::{Tokenizer, EOS, PAD};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::{gelu, log_softmax, relu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const MODEL_FILE: &str = "model.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// How the decoder sees the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conditioning {
    /// Image tokens are a prefix of the decoder's sequence.
    Prefix,
    /// Text tokens attend to the image tokens in every block.
    CrossAttention,
}

/// Architecture (`[model]` of a `vl train` config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VlModelConfig {
    pub conditioning: Conditioning,
    pub d_model: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    /// Longest text sequence (`[bos] question [sep] answer [eos]`).
    pub max_text_len: usize,
    /// Channels of the three strided convolutions (strides 2, 2, 3: an 84-px canvas becomes 7x7
    /// patch tokens).
    pub conv_channels: [usize; 3],
    /// Kernel of the last (stride-3) convolution, odd and >= 3. It sets how much of the canvas
    /// one patch token sees: 3 gives a 15-px receptive field, about half a 28-px digit, which left
    /// the decoder to assemble digits from fragments (docs/HALLUCINATION.md, "Why the first
    /// baselines ignored the image"); 7 gives 31 px, a whole digit per token.
    pub patch_kernel: usize,
    /// LayerNorm on the projected patch features before the patch-position embedding is added.
    /// Without it the features of a freshly initialised CNN are small next to the N(0, 1)
    /// position embedding, so the image tokens start out as little more than positions.
    pub image_norm: bool,
}

impl Default for VlModelConfig {
    fn default() -> Self {
        Self {
            conditioning: Conditioning::Prefix,
            d_model: 64,
            layers: 2,
            heads: 4,
            ff: 128,
            max_text_len: 32,
            conv_channels: [16, 32, 64],
            patch_kernel: 7,
            image_norm: true,
        }
    }
}

fn conv_out(n: usize, k: usize, s: usize, p: usize) -> usize {
    (n + 2 * p).saturating_sub(k) / s + 1
}

/// The patch grid side for a canvas side and last-convolution kernel (padding (k − 3)/2 keeps
/// the grid of k = 3).
pub fn patch_side(side: usize, patch_kernel: usize) -> usize {
    conv_out(
        conv_out(conv_out(side, 3, 2, 1), 3, 2, 1),
        patch_kernel,
        3,
        patch_kernel.saturating_sub(3) / 2,
    )
}

impl VlModelConfig {
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(VlError::Config(m));
        if self.d_model == 0 || self.heads == 0 || !self.d_model.is_multiple_of(self.heads) {
            return bad(format!(
                "model.heads = {} must divide model.d_model = {}",
                self.heads, self.d_model
            ));
        }
        if self.layers == 0 || self.ff == 0 || self.conv_channels.contains(&0) {
            return bad("model.layers, model.ff and model.conv_channels must be > 0".into());
        }
        if self.patch_kernel < 3 || self.patch_kernel.is_multiple_of(2) {
            return bad(format!(
                "model.patch_kernel = {} must be odd and >= 3",
                self.patch_kernel
            ));
        }
        if self.max_text_len < 4 {
            return bad(format!(
                "model.max_text_len = {} is too short",
                self.max_text_len
            ));
        }
        Ok(())
    }

    /// A model whose initial weights depend only on `seed` (burn's RNG is process-global:
    /// seeding and drawing happen under one lock).
    pub fn init_seeded(
        &self,
        side: usize,
        vocab: usize,
        device: &Device,
        seed: u64,
    ) -> Result<VlModel> {
        self.check()?;
        if side < 12 || patch_side(side, self.patch_kernel) == 0 {
            return Err(VlError::Config(format!("canvas side {side} is too small")));
        }
        static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        device.seed(seed);
        let model = self.init(side, vocab, device);
        model.visit(&mut ForceInit);
        Ok(model)
    }

    fn init(&self, side: usize, vocab: usize, device: &Device) -> VlModel {
        let [c1, c2, c3] = self.conv_channels;
        let d = self.d_model;
        let p = patch_side(side, self.patch_kernel);
        let pad = self.patch_kernel.saturating_sub(3) / 2;
        let cross = self.conditioning == Conditioning::CrossAttention;
        VlModel {
            conv1: Conv2dConfig::new([1, c1], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            conv2: Conv2dConfig::new([c1, c2], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            conv3: Conv2dConfig::new([c2, c3], [self.patch_kernel, self.patch_kernel])
                .with_stride([3, 3])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device),
            proj: LinearConfig::new(c3, d).init(device),
            ln_img: self
                .image_norm
                .then(|| LayerNormConfig::new(d).init(device)),
            img_pos: EmbeddingConfig::new(p * p, d).init(device),
            tok: EmbeddingConfig::new(vocab, d).init(device),
            pos: EmbeddingConfig::new(self.max_text_len, d).init(device),
            blocks: (0..self.layers)
                .map(|_| Block {
                    ln1: LayerNormConfig::new(d).init(device),
                    attn: Attention::new(d, self.heads, device),
                    ln_x: cross.then(|| LayerNormConfig::new(d).init(device)),
                    xattn: cross.then(|| Attention::new(d, self.heads, device)),
                    ln2: LayerNormConfig::new(d).init(device),
                    ff1: LinearConfig::new(d, self.ff).init(device),
                    ff2: LinearConfig::new(self.ff, d).init(device),
                })
                .collect(),
            ln_f: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, vocab).init(device),
            side,
            prefix: !cross,
            max_text_len: self.max_text_len,
        }
    }
}

struct ForceInit;

impl burn::module::ModuleVisitor for ForceInit {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

#[derive(Module, Debug)]
pub struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
}

impl Attention {
    fn new(d: usize, heads: usize, device: &Device) -> Self {
        Self {
            q: LinearConfig::new(d, d).init(device),
            k: LinearConfig::new(d, d).init(device),
            v: LinearConfig::new(d, d).init(device),
            o: LinearConfig::new(d, d).init(device),
            heads,
        }
    }

    /// `[b, t, d]` → `[b, heads, t, d/heads]`.
    fn split(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, t, d] = x.dims();
        x.reshape([b, t, self.heads, d / self.heads])
            .swap_dims(1, 2)
    }

    /// Scaled dot-product attention; `mask` is additive `[tq, tk]` (0 or a large negative).
    fn attend(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        mask: Option<Tensor<2>>,
    ) -> Tensor<3> {
        let dh = q.dims()[3];
        let mut scores = q.matmul(k.swap_dims(2, 3)) / (dh as f64).sqrt();
        if let Some(m) = mask {
            scores = scores + m.unsqueeze_dims::<4>(&[0, 1]);
        }
        let out = softmax(scores, 3).matmul(v);
        let [b, h, t, dh] = out.dims();
        self.o.forward(out.swap_dims(1, 2).reshape([b, t, h * dh]))
    }

    /// Causal self-attention of the new positions `x` over the cached and new positions.
    fn causal(
        &self,
        x: Tensor<3>,
        cache: &mut Option<(Tensor<4>, Tensor<4>)>,
        keep: bool,
    ) -> Tensor<3> {
        let device = x.device();
        let q = self.split(self.q.forward(x.clone()));
        let mut k = self.split(self.k.forward(x.clone()));
        let mut v = self.split(self.v.forward(x));
        if let Some((pk, pv)) = cache.take() {
            k = Tensor::cat(vec![pk, k], 2);
            v = Tensor::cat(vec![pv, v], 2);
        }
        let (tq, tk) = (q.dims()[2], k.dims()[2]);
        let past = tk - tq;
        let mask = (tq > 1).then(|| {
            let m: Vec<f32> = (0..tq)
                .flat_map(|i| (0..tk).map(move |j| if j > past + i { -1e9 } else { 0.0 }))
                .collect();
            Tensor::<2>::from_data(TensorData::new(m, [tq, tk]), &device)
        });
        if keep {
            *cache = Some((k.clone(), v.clone()));
        }
        self.attend(q, k, v, mask)
    }

    fn cross(&self, x: Tensor<3>, mem: Tensor<3>) -> Tensor<3> {
        let q = self.split(self.q.forward(x));
        let k = self.split(self.k.forward(mem.clone()));
        let v = self.split(self.v.forward(mem));
        self.attend(q, k, v, None)
    }
}

#[derive(Module, Debug)]
pub struct Block {
    ln1: LayerNorm,
    attn: Attention,
    ln_x: Option<LayerNorm>,
    xattn: Option<Attention>,
    ln2: LayerNorm,
    ff1: Linear,
    ff2: Linear,
}

impl Block {
    fn forward(
        &self,
        x: Tensor<3>,
        mem: Option<&Tensor<3>>,
        cache: &mut Option<(Tensor<4>, Tensor<4>)>,
        keep: bool,
    ) -> Tensor<3> {
        let x = x.clone() + self.attn.causal(self.ln1.forward(x), cache, keep);
        let x = match (&self.xattn, &self.ln_x, mem) {
            // No image: the cross-attention sub-layer contributes nothing.
            (Some(a), Some(ln), Some(m)) => x.clone() + a.cross(ln.forward(x), m.clone()),
            _ => x,
        };
        x.clone()
            + self
                .ff2
                .forward(gelu(self.ff1.forward(self.ln2.forward(x))))
    }
}

#[derive(Module, Debug)]
pub struct VlModel {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    proj: Linear,
    ln_img: Option<LayerNorm>,
    img_pos: Embedding,
    tok: Embedding,
    pos: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
    side: usize,
    prefix: bool,
    max_text_len: usize,
}

/// Keys and values of every position seen so far, per block.
pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    text_len: usize,
}

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoding {
    Greedy,
    /// Sample among the k most probable tokens at `temperature`, from a seeded RNG.
    TopK {
        k: usize,
        temperature: f32,
        seed: u64,
    },
}

impl VlModel {
    pub fn side(&self) -> usize {
        self.side
    }

    pub fn max_text_len(&self) -> usize {
        self.max_text_len
    }

    /// images `[b, side*side]` in [0, 1] → patch tokens `[b, patches, d]`.
    pub fn image_tokens(&self, images: Tensor<2>) -> Tensor<3> {
        let [b, _] = images.dims();
        let x = images.reshape([b, 1, self.side, self.side]);
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let x = relu(self.conv3.forward(x));
        let x = x.flatten::<3>(2, 3).swap_dims(1, 2);
        let p = x.dims()[1];
        let idx = Tensor::<1, Int>::arange(0..p as i64, &x.device()).reshape([1, p]);
        let x = self.proj.forward(x);
        let x = match &self.ln_img {
            Some(ln) => ln.forward(x),
            None => x,
        };
        x + self.img_pos.forward(idx)
    }

    /// Runs new text `tokens` `[b, t]` (after `cache`'s positions), returning logits `[b, t, vocab]`.
    /// `img` is the patch-token memory, or None for "no image".
    fn run(
        &self,
        img: Option<&Tensor<3>>,
        tokens: Tensor<2, Int>,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [_, t] = tokens.dims();
        let device = tokens.device();
        let text_past = cache.as_ref().map_or(0, |c| c.text_len);
        let idx = Tensor::<1, Int>::arange(text_past as i64..(text_past + t) as i64, &device)
            .reshape([1, t]);
        let mut x = self.tok.forward(tokens) + self.pos.forward(idx);
        let with_prefix = self.prefix && text_past == 0 && img.is_some();
        if with_prefix {
            x = Tensor::cat(vec![img.expect("checked").clone(), x], 1);
        }
        let mem = if self.prefix { None } else { img };
        let mut local: Vec<Option<(Tensor<4>, Tensor<4>)>> = vec![None; self.blocks.len()];
        let keep = cache.is_some();
        let slots = match cache {
            Some(c) => {
                c.text_len += t;
                &mut c.layers
            }
            None => &mut local,
        };
        for (block, slot) in self.blocks.iter().zip(slots.iter_mut()) {
            x = block.forward(x, mem, slot, keep);
        }
        let total = x.dims()[1];
        let x = if total > t {
            x.narrow(1, total - t, t)
        } else {
            x
        };
        self.head.forward(self.ln_f.forward(x))
    }

    /// Teacher-forced logits `[b, t, vocab]` for `tokens` `[b, t]`; `images` None = no image.
    pub fn forward(&self, images: Option<Tensor<2>>, tokens: Tensor<2, Int>) -> Tensor<3> {
        let img = images.map(|i| self.image_tokens(i));
        self.run(img.as_ref(), tokens, None)
    }

    /// Starts incremental decoding: runs the prompt and returns its logits and the cache.
    pub fn start(&self, img: Option<&Tensor<3>>, prompt: Tensor<2, Int>) -> (Tensor<3>, KvCache) {
        let mut cache = KvCache {
            layers: vec![None; self.blocks.len()],
            text_len: 0,
        };
        let logits = self.run(img, prompt, Some(&mut cache));
        (logits, cache)
    }

    /// One more token per row `[b, 1]` → logits `[b, 1, vocab]`.
    pub fn step(
        &self,
        img: Option<&Tensor<3>>,
        token: Tensor<2, Int>,
        cache: &mut KvCache,
    ) -> Tensor<3> {
        self.run(img, token, Some(cache))
    }

    /// Generates answers for prompts of one length (`[bos] question [sep]`), stopping at
    /// `[eos]` or the model's text length. Returns the generated ids without `[eos]`.
    pub fn generate(
        &self,
        images: Option<Tensor<2>>,
        prompts: &[Vec<usize>],
        max_new: usize,
        decoding: &Decoding,
    ) -> Result<Vec<Vec<usize>>> {
        let b = prompts.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let len = prompts[0].len();
        if prompts.iter().any(|p| p.len() != len) || len == 0 || len >= self.max_text_len {
            return Err(VlError::Input(format!(
                "prompts must share one length below {}",
                self.max_text_len
            )));
        }
        let device = self.head.weight.device();
        let img = images.map(|i| self.image_tokens(i));
        let ids: Vec<i64> = prompts.iter().flatten().map(|&i| i as i64).collect();
        let prompt = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, len]), &device);
        let (logits, mut cache) = self.start(img.as_ref(), prompt);
        let mut last = logits.narrow(1, len - 1, 1);
        let mut out = vec![Vec::new(); b];
        let mut done = vec![false; b];
        let mut rng = match decoding {
            Decoding::TopK { seed, .. } => Some(polymodal_core::seed::rng(*seed, "top-k")),
            Decoding::Greedy => None,
        };
        let steps = max_new.min(self.max_text_len - len);
        for s in 0..steps {
            let v = last.dims()[2];
            let flat: Vec<f32> = last
                .reshape([b, v])
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| VlError::Input(format!("logits: {e:?}")))?;
            let next: Vec<usize> = flat
                .chunks_exact(v)
                .map(|row| match (decoding, rng.as_mut()) {
                    (Decoding::TopK { k, temperature, .. }, Some(r)) => {
                        sample_top_k(row, *k, *temperature, r)
                    }
                    _ => argmax(row),
                })
                .collect();
            for (i, &n) in next.iter().enumerate() {
                if !done[i] {
                    if n == EOS {
                        done[i] = true;
                    } else {
                        out[i].push(n);
                    }
                }
            }
            if done.iter().all(|&d| d) || s + 1 == steps {
                break;
            }
            let feed: Vec<i64> = next
                .iter()
                .zip(&done)
                .map(|(&n, &d)| if d { PAD as i64 } else { n as i64 })
                .collect();
            let tok = Tensor::<2, Int>::from_data(TensorData::new(feed, [b, 1]), &device);
            last = self.step(img.as_ref(), tok, &mut cache);
        }
        Ok(out)
    }

    /// log p(y_t | image or none, prompt, y_<t) of every answer token (and `[eos]`) of each
    /// `(sequence, answer start)`; sequences are padded to one length here.
    pub fn target_logprobs(
        &self,
        images: Option<Tensor<2>>,
        seqs: &[(Vec<usize>, usize)],
    ) -> Result<Vec<Vec<f32>>> {
        let b = seqs.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let (inputs, targets, t) = teacher_forcing(seqs);
        let device = self.head.weight.device();
        let inp = Tensor::<2, Int>::from_data(TensorData::new(inputs, [b, t]), &device);
        let tgt = Tensor::<3, Int>::from_data(TensorData::new(targets, [b, t, 1]), &device);
        let lp = log_softmax(self.forward(images, inp), 2).gather(2, tgt);
        let lp: Vec<f32> = lp
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| VlError::Input(format!("log-probs: {e:?}")))?;
        Ok(seqs
            .iter()
            .enumerate()
            .map(|(i, (seq, start))| lp[i * t + start - 1..i * t + seq.len() - 1].to_vec())
            .collect())
    }

    pub fn save(&self, dir: &Path, config: &VlModelConfig, tokenizer: &Tokenizer) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| VlError::io(dir, e))?;
        let meta = SavedModel {
            config: config.clone(),
            side: self.side,
            vocab: tokenizer.len(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| VlError::file(dir, e))?;
        crate::error::write(&dir.join(MODEL_FILE), &json)?;
        tokenizer.save(&dir.join(TOKENIZER_FILE))?;
        let path = dir.join(WEIGHTS_FILE);
        // One metadata key: burn's default three sit in a HashMap and come out in a different
        // order on every save, so equal weights would give different files.
        let mut store = SafetensorsStore::from_file(path.clone())
            .overwrite(true)
            .clear_metadata()
            .metadata("producer", "polymodal (burn 0.22.1)");
        self.save_into(&mut store)
            .map_err(|e| VlError::file(&path, format!("cannot save weights: {e:?}")))
    }

    /// Loads a model saved by [`Self::save`] onto `device`, with its config and tokenizer.
    pub fn load(dir: &Path, device: &Device) -> Result<(VlModel, VlModelConfig, Tokenizer)> {
        let mpath = dir.join(MODEL_FILE);
        let meta: SavedModel = serde_json::from_str(&crate::error::read_string(&mpath)?)
            .map_err(|e| VlError::file(&mpath, e))?;
        let tokenizer = Tokenizer::load(&dir.join(TOKENIZER_FILE))?;
        if tokenizer.len() != meta.vocab {
            return Err(VlError::file(
                &mpath,
                format!(
                    "vocabulary {} != tokenizer's {}",
                    meta.vocab,
                    tokenizer.len()
                ),
            ));
        }
        let mut model = meta.config.init_seeded(meta.side, meta.vocab, device, 0)?;
        let path = dir.join(WEIGHTS_FILE);
        if !path.exists() {
            return Err(VlError::file(&path, "file not found"));
        }
        let mut store = SafetensorsStore::from_file(path.clone());
        let result = model
            .load_from(&mut store)
            .map_err(|e| VlError::file(&path, format!("cannot load weights: {e:?}")))?;
        if !result.missing.is_empty() {
            return Err(VlError::file(
                &path,
                format!("missing tensors: {:?}", result.missing),
            ));
        }
        Ok((model, meta.config, tokenizer))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedModel {
    config: VlModelConfig,
    side: usize,
    vocab: usize,
}

/// Inputs (`seq[..len-1]`) and next-token targets (`seq[1..]`), padded to the longest, as
/// row-major i64 plus the padded length.
pub fn teacher_forcing(seqs: &[(Vec<usize>, usize)]) -> (Vec<i64>, Vec<i64>, usize) {
    let t = seqs.iter().map(|(s, _)| s.len() - 1).max().unwrap_or(0);
    let mut inputs = vec![PAD as i64; seqs.len() * t];
    let mut targets = vec![PAD as i64; seqs.len() * t];
    for (i, (s, _)) in seqs.iter().enumerate() {
        for j in 0..s.len() - 1 {
            inputs[i * t + j] = s[j] as i64;
            targets[i * t + j] = s[j + 1] as i64;
        }
    }
    (inputs, targets, t)
}

pub use polymodal_core::metrics::argmax;

fn sample_top_k(
    row: &[f32],
    k: usize,
    temperature: f32,
    rng: &mut polymodal_core::seed::Rng,
) -> usize {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    idx.truncate(k.max(1));
    let t = temperature.max(1e-4);
    let m = row[idx[0]];
    let w: Vec<f64> = idx
        .iter()
        .map(|&i| (((row[i] - m) / t) as f64).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (&i, &wi) in idx.iter().zip(&w) {
        if u < wi {
            return i;
        }
        u -= wi;
    }
    idx[idx.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(conditioning: Conditioning) -> (VlModel, VlModelConfig) {
        let cfg = VlModelConfig {
            conditioning,
            d_model: 16,
            layers: 2,
            heads: 2,
            ff: 32,
            max_text_len: 12,
            conv_channels: [4, 4, 8],
            patch_kernel: 3,
            image_norm: true,
        };
        let m = cfg
            .init_seeded(24, 9, &crate::train::inference_device(), 3)
            .unwrap();
        (m, cfg)
    }

    fn image(b: usize) -> Tensor<2> {
        let v: Vec<f32> = (0..b * 24 * 24)
            .map(|i| ((i * 7) % 11) as f32 / 10.0)
            .collect();
        Tensor::from_data(
            TensorData::new(v, [b, 24 * 24]),
            &crate::train::inference_device(),
        )
    }

    /// The KV cache is exact: incremental logits equal a full recomputation of the sequence.
    #[test]
    fn cached_steps_match_full_forward() {
        for c in [Conditioning::Prefix, Conditioning::CrossAttention] {
            let (m, _) = tiny(c);
            let dev = crate::train::inference_device();
            let seq: Vec<i64> = vec![1, 5, 6, 3, 7, 8, 4];
            let full = m.forward(
                Some(image(1)),
                Tensor::<2, Int>::from_data(TensorData::new(seq.clone(), [1, 7]), &dev),
            );
            let img = m.image_tokens(image(1));
            let (first, mut cache) = m.start(
                Some(&img),
                Tensor::<2, Int>::from_data(TensorData::new(seq[..4].to_vec(), [1, 4]), &dev),
            );
            let mut parts = vec![first];
            for &s in &seq[4..] {
                let tok = Tensor::<2, Int>::from_data(TensorData::new(vec![s], [1, 1]), &dev);
                parts.push(m.step(Some(&img), tok, &mut cache));
            }
            let inc: Vec<f32> = Tensor::cat(parts, 1).into_data().try_into_vec().unwrap();
            let full: Vec<f32> = full.into_data().try_into_vec().unwrap();
            assert_eq!(inc.len(), full.len());
            for (a, b) in inc.iter().zip(&full) {
                assert!((a - b).abs() < 1e-4, "{c:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn no_image_changes_the_prediction_and_image_tokens_have_the_grid_shape() {
        for c in [Conditioning::Prefix, Conditioning::CrossAttention] {
            let (m, _) = tiny(c);
            assert_eq!(m.image_tokens(image(2)).dims(), [2, 4, 16]);
            let seqs = vec![(vec![1, 5, 3, 6, 2], 3)];
            let with = m.target_logprobs(Some(image(1)), &seqs).unwrap();
            let without = m.target_logprobs(None, &seqs).unwrap();
            assert_eq!(with[0].len(), 2);
            assert!(with[0]
                .iter()
                .zip(&without[0])
                .any(|(a, b)| (a - b).abs() > 1e-6));
        }
    }

    #[test]
    fn save_load_gives_identical_generations() {
        let tok = Tokenizer::build(["a b c d e"]);
        for c in [Conditioning::Prefix, Conditioning::CrossAttention] {
            let (m, cfg) = tiny(c);
            let dev = crate::train::inference_device();
            let prompts = vec![vec![1, 4, 3], vec![1, 5, 3]];
            let greedy = m
                .generate(Some(image(2)), &prompts, 8, &Decoding::Greedy)
                .unwrap();
            let topk = Decoding::TopK {
                k: 3,
                temperature: 1.0,
                seed: 5,
            };
            let sampled = m.generate(Some(image(2)), &prompts, 8, &topk).unwrap();
            let dir = tempfile::tempdir().unwrap();
            m.save(dir.path(), &cfg, &tok).unwrap();
            let again = tempfile::tempdir().unwrap();
            m.save(again.path(), &cfg, &tok).unwrap();
            for file in [WEIGHTS_FILE, MODEL_FILE, TOKENIZER_FILE] {
                let a = std::fs::read(dir.path().join(file)).unwrap();
                assert_eq!(a, std::fs::read(again.path().join(file)).unwrap(), "{file}");
            }
            let (m2, cfg2, tok2) = VlModel::load(dir.path(), &dev).unwrap();
            assert_eq!(cfg2, cfg);
            assert_eq!(tok2, tok);
            assert_eq!(
                m2.generate(Some(image(2)), &prompts, 8, &Decoding::Greedy)
                    .unwrap(),
                greedy
            );
            assert_eq!(
                m2.generate(Some(image(2)), &prompts, 8, &topk).unwrap(),
                sampled
            );
            assert!(greedy.iter().all(|g| g.len() <= 8));
        }
    }

    #[test]
    fn top_k_one_is_greedy_and_sampling_stays_in_the_top_k() {
        let row = [0.1, 3.0, 2.0, -1.0];
        let mut rng = polymodal_core::seed::rng(0, "t");
        assert_eq!(sample_top_k(&row, 1, 1.0, &mut rng), 1);
        for _ in 0..50 {
            assert!([1, 2].contains(&sample_top_k(&row, 2, 1.0, &mut rng)));
        }
    }

    #[test]
    fn bad_configs_name_the_key() {
        let e = VlModelConfig {
            heads: 3,
            ..VlModelConfig::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config: model.heads = 3 must divide model.d_model = 64"
        );
        let e = VlModel::load(
            Path::new("/nonexistent-vl"),
            &crate::train::inference_device(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("/nonexistent-vl/model.json"), "{e}");
    }
}
