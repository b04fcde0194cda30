//! The BERT encoder of all-MiniLM-L6-v2 (post-LayerNorm, absolute positions, erf GELU), for
//! inference only. Weights are plain tensors rather than `burn::nn` modules: nothing here is
//! trained, and owning the tensors keeps the PyTorch → burn layout changes in one visible place.

use std::path::Path;

use crate::gelu::gelu;
use burn::tensor::activation::softmax;
use burn::tensor::module::{layer_norm, linear};
use burn::tensor::{Device, Int, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::error::TextError;

pub(crate) const HIDDEN: usize = 384;
const LAYERS: usize = 6;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 1536;
pub(crate) const VOCAB: usize = 30522;
pub(crate) const MAX_POSITIONS: usize = 512;
const LAYER_NORM_EPS: f64 = 1e-12;
/// Added to attention scores of padding keys: exp() of it is exactly 0 in f32, like HF's
/// `finfo.min` mask, without risking -inf - -inf = NaN.
const MASKED_SCORE: f32 = -1e9;

struct Dense {
    /// `[in, out]` (burn's layout; PyTorch stores `[out, in]`).
    weight: Tensor<2>,
    bias: Tensor<1>,
}

impl Dense {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        linear(x, self.weight.clone(), Some(self.bias.clone()))
    }
}

struct Norm {
    gamma: Tensor<1>,
    beta: Tensor<1>,
}

impl Norm {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        layer_norm(
            x,
            self.gamma.clone(),
            Some(self.beta.clone()),
            LAYER_NORM_EPS,
        )
    }
}

struct Layer {
    /// Query, key and value projections fused into one `[384, 1152]` matmul.
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    intermediate: Dense,
    output: Dense,
    out_norm: Norm,
}

pub(crate) struct Bert {
    word: Tensor<2>,
    position: Tensor<2>,
    /// Row 0 of the token-type table: every sequence here is a single segment.
    token_type: Tensor<1>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    device: Device,
}

/// Reads typed, shape-checked F32 tensors out of a safetensors buffer.
struct Loader<'a> {
    st: SafeTensors<'a>,
    path: &'a Path,
    device: Device,
}

impl Loader<'_> {
    fn raw(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, TextError> {
        let view = self.st.tensor(name).map_err(|_| TextError::MissingTensor {
            path: self.path.to_path_buf(),
            name: name.to_string(),
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(TextError::TensorDtype {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                actual: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != shape {
            return Err(TextError::TensorShape {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: view.shape().to_vec(),
            });
        }
        // safetensors is little-endian and may not be 4-byte aligned in the mmap/buffer, so
        // decode bytewise instead of casting the slice.
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn t1(&self, name: &str, n: usize) -> Result<Tensor<1>, TextError> {
        let v = self.raw(name, &[n])?;
        Ok(Tensor::from_data(TensorData::new(v, [n]), &self.device))
    }

    fn t2(&self, name: &str, rows: usize, cols: usize) -> Result<Tensor<2>, TextError> {
        let v = self.raw(name, &[rows, cols])?;
        Ok(Tensor::from_data(
            TensorData::new(v, [rows, cols]),
            &self.device,
        ))
    }

    /// A PyTorch `nn.Linear` (`weight [out, in]`) as burn-layout `[in, out]`.
    fn dense(&self, prefix: &str, d_in: usize, d_out: usize) -> Result<Dense, TextError> {
        Ok(Dense {
            weight: self
                .t2(&format!("{prefix}.weight"), d_out, d_in)?
                .transpose(),
            bias: self.t1(&format!("{prefix}.bias"), d_out)?,
        })
    }

    fn norm(&self, prefix: &str) -> Result<Norm, TextError> {
        Ok(Norm {
            gamma: self.t1(&format!("{prefix}.weight"), HIDDEN)?,
            beta: self.t1(&format!("{prefix}.bias"), HIDDEN)?,
        })
    }
}

impl Bert {
    /// `bytes` is the content of `path` (already hash-checked by the caller).
    pub(crate) fn from_safetensors(
        bytes: &[u8],
        path: &Path,
        device: &Device,
    ) -> Result<Self, TextError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| TextError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let l = Loader {
            st,
            path,
            device: device.clone(),
        };
        let mut layers = Vec::with_capacity(LAYERS);
        for i in 0..LAYERS {
            let p = format!("encoder.layer.{i}");
            let q = l.dense(&format!("{p}.attention.self.query"), HIDDEN, HIDDEN)?;
            let k = l.dense(&format!("{p}.attention.self.key"), HIDDEN, HIDDEN)?;
            let v = l.dense(&format!("{p}.attention.self.value"), HIDDEN, HIDDEN)?;
            layers.push(Layer {
                qkv: Dense {
                    weight: Tensor::cat(vec![q.weight, k.weight, v.weight], 1),
                    bias: Tensor::cat(vec![q.bias, k.bias, v.bias], 0),
                },
                attn_out: l.dense(&format!("{p}.attention.output.dense"), HIDDEN, HIDDEN)?,
                attn_norm: l.norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: l.dense(&format!("{p}.intermediate.dense"), HIDDEN, FFN)?,
                output: l.dense(&format!("{p}.output.dense"), FFN, HIDDEN)?,
                out_norm: l.norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let token_types = l.t2("embeddings.token_type_embeddings.weight", 2, HIDDEN)?;
        Ok(Self {
            word: l.t2("embeddings.word_embeddings.weight", VOCAB, HIDDEN)?,
            position: l.t2(
                "embeddings.position_embeddings.weight",
                MAX_POSITIONS,
                HIDDEN,
            )?,
            token_type: token_types.narrow(0, 0, 1).reshape([HIDDEN]),
            emb_norm: l.norm("embeddings.LayerNorm")?,
            layers,
            device: device.clone(),
        })
    }

    /// Mean-pooled (over non-padding tokens), *unnormalised* sentence vectors for one padded
    /// batch. `ids` is row-major `[batch, seq]`; `lens[b]` real tokens lead row `b`.
    /// Ids must be `< VOCAB` (the tokenizer's vocabulary size is checked against it on load).
    pub(crate) fn pooled(
        &self,
        ids: &[u32],
        lens: &[usize],
        seq: usize,
    ) -> Result<Vec<f32>, TextError> {
        let batch = lens.len();
        // Shape mistakes would otherwise surface as panics inside burn.
        if seq == 0
            || seq > MAX_POSITIONS
            || ids.len() != batch * seq
            || lens.iter().any(|&n| n > seq)
        {
            return Err(TextError::InvalidArgument(format!(
                "batch of {batch} × {seq} tokens ({} ids) does not fit the encoder \
                 (1..={MAX_POSITIONS} positions)",
                ids.len()
            )));
        }
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * seq]), &self.device);

        let mask: Vec<f32> = lens
            .iter()
            .flat_map(|&n| (0..seq).map(move |j| if j < n { 0.0 } else { MASKED_SCORE }))
            .collect();
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [batch, 1, 1, seq]), &self.device);

        let word = self
            .word
            .clone()
            .select(0, ids)
            .reshape([batch, seq, HIDDEN]);
        let pos = self.position.clone().narrow(0, 0, seq).unsqueeze::<3>();
        let tt = self.token_type.clone().unsqueeze::<3>();
        let mut x = self.emb_norm.forward(word + pos + tt);

        let scale = (HEAD_DIM as f64).sqrt().recip();
        for layer in &self.layers {
            let heads = |t: Tensor<3>| -> Tensor<4> {
                t.reshape([batch, seq, HEADS, HEAD_DIM]).swap_dims(1, 2)
            };
            let qkv = layer.qkv.forward(x.clone());
            let q = heads(qkv.clone().narrow(2, 0, HIDDEN));
            let k = heads(qkv.clone().narrow(2, HIDDEN, HIDDEN));
            let v = heads(qkv.narrow(2, 2 * HIDDEN, HIDDEN));
            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + mask.clone();
            let ctx = softmax(scores, 3)
                .matmul(v)
                .swap_dims(1, 2)
                .reshape([batch, seq, HIDDEN]);
            x = layer.attn_norm.forward(layer.attn_out.forward(ctx) + x);
            let h = gelu(layer.intermediate.forward(x.clone()));
            x = layer.out_norm.forward(layer.output.forward(h) + x);
        }

        // Pool on the host: it is a tiny share of the work and keeps the masking explicit.
        let hidden = x.into_data().convert::<f32>();
        let hidden = hidden
            .as_slice::<f32>()
            .map_err(|e| TextError::Backend(format!("reading encoder output: {e:?}")))?;
        if hidden.len() != batch * seq * HIDDEN {
            return Err(TextError::Backend(format!(
                "encoder output has {} values, expected {}",
                hidden.len(),
                batch * seq * HIDDEN
            )));
        }
        let mut out = vec![0.0f32; batch * HIDDEN];
        for (b, &n) in lens.iter().enumerate() {
            let row = &mut out[b * HIDDEN..(b + 1) * HIDDEN];
            for t in 0..n {
                let h = &hidden[(b * seq + t) * HIDDEN..(b * seq + t + 1) * HIDDEN];
                row.iter_mut().zip(h).for_each(|(o, &v)| *o += v);
            }
            let inv = 1.0 / (n.max(1) as f32);
            row.iter_mut().for_each(|o| *o *= inv);
        }
        Ok(out)
    }
}
