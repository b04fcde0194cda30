//! Composed scenes with exactly known content (docs/METHODS.md §6): 1–4 source images pasted on a
//! grid canvas, a planted co-occurrence bias in training (a trigger class brings its partner with
//! high probability), and test scenes that break the bias (trigger without partner). Source images
//! of train, validation and test scenes come from disjoint pools (the source dataset's own
//! train/val/test splits), so no test pixel was ever seen in training.

use crate::error::{Result, VlError};
use polymodal_core::{ModalityKind, Split};
use polymodal_data::Dataset;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SCENES_FILE: &str = "scenes.json";
pub const IMAGES_FILE: &str = "images.u8";

/// Which part of the study a scene belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneSplit {
    Train,
    /// Validation, drawn like training (biased).
    Val,
    /// Validation scenes that break the bias: thresholds and weights are chosen here.
    ValBias,
    /// In-distribution test scenes (biased like training).
    Test,
    /// Bias-breaking test scenes: a trigger without its partner.
    TestBias,
}

impl SceneSplit {
    pub const ALL: [SceneSplit; 5] = [
        Self::Train,
        Self::Val,
        Self::ValBias,
        Self::Test,
        Self::TestBias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::ValBias => "val_bias",
            Self::Test => "test",
            Self::TestBias => "test_bias",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                VlError::Input(format!(
                    "unknown split `{s}` (expected train, val, val_bias, test or test_bias)"
                ))
            })
    }

    /// The source-image pool the split draws from.
    fn source(self) -> Split {
        match self {
            Self::Train => Split::Train,
            Self::Val | Self::ValBias => Split::Val,
            Self::Test | Self::TestBias => Split::Test,
        }
    }

    fn bias_breaking(self) -> bool {
        matches!(self, Self::ValBias | Self::TestBias)
    }
}

/// How scenes are composed (`polymodal vl build-scenes --config`). Unchecked; see [`Self::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SceneConfig {
    pub seed: u64,
    /// Scenes per split.
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// Objects per scene, inclusive range.
    pub min_objects: usize,
    pub max_objects: usize,
    /// The canvas is a `grid` x `grid` array of source-image-sized cells.
    pub grid: usize,
    /// Each object is shifted by up to this many pixels from its cell's corner.
    pub jitter: usize,
    /// `[trigger, partner]` class-index pairs of the planted bias.
    pub pairs: Vec<[usize; 2]>,
    /// Probability that a trigger in a biased scene brings its partner.
    pub partner_prob: f64,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            train: 3000,
            val: 300,
            test: 500,
            min_objects: 1,
            max_objects: 4,
            grid: 3,
            jitter: 3,
            pairs: vec![[3, 8], [1, 7], [4, 9]],
            partner_prob: 0.8,
        }
    }
}

/// A [`SceneConfig`] whose values have been checked against the source classes.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSceneConfig(SceneConfig);

impl std::ops::Deref for ValidSceneConfig {
    type Target = SceneConfig;
    fn deref(&self) -> &SceneConfig {
        &self.0
    }
}

impl SceneConfig {
    pub fn check(self, classes: usize) -> Result<ValidSceneConfig> {
        let bad = |m: String| Err(VlError::Config(m));
        if self.min_objects == 0 || self.min_objects > self.max_objects {
            return bad(format!(
                "scenes.min_objects = {} must be >= 1 and <= max_objects = {}",
                self.min_objects, self.max_objects
            ));
        }
        if self.grid == 0 || self.max_objects > self.grid * self.grid {
            return bad(format!(
                "scenes.max_objects = {} does not fit a {}x{} grid",
                self.max_objects, self.grid, self.grid
            ));
        }
        if self.train == 0 || self.val == 0 || self.test == 0 {
            return bad("scenes.train, val and test must all be > 0".into());
        }
        if !(0.0..=1.0).contains(&self.partner_prob) {
            return bad(format!(
                "scenes.partner_prob = {} must be in [0, 1]",
                self.partner_prob
            ));
        }
        if classes < 3 {
            return bad(format!("need at least 3 classes, the source has {classes}"));
        }
        for &[t, p] in &self.pairs {
            if t >= classes || p >= classes || t == p {
                return bad(format!(
                    "scenes.pairs: [{t}, {p}] must be two different classes below {classes}"
                ));
            }
        }
        let triggers: Vec<usize> = self.pairs.iter().map(|p| p[0]).collect();
        if self.pairs.iter().any(|p| triggers.contains(&p[1])) {
            return bad("scenes.pairs: a partner may not also be a trigger".into());
        }
        Ok(ValidSceneConfig(self))
    }
}

/// One pasted source image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub class: usize,
    /// Index of the source image in the source dataset.
    pub source: usize,
    pub row: usize,
    pub col: usize,
    pub dx: usize,
    pub dy: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub split: SceneSplit,
    /// Objects in reading order (row, then column).
    pub objects: Vec<Object>,
}

impl Scene {
    /// The distinct classes present.
    pub fn classes(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self.objects.iter().map(|o| o.class).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    pub fn count(&self, class: usize) -> usize {
        self.objects.iter().filter(|o| o.class == class).count()
    }
}

/// Single-channel source images in [0, 1] with class labels and a split each.
#[derive(Debug, Clone)]
pub struct SourceImages {
    pub side: usize,
    pub pixels: Vec<f32>,
    pub labels: Vec<usize>,
    pub splits: Vec<Split>,
    pub class_names: Vec<String>,
}

impl SourceImages {
    /// The first single-channel square image modality of a labelled dataset. Values are mapped
    /// back to [0, 1] per image (loaders standardise images; an affine map with positive scale
    /// is undone by min-max scaling).
    pub fn from_dataset(data: &Dataset) -> Result<Self> {
        let m = data
            .modalities
            .iter()
            .find(|m| m.spec.kind == ModalityKind::Image)
            .ok_or_else(|| {
                VlError::Input(format!("dataset `{}` has no image modality", data.name))
            })?;
        let side = match m.spec.shape.as_slice() {
            &[1, h, w] if h == w && h >= 8 => h,
            s => {
                return Err(VlError::Input(format!(
                    "image modality `{}` has shape {s:?}; scenes need single-channel square images [1, n, n] with n >= 8",
                    m.spec.name
                )))
            }
        };
        for name in &data.class_names {
            if name.is_empty()
                || name.split_whitespace().count() != 1
                || name != &name.to_lowercase()
            {
                return Err(VlError::Input(format!(
                    "class name `{name}` must be one lower-case word to be an object word in captions"
                )));
            }
        }
        let d = side * side;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        let mut splits = Vec::new();
        for i in 0..data.ids.len() {
            let (Some(label), true) = (data.labels[i], m.present[i]) else {
                continue;
            };
            let row = &m.values[i * d..(i + 1) * d];
            let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let span = (hi - lo).max(1e-6);
            pixels.extend(row.iter().map(|v| (v - lo) / span));
            labels.push(label);
            splits.push(data.splits[i]);
        }
        Ok(Self {
            side,
            pixels,
            labels,
            splits,
            class_names: data.class_names.clone(),
        })
    }

    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.side * self.side;
        &self.pixels[i * d..(i + 1) * d]
    }
}

/// Scenes plus their rendered canvases (u8, `side` x `side`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SceneSet {
    pub config: SceneConfig,
    pub class_names: Vec<String>,
    pub side: usize,
    /// Where the source images came from (path or "avdigits"), for the record.
    pub source: String,
    pub scenes: Vec<Scene>,
    #[serde(skip)]
    pub images: Vec<u8>,
}

impl SceneSet {
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.side * self.side;
        &self.images[i * d..(i + 1) * d]
    }

    /// Canvas as model input in [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&v| v as f32 / 255.0).collect()
    }

    pub fn indices(&self, split: SceneSplit) -> Vec<usize> {
        (0..self.scenes.len())
            .filter(|&i| self.scenes[i].split == split)
            .collect()
    }

    pub fn pairs(&self) -> &[[usize; 2]] {
        &self.config.pairs
    }

    /// How often each class appears in training scenes (scenes containing it).
    pub fn train_frequency(&self) -> Vec<usize> {
        let mut f = vec![0; self.class_names.len()];
        for s in self.scenes.iter().filter(|s| s.split == SceneSplit::Train) {
            for c in s.classes() {
                f[c] += 1;
            }
        }
        f
    }

    /// `co[a][b]`: training scenes containing both a and b.
    pub fn train_cooccurrence(&self) -> Vec<Vec<usize>> {
        let k = self.class_names.len();
        let mut co = vec![vec![0; k]; k];
        for s in self.scenes.iter().filter(|s| s.split == SceneSplit::Train) {
            let cs = s.classes();
            for &a in &cs {
                for &b in &cs {
                    if a != b {
                        co[a][b] += 1;
                    }
                }
            }
        }
        co
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| VlError::io(dir, e))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| VlError::file(&dir.join(SCENES_FILE), e))?;
        crate::error::write(&dir.join(SCENES_FILE), &json)?;
        crate::error::write(&dir.join(IMAGES_FILE), &self.images)
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(SCENES_FILE);
        let text = crate::error::read_string(&path)?;
        let mut set: SceneSet = serde_json::from_str(&text).map_err(|e| VlError::file(&path, e))?;
        let ipath = dir.join(IMAGES_FILE);
        set.images = std::fs::read(&ipath).map_err(|e| VlError::io(&ipath, e))?;
        let want = set.scenes.len() * set.side * set.side;
        if set.images.len() != want {
            return Err(VlError::file(
                &ipath,
                format!(
                    "{} bytes, expected {want} ({} scenes of {}x{})",
                    set.images.len(),
                    set.scenes.len(),
                    set.side,
                    set.side
                ),
            ));
        }
        Ok(set)
    }
}

/// Draws the classes of one scene.
fn draw_classes(
    cfg: &SceneConfig,
    k: usize,
    split: SceneSplit,
    rng: &mut polymodal_core::seed::Rng,
) -> Vec<usize> {
    let n = rng.random_range(cfg.min_objects..=cfg.max_objects);
    let partner_of = |c: usize| cfg.pairs.iter().find(|p| p[0] == c).map(|p| p[1]);
    if split.bias_breaking() && !cfg.pairs.is_empty() {
        // A trigger, and no partner of any trigger present.
        let trigger = cfg.pairs.choose(rng).expect("pairs not empty")[0];
        let mut classes = vec![trigger];
        while classes.len() < n {
            let c = rng.random_range(0..k);
            let forbidden = classes.iter().any(|&t| partner_of(t) == Some(c))
                || partner_of(c).is_some_and(|p| classes.contains(&p));
            if !forbidden {
                classes.push(c);
            }
        }
        classes.shuffle(rng);
        return classes;
    }
    let mut classes: Vec<usize> = (0..n).map(|_| rng.random_range(0..k)).collect();
    // Plant the bias: each trigger brings its partner with probability partner_prob, added if
    // there is room, else replacing an object that is not a trigger.
    for i in 0..classes.len() {
        let Some(p) = partner_of(classes[i]) else {
            continue;
        };
        if classes.contains(&p) || !rng.random_bool(cfg.partner_prob) {
            continue;
        }
        if classes.len() < cfg.max_objects {
            classes.push(p);
        } else if let Some(j) = (0..classes.len()).find(|&j| partner_of(classes[j]).is_none()) {
            classes[j] = p;
        }
    }
    classes.shuffle(rng);
    classes
}

/// Composes all scenes from the source images.
pub fn compose(cfg: &ValidSceneConfig, src: &SourceImages, source: &str) -> Result<SceneSet> {
    let k = src.class_names.len();
    // pools[split][class] = source indices
    let pool = |s: Split| -> Vec<Vec<usize>> {
        let mut p = vec![Vec::new(); k];
        for (i, (&l, &sp)) in src.labels.iter().zip(&src.splits).enumerate() {
            if sp == s {
                p[l].push(i);
            }
        }
        p
    };
    let pools = [pool(Split::Train), pool(Split::Val), pool(Split::Test)];
    for (s, p) in [Split::Train, Split::Val, Split::Test].iter().zip(&pools) {
        if let Some(c) = p.iter().position(Vec::is_empty) {
            return Err(VlError::Input(format!(
                "the source has no {} image of class `{}`",
                s.as_str(),
                src.class_names[c]
            )));
        }
    }
    let cell = src.side;
    let side = cell * cfg.grid;
    let mut scenes = Vec::new();
    let mut images = Vec::new();
    for split in SceneSplit::ALL {
        let n = match split {
            SceneSplit::Train => cfg.train,
            SceneSplit::Val | SceneSplit::ValBias => cfg.val,
            SceneSplit::Test | SceneSplit::TestBias => cfg.test,
        };
        let mut rng = polymodal_core::seed::rng(cfg.seed, &format!("scenes/{}", split.as_str()));
        let p = &pools[match split.source() {
            Split::Train => 0,
            Split::Val => 1,
            Split::Test => 2,
        }];
        for _ in 0..n {
            let classes = draw_classes(cfg, k, split, &mut rng);
            let mut cells: Vec<usize> = (0..cfg.grid * cfg.grid).collect();
            cells.shuffle(&mut rng);
            let mut objects: Vec<Object> = classes
                .iter()
                .zip(&cells)
                .map(|(&class, &c)| Object {
                    class,
                    source: *p[class].choose(&mut rng).expect("pool not empty"),
                    row: c / cfg.grid,
                    col: c % cfg.grid,
                    dx: rng.random_range(0..=cfg.jitter),
                    dy: rng.random_range(0..=cfg.jitter),
                })
                .collect();
            objects.sort_by_key(|o| (o.row, o.col));
            let scene = Scene { split, objects };
            images.extend(render(&scene, src, side));
            scenes.push(scene);
        }
    }
    Ok(SceneSet {
        config: (**cfg).clone(),
        class_names: src.class_names.clone(),
        side,
        source: source.to_string(),
        scenes,
        images,
    })
}

/// Pastes the objects with max-blending; jitter that would leave the canvas is clipped.
fn render(scene: &Scene, src: &SourceImages, side: usize) -> Vec<u8> {
    let cell = src.side;
    let mut canvas = vec![0f32; side * side];
    for o in &scene.objects {
        let img = src.image(o.source);
        for y in 0..cell {
            for x in 0..cell {
                let (cy, cx) = (o.row * cell + o.dy + y, o.col * cell + o.dx + x);
                if cy < side && cx < side {
                    let v = &mut canvas[cy * side + cx];
                    *v = v.max(img[y * cell + x]);
                }
            }
        }
    }
    canvas
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// The three instruction types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Instruction {
    Describe,
    /// "is there a N ?"
    Exists(usize),
    /// "how many N ?"
    Count(usize),
}

/// One instruction about a scene with its templated answer (space-separated words).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QaSample {
    pub scene: usize,
    pub instruction: Instruction,
    pub question: String,
    pub answer: String,
}

pub const DESCRIBE_PROMPTS: [&str; 2] = ["describe the image .", "what is in the image ?"];

pub fn question(ins: Instruction, names: &[String], variant: usize) -> String {
    match ins {
        Instruction::Describe => DESCRIBE_PROMPTS[variant % 2].to_string(),
        Instruction::Exists(c) => format!("is there a {} ?", names[c]),
        Instruction::Count(c) => format!("how many {} ?", names[c]),
    }
}

/// The templated answer; `variant` picks the wording.
pub fn answer(ins: Instruction, scene: &Scene, names: &[String], variant: usize) -> String {
    match ins {
        Instruction::Describe => {
            let items: Vec<String> = scene
                .objects
                .iter()
                .map(|o| format!("a {}", names[o.class]))
                .collect();
            let list = match items.len() {
                1 => items[0].clone(),
                n => format!("{} and {}", items[..n - 1].join(" , "), items[n - 1]),
            };
            match variant % 3 {
                0 => format!("there is {list} ."),
                1 => format!("i see {list} ."),
                _ => format!("the image shows {list} ."),
            }
        }
        Instruction::Exists(c) => {
            let yes = scene.count(c) > 0;
            match (yes, variant % 2) {
                (true, 0) => format!("yes , there is a {} .", names[c]),
                (true, _) => "yes .".to_string(),
                (false, 0) => format!("no , there is no {} .", names[c]),
                (false, _) => "no .".to_string(),
            }
        }
        Instruction::Count(c) => {
            let n = scene.count(c);
            match variant % 2 {
                0 => format!("there are {n} ."),
                _ => format!("{n} ."),
            }
        }
    }
}

/// One sample of each instruction type per scene; "is there" and "how many" ask about a present
/// class half of the time. Seeded per split.
pub fn qa_samples(set: &SceneSet, split: SceneSplit, seed: u64) -> Vec<QaSample> {
    let mut rng = polymodal_core::seed::rng(seed, &format!("qa/{}", split.as_str()));
    let k = set.class_names.len();
    let mut out = Vec::new();
    for i in set.indices(split) {
        let scene = &set.scenes[i];
        let present = scene.classes();
        let pick = |rng: &mut polymodal_core::seed::Rng| {
            if rng.random_bool(0.5) {
                *present.choose(rng).expect("scenes have objects")
            } else {
                let absent: Vec<usize> = (0..k).filter(|c| !present.contains(c)).collect();
                *absent.choose(rng).unwrap_or(&present[0])
            }
        };
        let exists = Instruction::Exists(pick(&mut rng));
        let count = Instruction::Count(pick(&mut rng));
        for ins in [Instruction::Describe, exists, count] {
            let v: usize = rng.random_range(0..6);
            out.push(QaSample {
                scene: i,
                instruction: ins,
                question: question(ins, &set.class_names, v),
                answer: answer(ins, scene, &set.class_names, v),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_source() -> SourceImages {
        let side = 8;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        let mut splits = Vec::new();
        for s in [Split::Train, Split::Val, Split::Test] {
            for c in 0..10 {
                for j in 0..2 {
                    pixels.extend((0..side * side).map(|p| ((p + c + j) % 7) as f32 / 6.0));
                    labels.push(c);
                    splits.push(s);
                }
            }
        }
        SourceImages {
            side,
            pixels,
            labels,
            splits,
            class_names: polymodal_data::avdigits::CLASS_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    fn small_cfg() -> SceneConfig {
        SceneConfig {
            train: 400,
            val: 50,
            test: 100,
            ..SceneConfig::default()
        }
    }

    #[test]
    fn splits_draw_from_disjoint_sources_and_bias_is_planted() {
        let src = tiny_source();
        let set = compose(&small_cfg().check(10).unwrap(), &src, "tiny").unwrap();
        assert_eq!(set.side, 24);
        assert_eq!(set.images.len(), set.scenes.len() * 24 * 24);
        for s in &set.scenes {
            let want = s.split.source();
            assert!(s.objects.iter().all(|o| src.splits[o.source] == want));
            assert!(s.objects.iter().all(|o| src.labels[o.source] == o.class));
            assert!((1..=4).contains(&s.objects.len()));
        }
        // Bias-breaking scenes: a trigger, never with its partner.
        for s in set.scenes.iter().filter(|s| s.split.bias_breaking()) {
            let cs = s.classes();
            assert!(cs.iter().any(|c| [3, 1, 4].contains(c)));
            for [t, p] in [[3, 8], [1, 7], [4, 9]] {
                assert!(!(cs.contains(&t) && cs.contains(&p)), "{cs:?}");
            }
        }
        // Training: P(partner | trigger) is far above the base rate of a class (~0.25).
        let train: Vec<&Scene> = set
            .scenes
            .iter()
            .filter(|s| s.split == SceneSplit::Train)
            .collect();
        let with_t: Vec<&&Scene> = train.iter().filter(|s| s.count(3) > 0).collect();
        let both = with_t.iter().filter(|s| s.count(8) > 0).count();
        assert!(
            both as f64 / with_t.len() as f64 > 0.7,
            "{both}/{}",
            with_t.len()
        );
    }

    #[test]
    fn composing_is_reproducible_and_round_trips() {
        let src = tiny_source();
        let a = compose(&small_cfg().check(10).unwrap(), &src, "tiny").unwrap();
        let b = compose(&small_cfg().check(10).unwrap(), &src, "tiny").unwrap();
        assert_eq!(a.scenes, b.scenes);
        assert_eq!(a.images, b.images);
        let dir = tempfile::tempdir().unwrap();
        a.save(dir.path()).unwrap();
        let c = SceneSet::load(dir.path()).unwrap();
        assert_eq!(a.scenes, c.scenes);
        assert_eq!(a.images, c.images);
    }

    #[test]
    fn templated_answers() {
        let names: Vec<String> = polymodal_data::avdigits::CLASS_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = |class, col| Object {
            class,
            source: 0,
            row: 0,
            col,
            dx: 0,
            dy: 0,
        };
        let scene = Scene {
            split: SceneSplit::Train,
            objects: vec![o(3, 0), o(1, 1), o(3, 2)],
        };
        assert_eq!(
            answer(Instruction::Describe, &scene, &names, 0),
            "there is a three , a one and a three ."
        );
        assert_eq!(
            answer(Instruction::Exists(8), &scene, &names, 0),
            "no , there is no eight ."
        );
        assert_eq!(answer(Instruction::Exists(1), &scene, &names, 1), "yes .");
        assert_eq!(
            answer(Instruction::Count(3), &scene, &names, 0),
            "there are 2 ."
        );
    }

    fn dataset(names: &[&str], shape: Vec<usize>) -> Dataset {
        use polymodal_core::{ModalitySpec, SampleId};
        let d: usize = shape.iter().product();
        let n = names.len() * 3;
        Dataset {
            name: "imported".into(),
            ids: (0..n).map(|i| SampleId(format!("s{i}"))).collect(),
            labels: (0..n).map(|i| Some(i % names.len())).collect(),
            class_names: names.iter().map(|s| s.to_string()).collect(),
            splits: (0..n)
                .map(|i| [Split::Train, Split::Val, Split::Test][i / names.len()])
                .collect(),
            modalities: vec![polymodal_data::ModalityData {
                spec: ModalitySpec {
                    name: "photo".into(),
                    kind: ModalityKind::Image,
                    shape,
                },
                // Standardised values (negative and above 1): mapped back to [0, 1] per image.
                values: (0..n * d).map(|i| (i % 5) as f32 * 0.7 - 1.0).collect(),
                present: vec![true; n],
            }],
            fingerprint: String::new(),
        }
    }

    /// Any imported labelled image set works as a source, not only the digits.
    #[test]
    fn scenes_from_an_imported_dataset() {
        let data = dataset(&["cat", "dog", "cow", "hen"], vec![1, 10, 10]);
        let src = SourceImages::from_dataset(&data).unwrap();
        assert_eq!(src.side, 10);
        assert!(src.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(src.pixels.iter().copied().fold(0.0, f32::max), 1.0);
        let cfg = SceneConfig {
            pairs: vec![[0, 1]],
            train: 20,
            val: 5,
            test: 5,
            ..SceneConfig::default()
        };
        let set = compose(&cfg.check(4).unwrap(), &src, "imported").unwrap();
        assert_eq!((set.side, set.scenes.len()), (30, 40));
        let e = SourceImages::from_dataset(&dataset(&["cat", "dog", "cow"], vec![3, 10, 10]))
            .unwrap_err();
        assert!(
            e.to_string().contains("single-channel square images"),
            "{e}"
        );
        let e = SourceImages::from_dataset(&dataset(&["big cat", "dog", "cow"], vec![1, 10, 10]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "class name `big cat` must be one lower-case word to be an object word in captions"
        );
    }

    #[test]
    fn bad_configs_are_refused_with_the_key() {
        let e = SceneConfig {
            max_objects: 10,
            ..SceneConfig::default()
        }
        .check(10)
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("max_objects = 10 does not fit a 3x3 grid"),
            "{e}"
        );
        let e = SceneConfig {
            pairs: vec![[3, 12]],
            ..SceneConfig::default()
        }
        .check(10)
        .unwrap_err();
        assert!(e.to_string().contains("[3, 12]"), "{e}");
    }
}
