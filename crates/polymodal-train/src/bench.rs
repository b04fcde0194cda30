//! Throughput benchmarks of the hot paths, on synthetic inputs of the real shapes.
//! Timings are reported, never asserted (see docs/BENCHMARKS.md).

use crate::config::TrainConfig;
use crate::tensors::batch_inputs;
use crate::trainer::{train_step, StepOptions};
use burn::optim::AdamWConfig;
use burn::tensor::activation::softmax;
use polymodal_core::ModalitySpec;
use polymodal_data::Batch;
use polymodal_nn::{ModelConfig, NnError};
use rand::Rng;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub median_samples_per_s: f64,
    pub runs: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainBench {
    pub batch: usize,
    pub train: Throughput,
    pub infer_batch: usize,
    pub infer: Throughput,
    pub params: usize,
}

fn random_batches(
    specs: &[ModalitySpec],
    classes: usize,
    batch: usize,
    count: usize,
    seed: u64,
) -> Vec<Batch> {
    let mut rng = polymodal_core::seed::rng(seed, "bench");
    (0..count)
        .map(|_| Batch {
            indices: (0..batch).collect(),
            inputs: specs
                .iter()
                .map(|s| {
                    (0..batch * s.numel())
                        .map(|_| rng.random_range(-1.5f32..1.5))
                        .collect()
                })
                .collect(),
            present: specs.iter().map(|_| vec![1.0; batch]).collect(),
            labels: (0..batch).map(|_| rng.random_range(0..classes)).collect(),
        })
        .collect()
}

fn measure(mut step: impl FnMut(usize), batch: usize, runs: usize, seconds: f64) -> Throughput {
    let mut i = 0;
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < seconds.min(2.0) || i < 3 {
        step(i);
        i += 1;
    }
    let mut out = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let mut n = 0;
        while t.elapsed().as_secs_f64() < seconds {
            step(i);
            i += 1;
            n += 1;
        }
        out.push((n * batch) as f64 / t.elapsed().as_secs_f64());
    }
    let mut sorted = out.clone();
    sorted.sort_by(f64::total_cmp);
    Throughput {
        median_samples_per_s: sorted[sorted.len() / 2],
        runs: out,
    }
}

/// Training (AdamW steps) and inference (forward + softmax of all heads) throughput.
pub fn train_throughput(
    model_cfg: &ModelConfig,
    specs: &[ModalitySpec],
    classes: usize,
    batch: usize,
    runs: usize,
    seconds: f64,
) -> Result<TrainBench, NnError> {
    let device = polymodal_nn::backend::training_device();
    let mut model = Some(model_cfg.init_seeded(specs, classes, &device, 0)?);
    let mut dropout_rng = polymodal_core::seed::rng(0, "bench-dropout");
    let params = model.as_ref().map_or(0, burn::module::Module::num_params);
    let cfg = TrainConfig::default();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let batches = random_batches(specs, classes, batch, 16, 1);
    let train = measure(
        |i| {
            let m = model.take().expect("model present");
            let out = train_step(
                m,
                &mut optim,
                &batches[i % batches.len()],
                &cfg,
                1e-3,
                &device,
                StepOptions {
                    dropout_rng: &mut dropout_rng,
                    modality_dropout: None,
                    ogm: None,
                },
            );
            model = Some(out.model);
        },
        batch,
        runs,
        seconds,
    );
    let infer_device = polymodal_nn::backend::inference_device();
    let infer_model = model_cfg.init(specs, classes, &infer_device)?;
    let infer_batch = 256;
    let infer_batches = random_batches(specs, classes, infer_batch, 4, 2);
    let infer = measure(
        |i| {
            let (inputs, present) =
                batch_inputs(&infer_batches[i % infer_batches.len()], &infer_device);
            let out = infer_model.forward(inputs, present, None);
            let _ = softmax(out.fused, 1).into_data();
            for l in out.per_modality {
                let _ = softmax(l, 1).into_data();
            }
        },
        infer_batch,
        runs,
        seconds,
    );
    Ok(TrainBench {
        batch,
        train,
        infer_batch,
        infer,
        params,
    })
}
