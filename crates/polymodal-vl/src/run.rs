//! What `polymodal vl …` does, as library calls: scene directories, training run directories,
//! captions, evaluation reports (Markdown, JSON, an example grid PNG) and VD statistics.
//!
//! A run directory holds `config.toml` (resolved), `model/` (weights, model.json,
//! tokenizer.json), `train_log.csv`, `summary.json`, and after `eval`: `eval.json`, `report.md`,
//! `examples.png`.

use crate::error::{Result, VlError};
use crate::metrics::{self, Chair, Pope, PopeSetting};
use crate::model::{Decoding, VlModel, VlModelConfig};
use crate::scenes::{
    compose, question, Instruction, SceneConfig, SceneSet, SceneSplit, SourceImages,
};
use crate::tokenizer::Tokenizer;
use crate::train::{self, images_tensor, inference_device, EpochLog, TrainConfig, VariantConfig};
use crate::vd::{self, TokenClass, VdStats, WordKind};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.toml";
pub const MODEL_DIR: &str = "model";
pub const EVAL_FILE: &str = "eval.json";
pub const REPORT_FILE: &str = "report.md";
pub const GRID_FILE: &str = "examples.png";

/// Builds and saves scenes from a labelled image dataset.
pub fn build_scenes(
    data: &polymodal_data::Dataset,
    source: &str,
    cfg: SceneConfig,
    out: &Path,
) -> Result<SceneSet> {
    let src = SourceImages::from_dataset(data)?;
    let cfg = cfg.check(src.class_names.len())?;
    let set = compose(&cfg, &src, source)?;
    set.save(out)?;
    Ok(set)
}

/// Parses a scene config TOML (empty text = defaults).
pub fn parse_scene_config(text: &str, origin: &str) -> Result<SceneConfig> {
    toml::from_str(text).map_err(|e| VlError::Config(format!("{origin}: {e}")))
}

/// A `vl train` config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Directory written by `vl build-scenes`.
    pub scenes: PathBuf,
    #[serde(default)]
    pub model: VlModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub variant: VariantConfig,
}

/// Parses a run config with `key=value` overrides (values in TOML syntax, bare words as strings).
pub fn parse_run_config(text: &str, origin: &str, overrides: &[String]) -> Result<RunConfig> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| VlError::Config(format!("{origin}: {e}")))?;
    for o in overrides {
        let (key, value) = o
            .split_once('=')
            .ok_or_else(|| VlError::Config(format!("--set `{o}`: expected key=value")))?;
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        let parts: Vec<&str> = key.trim().split('.').collect();
        let mut cur = &mut table;
        for p in &parts[..parts.len() - 1] {
            cur = cur
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| VlError::Config(format!("--set {key}: `{p}` is not a table")))?;
        }
        cur.insert(parts[parts.len() - 1].to_string(), value);
    }
    let cfg: RunConfig = table
        .try_into()
        .map_err(|e: toml::de::Error| VlError::Config(format!("{origin}: {e}")))?;
    cfg.model.check()?;
    cfg.train.check()?;
    cfg.variant.check()?;
    Ok(cfg)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub variant: String,
    pub conditioning: String,
    pub seed: u64,
    pub samples: usize,
    pub dropped: usize,
    pub params: usize,
    pub seconds: f64,
    pub final_loss: f64,
    pub final_val_loss: f64,
    pub tokens_per_second: f64,
}

/// Trains one model into `out`.
pub fn train_run(
    cfg: &RunConfig,
    out: &Path,
    mut on_epoch: impl FnMut(&EpochLog),
) -> Result<TrainSummary> {
    let started = std::time::Instant::now();
    if out.join(MODEL_DIR).exists() {
        return Err(VlError::file(
            out,
            "already holds a trained model; choose a new --out",
        ));
    }
    let set = SceneSet::load(&cfg.scenes)?;
    // The vocabulary depends only on the scenes (fixed QA seed), so a variant and its reference
    // share it.
    let tok = train::build_tokenizer(&set, 0);
    let reference = match &cfg.variant.reference {
        Some(dir) if cfg.variant.kind != train::VariantKind::Baseline => {
            let (m, _, rtok) = VlModel::load(dir, &inference_device())?;
            if rtok != tok {
                return Err(VlError::file(
                    dir,
                    "the reference model's vocabulary differs from these scenes' vocabulary",
                ));
            }
            Some(m)
        }
        _ => None,
    };
    std::fs::create_dir_all(out).map_err(|e| VlError::io(out, e))?;
    let resolved = toml::to_string_pretty(cfg).map_err(|e| VlError::Config(e.to_string()))?;
    crate::error::write(&out.join(CONFIG_FILE), resolved.as_bytes())?;
    let mut csv = String::from("epoch,loss,val_loss,seconds,tokens_per_second\n");
    let trained = train::train(
        &set,
        &tok,
        &cfg.model,
        &cfg.train,
        &cfg.variant,
        reference.as_ref(),
        |e| {
            let _ = writeln!(
                csv,
                "{},{:.6},{:.6},{:.2},{:.1}",
                e.epoch, e.loss, e.val_loss, e.seconds, e.tokens_per_second
            );
            on_epoch(e);
        },
    )?;
    crate::error::write(&out.join("train_log.csv"), csv.as_bytes())?;
    trained.model.save(&out.join(MODEL_DIR), &cfg.model, &tok)?;
    let last = trained.log.last().expect("epochs > 0");
    let train_seconds: f64 = trained.log.iter().map(|e| e.seconds).sum();
    let tokens: f64 = trained
        .log
        .iter()
        .map(|e| e.tokens_per_second * e.seconds)
        .sum();
    let summary = TrainSummary {
        variant: cfg.variant.kind.as_str().into(),
        conditioning: format!("{:?}", cfg.model.conditioning),
        seed: cfg.train.seed,
        samples: trained.samples,
        dropped: trained.dropped,
        params: burn::module::Module::num_params(&trained.model),
        seconds: started.elapsed().as_secs_f64(),
        final_loss: last.loss,
        final_val_loss: last.val_loss,
        tokens_per_second: tokens / train_seconds.max(1e-9),
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| VlError::Config(e.to_string()))?;
    crate::error::write(&out.join("summary.json"), &json)?;
    Ok(summary)
}

/// A trained run, loaded.
pub struct LoadedRun {
    pub config: RunConfig,
    pub model: VlModel,
    pub tokenizer: Tokenizer,
    pub scenes: SceneSet,
}

pub fn load_run(run: &Path) -> Result<LoadedRun> {
    let cpath = run.join(CONFIG_FILE);
    let config: RunConfig = toml::from_str(&crate::error::read_string(&cpath)?)
        .map_err(|e| VlError::file(&cpath, e))?;
    let (model, _, tokenizer) = VlModel::load(&run.join(MODEL_DIR), &inference_device())?;
    let scenes = SceneSet::load(&config.scenes)?;
    Ok(LoadedRun {
        config,
        model,
        tokenizer,
        scenes,
    })
}

/// Answers of the model to one instruction about each scene (batched; prompts grouped by length).
pub fn answer_all(
    run: &LoadedRun,
    items: &[(usize, Instruction)],
    decoding: &Decoding,
    batch: usize,
) -> Result<Vec<Vec<String>>> {
    let device = inference_device();
    let names = &run.scenes.class_names;
    let prompts: Vec<Vec<usize>> = items
        .iter()
        .map(|&(_, ins)| run.tokenizer.prompt(&question(ins, names, 0)))
        .collect::<Result<_>>()?;
    let mut out = vec![Vec::new(); items.len()];
    let mut lens: Vec<usize> = prompts.iter().map(Vec::len).collect();
    lens.sort_unstable();
    lens.dedup();
    for len in lens {
        let idx: Vec<usize> = (0..items.len())
            .filter(|&i| prompts[i].len() == len)
            .collect();
        for chunk in idx.chunks(batch.max(1)) {
            let scenes: Vec<usize> = chunk.iter().map(|&i| items[i].0).collect();
            let ps: Vec<Vec<usize>> = chunk.iter().map(|&i| prompts[i].clone()).collect();
            let img = images_tensor(&run.scenes, &scenes, &device);
            let gen = run
                .model
                .generate(Some(img), &ps, run.model.max_text_len(), decoding)?;
            for (&i, g) in chunk.iter().zip(gen) {
                out[i] = run.tokenizer.decode(&g);
            }
        }
    }
    Ok(out)
}

/// A caption with its scene's truth and the hallucinated words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Caption {
    pub scene: usize,
    pub words: Vec<String>,
    pub truth: Vec<String>,
    pub hallucinated: Vec<String>,
}

fn caption_rows(set: &SceneSet, scenes: &[usize], caps: Vec<Vec<String>>) -> Vec<Caption> {
    scenes
        .iter()
        .zip(caps)
        .map(|(&s, words)| {
            let present = set.scenes[s].classes();
            let names = &set.class_names;
            let hallucinated = words
                .iter()
                .filter(|w| {
                    names
                        .iter()
                        .position(|n| n == *w)
                        .is_some_and(|c| !present.contains(&c))
                })
                .cloned()
                .collect();
            Caption {
                scene: s,
                truth: set.scenes[s]
                    .objects
                    .iter()
                    .map(|o| names[o.class].clone())
                    .collect(),
                words,
                hallucinated,
            }
        })
        .collect()
}

/// Descriptions of the first `n` scenes of a split.
pub fn caption(
    run: &LoadedRun,
    split: SceneSplit,
    n: usize,
    decoding: &Decoding,
) -> Result<Vec<Caption>> {
    let scenes: Vec<usize> = run.scenes.indices(split).into_iter().take(n).collect();
    let items: Vec<(usize, Instruction)> =
        scenes.iter().map(|&s| (s, Instruction::Describe)).collect();
    let caps = answer_all(run, &items, decoding, 64)?;
    Ok(caption_rows(&run.scenes, &scenes, caps))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitEval {
    pub split: String,
    pub scenes: usize,
    pub chair: Chair,
    /// Captions mentioning a trigger's partner when it is absent / such (caption, pair) cases.
    pub partner_mentions: usize,
    pub partner_cases: usize,
    pub pope: Vec<(String, Pope)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub run: PathBuf,
    pub variant: String,
    pub conditioning: String,
    pub seed: u64,
    pub splits: Vec<SplitEval>,
}

/// CHAIR (greedy descriptions) and POPE (three settings) on each split.
pub fn evaluate(
    run: &LoadedRun,
    run_dir: &Path,
    splits: &[SceneSplit],
    max_scenes: usize,
    probes_per_scene: usize,
) -> Result<(EvalReport, Vec<Caption>)> {
    let set = &run.scenes;
    let mut out = Vec::new();
    let mut examples = Vec::new();
    for &split in splits {
        let scenes: Vec<usize> = set
            .indices(split)
            .into_iter()
            .take(if max_scenes == 0 {
                usize::MAX
            } else {
                max_scenes
            })
            .collect();
        let items: Vec<(usize, Instruction)> =
            scenes.iter().map(|&s| (s, Instruction::Describe)).collect();
        let caps = answer_all(run, &items, &Decoding::Greedy, 64)?;
        let present: Vec<Vec<usize>> = scenes.iter().map(|&s| set.scenes[s].classes()).collect();
        let chair = metrics::chair(&caps, &present, &set.class_names);
        let (pm, pc) =
            metrics::partner_hallucination(&caps, &present, set.pairs(), &set.class_names);
        if split == SceneSplit::TestBias || examples.is_empty() {
            examples = caption_rows(
                set,
                &scenes[..scenes.len().min(8)],
                caps[..scenes.len().min(8)].to_vec(),
            );
        }
        let mut pope = Vec::new();
        for setting in PopeSetting::ALL {
            let probes = metrics::pope_probes(set, &scenes, setting, probes_per_scene, 0);
            let items: Vec<(usize, Instruction)> = probes
                .iter()
                .map(|p| (p.scene, Instruction::Exists(p.class)))
                .collect();
            let answers = answer_all(run, &items, &Decoding::Greedy, 128)?;
            let yes: Vec<bool> = answers.iter().map(|a| metrics::is_yes(a)).collect();
            let truth: Vec<bool> = probes.iter().map(|p| p.truth).collect();
            pope.push((setting.as_str().to_string(), metrics::pope(&truth, &yes)));
        }
        out.push(SplitEval {
            split: split.as_str().into(),
            scenes: scenes.len(),
            chair,
            partner_mentions: pm,
            partner_cases: pc,
            pope,
        });
    }
    let report = EvalReport {
        run: run_dir.to_path_buf(),
        variant: run.config.variant.kind.as_str().into(),
        conditioning: format!("{:?}", run.config.model.conditioning),
        seed: run.config.train.seed,
        splits: out,
    };
    Ok((report, examples))
}

/// Writes eval.json, report.md and examples.png into the run directory.
pub fn write_eval(
    run_dir: &Path,
    report: &EvalReport,
    examples: &[Caption],
    set: &SceneSet,
) -> Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| VlError::Config(e.to_string()))?;
    crate::error::write(&run_dir.join(EVAL_FILE), &json)?;
    let mut md = format!(
        "# vl eval: {} ({}, seed {})\n\n## CHAIR (greedy descriptions)\n\n",
        report.variant, report.conditioning, report.seed
    );
    md.push_str(&chair_table(std::slice::from_ref(report)));
    md.push_str("\n## POPE\n\n");
    md.push_str(&pope_table(std::slice::from_ref(report)));
    md.push_str(&format!(
        "\n## Examples\n\n![examples]({GRID_FILE})\n\nHallucinated object words in **bold**.\n\n"
    ));
    for c in examples {
        let words: Vec<String> = c
            .words
            .iter()
            .map(|w| {
                if c.hallucinated.contains(w) {
                    format!("**{w}**")
                } else {
                    w.clone()
                }
            })
            .collect();
        let _ = writeln!(
            md,
            "- scene {} (truth: {}): {}",
            c.scene,
            c.truth.join(", "),
            words.join(" ")
        );
    }
    crate::error::write(&run_dir.join(REPORT_FILE), md.as_bytes())?;
    example_grid(&run_dir.join(GRID_FILE), examples, set)
}

/// CHAIR rows of several evaluations (one per run and split).
pub fn chair_table(reports: &[EvalReport]) -> String {
    let mut s = String::from("| run | split | CHAIR_i | CHAIR_s | recall | length | partner mentioned when absent |\n|---|---|---|---|---|---|---|\n");
    for r in reports {
        for e in &r.splits {
            let _ = writeln!(
                s,
                "| {} {} s{} | {} | {:.3} | {:.3} | {:.3} | {:.2} | {}/{} |",
                r.conditioning,
                r.variant,
                r.seed,
                e.split,
                e.chair.chair_i,
                e.chair.chair_s,
                e.chair.recall,
                e.chair.length,
                e.partner_mentions,
                e.partner_cases
            );
        }
    }
    s
}

pub fn pope_table(reports: &[EvalReport]) -> String {
    let mut s = String::from("| run | split | setting | accuracy | precision | recall | F1 | yes-ratio | probes |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in reports {
        for e in &r.splits {
            for (name, p) in &e.pope {
                let _ = writeln!(
                    s,
                    "| {} {} s{} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                    r.conditioning,
                    r.variant,
                    r.seed,
                    e.split,
                    name,
                    p.accuracy,
                    p.precision,
                    p.recall,
                    p.f1,
                    p.yes_ratio,
                    p.probes
                );
            }
        }
    }
    s
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            include_bytes!("../../polymodal-lab/assets/DejaVuSans.ttf"),
        );
    });
}

/// A grid of example scenes (2x scale) with their captions; hallucinated words in red.
pub fn example_grid(path: &Path, examples: &[Caption], set: &SceneSet) -> Result<()> {
    use plotters::prelude::*;
    let perr = |e: &dyn std::fmt::Debug| VlError::Plot(format!("{e:?}"));
    register_font();
    let cols = 4usize;
    let rows = examples.len().div_ceil(cols).max(1);
    let scale = 2usize;
    let cell_w = (set.side * scale + 150) as u32;
    let cell_h = (set.side * scale + 60) as u32;
    let size = (cell_w * cols as u32, cell_h * rows as u32);
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(&e))?;
        for (k, c) in examples.iter().enumerate() {
            let (x0, y0) = (
                (k % cols) as i32 * cell_w as i32,
                (k / cols) as i32 * cell_h as i32,
            );
            let img = set.image(c.scene);
            for y in 0..set.side {
                for x in 0..set.side {
                    let v = 255 - img[y * set.side + x];
                    for dy in 0..scale {
                        for dx in 0..scale {
                            root.draw_pixel(
                                (
                                    x0 + 4 + (x * scale + dx) as i32,
                                    y0 + 4 + (y * scale + dy) as i32,
                                ),
                                &RGBColor(v, v, v),
                            )
                            .map_err(|e| perr(&e))?;
                        }
                    }
                }
            }
            // The caption, word-wrapped in the space beside and below the image.
            let font = ("sans-serif", 13).into_font();
            let style = TextStyle::from(font.clone());
            let (mut x, mut y) = (x0 + 4, y0 + (set.side * scale) as i32 + 10);
            let right = x0 + cell_w as i32 - 6;
            for w in &c.words {
                let (tw, _) = root.estimate_text_size(w, &style).map_err(|e| perr(&e))?;
                if x + tw as i32 > right {
                    x = x0 + 4;
                    y += 16;
                }
                let color = if c.hallucinated.contains(w) {
                    RED
                } else {
                    BLACK
                };
                root.draw(&Text::new(w.clone(), (x, y), font.clone().color(&color)))
                    .map_err(|e| perr(&e))?;
                x += tw as i32 + 5;
            }
        }
        root.present().map_err(|e| perr(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| VlError::io(path, e))
}

/// VD statistics of a run's model over the descriptions (and other instructions) of a split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VdReport {
    pub split: String,
    pub samples: usize,
    pub stats: VdStats,
    /// Examples: words with their VD.
    pub examples: Vec<Vec<(String, f32)>>,
}

pub fn vd_stats(
    run: &LoadedRun,
    split: SceneSplit,
    n: usize,
    delta: Option<f32>,
    percentile: f64,
) -> Result<VdReport> {
    let set = &run.scenes;
    let samples: Vec<_> = crate::scenes::qa_samples(set, split, 0)
        .into_iter()
        .take(n)
        .collect();
    let data = train::encode(&run.tokenizer, &samples)?;
    let scorer = train::ModelScorer {
        model: &run.model,
        set,
        batch: 128,
    };
    let scenes: Vec<usize> = data.iter().map(|e| e.scene).collect();
    let seqs: Vec<(Vec<usize>, usize)> = data.iter().map(|e| (e.seq.clone(), e.start)).collect();
    let vds = vd::visual_dependence(&scorer, &scenes, &seqs)?;
    let words: Vec<Vec<String>> = data
        .iter()
        .map(|e| {
            e.seq[e.start..]
                .iter()
                .map(|&t| run.tokenizer.words[t].clone())
                .collect()
        })
        .collect();
    let delta = delta.unwrap_or_else(|| vd::threshold_from_percentile(&vds, percentile));
    let stats = vd::stats(&vds, &words, &set.class_names, delta);
    let examples = words
        .iter()
        .zip(&vds)
        .filter(|(w, _)| {
            w.iter()
                .any(|x| WordKind::of(x, &set.class_names) == WordKind::Object)
        })
        .take(5)
        .map(|(w, v)| w.iter().cloned().zip(v.iter().copied()).collect())
        .collect();
    Ok(VdReport {
        split: split.as_str().into(),
        samples: data.len(),
        stats,
        examples,
    })
}

/// The VD report as Markdown.
pub fn vd_markdown(r: &VdReport) -> String {
    let mut s = format!(
        "VD classes on {} ({} samples), δ = {:.3} nats\n\n| word kind | tokens | image-positive | invariant | image-negative | mean VD |\n|---|---|---|---|---|---|\n",
        r.split, r.samples, r.stats.delta
    );
    let n = r.stats.rows.len();
    for (i, row) in r.stats.rows.iter().enumerate() {
        let name = if i + 1 == n { "all" } else { row.kind.as_str() };
        let _ = writeln!(
            s,
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            row.tokens, row.positive, row.invariant, row.negative, row.mean_vd
        );
    }
    s.push_str("\nExamples (word[VD, class]):\n\n");
    for ex in &r.examples {
        let line: Vec<String> = ex
            .iter()
            .map(|(w, v)| {
                let c = match TokenClass::of(*v, r.stats.delta) {
                    TokenClass::ImagePositive => "+",
                    TokenClass::Invariant => "=",
                    TokenClass::ImageNegative => "-",
                };
                format!("{w}[{v:+.2}{c}]")
            })
            .collect();
        let _ = writeln!(s, "- {}", line.join(" "));
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenes::{Object, Scene};

    /// A tiny scene set (24-px canvases of 8-px "digits") built by hand, for fast tests.
    pub fn tiny_set() -> SceneSet {
        let names: Vec<String> = polymodal_data::avdigits::CLASS_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut scenes = Vec::new();
        let mut images = Vec::new();
        for (i, split) in [
            SceneSplit::Train,
            SceneSplit::Train,
            SceneSplit::Train,
            SceneSplit::Val,
            SceneSplit::TestBias,
        ]
        .into_iter()
        .enumerate()
        {
            let objects: Vec<Object> = (0..1 + i % 3)
                .map(|j| Object {
                    class: (i * 3 + j) % 10,
                    source: 0,
                    row: j / 3,
                    col: j % 3,
                    dx: 0,
                    dy: 0,
                })
                .collect();
            scenes.push(Scene { split, objects });
            images.extend((0..24 * 24).map(|p| ((p * (i + 3)) % 256) as u8));
        }
        SceneSet {
            config: SceneConfig {
                pairs: vec![[3, 8]],
                ..SceneConfig::default()
            },
            class_names: names,
            side: 24,
            source: "hand".into(),
            scenes,
            images,
        }
    }

    /// The shipped configs document every key with its default.
    #[test]
    fn shipped_configs_parse_to_the_defaults() {
        let scenes = parse_scene_config(
            include_str!("../../../configs/vl-scenes.toml"),
            "vl-scenes.toml",
        )
        .unwrap();
        assert_eq!(scenes, SceneConfig::default());
        let prefix = parse_run_config(
            include_str!("../../../configs/vl-prefix.toml"),
            "vl-prefix.toml",
            &[],
        )
        .unwrap();
        assert_eq!(prefix.model, VlModelConfig::default());
        assert_eq!(prefix.train, TrainConfig::default());
        assert_eq!(prefix.variant, VariantConfig::default());
        let cross = parse_run_config(
            include_str!("../../../configs/vl-cross.toml"),
            "vl-cross.toml",
            &[],
        )
        .unwrap();
        // Cross-attention differs from the defaults only where validation chose otherwise
        // (docs/HALLUCINATION.md): no projector LayerNorm, 18 epochs.
        assert_eq!(
            cross.model,
            VlModelConfig {
                conditioning: crate::model::Conditioning::CrossAttention,
                image_norm: false,
                ..VlModelConfig::default()
            }
        );
        assert_eq!(
            cross.train,
            TrainConfig {
                epochs: 18,
                ..TrainConfig::default()
            }
        );
        assert_eq!(cross.variant, VariantConfig::default());
    }

    #[test]
    fn run_config_overrides_and_errors() {
        let c = parse_run_config(
            "scenes = \"s\"\n",
            "x.toml",
            &[
                "train.epochs=3".into(),
                "model.conditioning=cross_attention".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.train.epochs, 3);
        assert_eq!(
            c.model.conditioning,
            crate::model::Conditioning::CrossAttention
        );
        let e =
            parse_run_config("scenes = \"s\"\n[train]\nepochz = 1\n", "x.toml", &[]).unwrap_err();
        assert!(
            e.to_string().contains("x.toml") && e.to_string().contains("epochz"),
            "{e}"
        );
    }

    /// End to end on the tiny set: train two steps per variant family, save, reload, caption,
    /// evaluate, VD statistics; the reloaded run reproduces the trained model's captions.
    #[test]
    fn end_to_end_on_a_tiny_set() {
        let dir = tempfile::tempdir().unwrap();
        let set = tiny_set();
        let sdir = dir.path().join("scenes");
        set.save(&sdir).unwrap();
        let text = format!(
            "scenes = {:?}\n[model]\nd_model = 16\nheads = 2\nff = 16\nlayers = 1\nmax_text_len = 24\nconv_channels = [4, 4, 4]\n[train]\nepochs = 2\nbatch = 4\nwarmup = 1\n",
            sdir.to_str().unwrap()
        );
        let base = dir.path().join("base");
        let cfg = parse_run_config(&text, "t.toml", &[]).unwrap();
        let mut epochs = 0;
        let s = train_run(&cfg, &base, |_| epochs += 1).unwrap();
        assert_eq!(epochs, 2);
        assert!(s.final_loss.is_finite());
        let run = load_run(&base).unwrap();
        let caps = caption(&run, SceneSplit::TestBias, 5, &Decoding::Greedy).unwrap();
        assert_eq!(caps.len(), 1);
        let (report, examples) =
            evaluate(&run, &base, &[SceneSplit::Val, SceneSplit::TestBias], 0, 2).unwrap();
        assert_eq!(report.splits.len(), 2);
        assert_eq!(report.splits[0].pope.len(), 3);
        write_eval(&base, &report, &examples, &run.scenes).unwrap();
        assert!(base.join(GRID_FILE).exists());
        assert!(crate::error::read_string(&base.join(REPORT_FILE))
            .unwrap()
            .contains("CHAIR_i"));
        let vd = vd_stats(&run, SceneSplit::Train, 9, None, 0.5).unwrap();
        assert_eq!(vd.samples, 9);
        assert!(vd_markdown(&vd).contains("| object |"));
        let e = train_run(&cfg, &base, |_| {}).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("already holds a trained model; choose a new --out"),
            "{e}"
        );
        // Same config and seed ⇒ same weights ⇒ same summary numbers.
        let again = train_run(&cfg, &dir.path().join("again"), |_| {}).unwrap();
        assert_eq!(again.final_loss, s.final_loss);
        // Variants read the baseline as reference.
        for kind in ["vd_discrete", "vd_continuous", "filter", "prior"] {
            let c = parse_run_config(
                &text,
                "t.toml",
                &[
                    format!("variant.kind={kind}"),
                    format!(
                        "variant.reference={:?}",
                        base.join(MODEL_DIR).to_str().unwrap()
                    ),
                    "train.epochs=1".into(),
                ],
            )
            .unwrap();
            let s = train_run(&c, &dir.path().join(kind), |_| {}).unwrap();
            assert!(s.final_loss.is_finite(), "{kind}");
            if kind == "filter" {
                assert!(s.dropped > 0);
            }
        }
    }
}
