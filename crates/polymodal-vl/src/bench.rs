//! Throughput of the captioner (`polymodal vl bench`), mirrored by `bench/vl_decoder_bench.py`
//! (the same decoder in PyTorch) so that burn's speed is reported as a ratio on the same CPU.
//! Benchmarks are never tests: nothing here asserts a time.

use crate::error::{Result, VlError};
use crate::model::{teacher_forcing, Decoding, VlModelConfig};
use crate::train::{inference_device, training_device};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use rand::Rng as _;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct VlBench {
    pub conditioning: String,
    pub params: usize,
    pub batch: usize,
    pub text_len: usize,
    pub image_tokens: usize,
    /// Median over runs of text (target) tokens per second in teacher-forced training steps.
    pub train_tokens_per_s: f64,
    pub train_runs: Vec<f64>,
    /// Median over runs of generated tokens per second (greedy, KV cache).
    pub generate_tokens_per_s: f64,
    pub generate_runs: Vec<f64>,
}

/// Training and generation throughput on random canvases and token sequences.
pub fn throughput(
    cfg: &VlModelConfig,
    side: usize,
    vocab: usize,
    batch: usize,
    text_len: usize,
    runs: usize,
    steps: usize,
) -> Result<VlBench> {
    cfg.check()?;
    if text_len < 4 || text_len > cfg.max_text_len || batch == 0 || runs == 0 || steps == 0 {
        return Err(VlError::Config(
            "bench: need 4 <= text_len <= max_text_len and batch, runs, steps > 0".into(),
        ));
    }
    let mut rng = polymodal_core::seed::rng(0, "vl-bench");
    let d = side * side;
    let device = training_device();
    let mut model = cfg.init_seeded(side, vocab, &device, 0)?;
    let params = burn::module::Module::num_params(&model);
    let images: Vec<f32> = (0..batch * d).map(|_| rng.random::<f32>()).collect();
    let seqs: Vec<(Vec<usize>, usize)> = (0..batch)
        .map(|_| {
            (
                (0..text_len + 1)
                    .map(|_| rng.random_range(4..vocab))
                    .collect(),
                1,
            )
        })
        .collect();
    let (inputs, targets, t) = teacher_forcing(&seqs);
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let mut step = |model: crate::model::VlModel| {
        let img = Tensor::<2>::from_data(TensorData::new(images.clone(), [batch, d]), &device);
        let inp = Tensor::<2, Int>::from_data(TensorData::new(inputs.clone(), [batch, t]), &device);
        let tgt =
            Tensor::<3, Int>::from_data(TensorData::new(targets.clone(), [batch, t, 1]), &device);
        let loss = log_softmax(model.forward(Some(img), inp), 2)
            .gather(2, tgt)
            .neg()
            .mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-3, model, grads)
    };
    // Warm-up.
    model = step(model);
    let mut train_runs = Vec::new();
    for _ in 0..runs {
        let started = std::time::Instant::now();
        for _ in 0..steps {
            model = step(model);
        }
        train_runs.push((batch * t * steps) as f64 / started.elapsed().as_secs_f64());
    }
    let infer = cfg.init_seeded(side, vocab, &inference_device(), 0)?;
    let prompt_len = 4;
    let prompts: Vec<Vec<usize>> = (0..batch)
        .map(|_| {
            (0..prompt_len)
                .map(|_| rng.random_range(4..vocab))
                .collect()
        })
        .collect();
    let new = text_len - prompt_len;
    let mut generate_runs = Vec::new();
    let gen = |_: usize| {
        let img = Tensor::<2>::from_data(
            TensorData::new(images.clone(), [batch, d]),
            &inference_device(),
        );
        // EOS can end rows early: count the tokens actually produced.
        infer
            .generate(Some(img), &prompts, new, &Decoding::Greedy)
            .map(|g| {
                g.iter()
                    .map(|r| r.len() + usize::from(r.len() < new))
                    .sum::<usize>()
            })
    };
    gen(0)?;
    for r in 0..runs {
        let started = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..steps {
            n += gen(r)?;
        }
        generate_runs.push(n as f64 / started.elapsed().as_secs_f64());
    }
    Ok(VlBench {
        conditioning: format!("{:?}", cfg.conditioning),
        params,
        batch,
        text_len: t,
        image_tokens: crate::model::patch_side(side, cfg.patch_kernel).pow(2),
        train_tokens_per_s: median(&train_runs),
        train_runs,
        generate_tokens_per_s: median(&generate_runs),
        generate_runs,
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
