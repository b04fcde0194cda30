//! Hallucination metrics computed exactly from scene ground truth (docs/METHODS.md §6.3): CHAIR
//! (Rohrbach et al. 2018) on descriptions and POPE (Li et al. 2023) yes/no probes. Object
//! mentions are the class-name words themselves, so no synonym list is needed.

use crate::scenes::SceneSet;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chair {
    /// Hallucinated object mentions / all object mentions.
    pub chair_i: f64,
    /// Captions with at least one hallucinated object / captions.
    pub chair_s: f64,
    /// Present objects (distinct classes) mentioned / present objects.
    pub recall: f64,
    /// Mean caption length in words.
    pub length: f64,
    pub mentions: usize,
    pub hallucinated: usize,
    pub captions: usize,
}

/// CHAIR over captions (`words`), each with the classes present in its scene.
pub fn chair(captions: &[Vec<String>], present: &[Vec<usize>], class_names: &[String]) -> Chair {
    let (mut mentions, mut halluc, mut bad_caps, mut hit, mut gt, mut words) = (0, 0, 0, 0, 0, 0);
    for (cap, pres) in captions.iter().zip(present) {
        words += cap.len();
        let mut mentioned = Vec::new();
        let mut any_bad = false;
        for w in cap {
            if let Some(c) = class_names.iter().position(|n| n == w) {
                mentions += 1;
                if pres.contains(&c) {
                    mentioned.push(c);
                } else {
                    halluc += 1;
                    any_bad = true;
                }
            }
        }
        mentioned.sort_unstable();
        mentioned.dedup();
        hit += mentioned.len();
        gt += pres.len();
        bad_caps += usize::from(any_bad);
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Chair {
        chair_i: ratio(halluc, mentions),
        chair_s: ratio(bad_caps, captions.len()),
        recall: ratio(hit, gt),
        length: ratio(words, captions.len()),
        mentions,
        hallucinated: halluc,
        captions: captions.len(),
    }
}

/// P(caption mentions the partner | trigger present and partner absent), over such captions.
pub fn partner_hallucination(
    captions: &[Vec<String>],
    present: &[Vec<usize>],
    pairs: &[[usize; 2]],
    class_names: &[String],
) -> (usize, usize) {
    let (mut n, mut k) = (0, 0);
    for (cap, pres) in captions.iter().zip(present) {
        for &[t, p] in pairs {
            if pres.contains(&t) && !pres.contains(&p) {
                n += 1;
                k += usize::from(cap.iter().any(|w| *w == class_names[p]));
            }
        }
    }
    (k, n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopeSetting {
    /// Absent classes drawn uniformly.
    Random,
    /// The absent classes most frequent in training.
    Popular,
    /// The absent classes that co-occur most with the present ones in training (the planted
    /// partner first).
    Adversarial,
}

impl PopeSetting {
    pub const ALL: [PopeSetting; 3] = [Self::Random, Self::Popular, Self::Adversarial];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Popular => "popular",
            Self::Adversarial => "adversarial",
        }
    }
}

/// One yes/no probe: "is there a `class` ?" about `scene`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub scene: usize,
    pub class: usize,
    pub truth: bool,
}

/// Balanced probes: per scene, up to `per_scene` present classes (yes) and as many absent ones
/// (no) chosen by the setting. Seeded.
pub fn pope_probes(
    set: &SceneSet,
    scenes: &[usize],
    setting: PopeSetting,
    per_scene: usize,
    seed: u64,
) -> Vec<Probe> {
    let mut rng = polymodal_core::seed::rng(seed, &format!("pope/{}", setting.as_str()));
    let k = set.class_names.len();
    let freq = set.train_frequency();
    let co = set.train_cooccurrence();
    let mut out = Vec::new();
    for &s in scenes {
        let present = set.scenes[s].classes();
        let absent: Vec<usize> = (0..k).filter(|c| !present.contains(c)).collect();
        let n = per_scene.min(present.len()).min(absent.len());
        let mut pos = present.clone();
        // Deterministic subset of the present classes.
        let mut chosen = Vec::new();
        for _ in 0..n {
            let &c = pos.choose(&mut rng).expect("n <= len");
            pos.retain(|&x| x != c);
            chosen.push(c);
        }
        let negatives: Vec<usize> = match setting {
            PopeSetting::Random => {
                let mut a = absent.clone();
                let mut v = Vec::new();
                for _ in 0..n {
                    let &c = a.choose(&mut rng).expect("n <= len");
                    a.retain(|&x| x != c);
                    v.push(c);
                }
                v
            }
            PopeSetting::Popular => {
                let mut a = absent.clone();
                a.sort_by_key(|&c| (std::cmp::Reverse(freq[c]), c));
                a.truncate(n);
                a
            }
            PopeSetting::Adversarial => {
                let mut a = absent.clone();
                let score = |c: usize| present.iter().map(|&p| co[p][c]).sum::<usize>();
                a.sort_by_key(|&c| (std::cmp::Reverse(score(c)), c));
                a.truncate(n);
                a
            }
        };
        out.extend(chosen.into_iter().map(|class| Probe {
            scene: s,
            class,
            truth: true,
        }));
        out.extend(negatives.into_iter().map(|class| Probe {
            scene: s,
            class,
            truth: false,
        }));
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pope {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub yes_ratio: f64,
    pub probes: usize,
}

/// An answer counts as "yes" when its first word is "yes".
pub fn is_yes(answer: &[String]) -> bool {
    answer.first().is_some_and(|w| w == "yes")
}

pub fn pope(truth: &[bool], said_yes: &[bool]) -> Pope {
    let (mut tp, mut fp, mut tn, mut fn_) = (0usize, 0usize, 0usize, 0usize);
    for (&t, &y) in truth.iter().zip(said_yes) {
        match (t, y) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    let n = truth.len();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    Pope {
        accuracy: ratio(tp + tn, n),
        precision,
        recall,
        f1: if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        },
        yes_ratio: ratio(tp + fp, n),
        probes: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn names() -> Vec<String> {
        polymodal_data::avdigits::CLASS_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn chair_on_hand_made_captions() {
        // Scene A holds {three, one}; scene B holds {four}.
        let caps = vec![
            words("there is a three , a eight and a one ."), // 3 mentions, 1 hallucinated (eight)
            words("i see a four ."),                         // 1 mention, none hallucinated
        ];
        let present = vec![vec![1, 3], vec![4]];
        let c = chair(&caps, &present, &names());
        assert_eq!(c.mentions, 4);
        assert_eq!(c.hallucinated, 1);
        assert_eq!(c.chair_i, 0.25);
        assert_eq!(c.chair_s, 0.5);
        assert_eq!(c.recall, 1.0);
        assert_eq!(c.length, (11.0 + 5.0) / 2.0);
        // Omission lowers recall, not CHAIR; repeating a present object is not a hallucination.
        let c = chair(&[words("a three and a three")], &[vec![1, 3]], &names());
        assert_eq!((c.chair_i, c.chair_s, c.recall), (0.0, 0.0, 0.5));
        assert_eq!(
            partner_hallucination(&caps, &present, &[[3, 8], [4, 9]], &names()),
            (1, 2)
        );
    }

    #[test]
    fn pope_on_hand_made_answers() {
        let truth = [true, true, false, false, false];
        let yes: Vec<bool> = ["yes .", "no .", "yes , there is a seven .", "no .", "no"]
            .iter()
            .map(|a| is_yes(&words(a)))
            .collect();
        assert_eq!(yes, [true, false, true, false, false]);
        let p = pope(&truth, &yes);
        assert_eq!(p.accuracy, 0.6);
        assert_eq!(p.precision, 0.5);
        assert_eq!(p.recall, 0.5);
        assert_eq!(p.f1, 0.5);
        assert_eq!(p.yes_ratio, 0.4);
        // Always answering yes: recall 1, precision = positive rate.
        let p = pope(&truth, &[true; 5]);
        assert_eq!((p.recall, p.precision, p.yes_ratio), (1.0, 0.4, 1.0));
    }

    #[test]
    fn adversarial_probes_ask_for_the_partner() {
        use crate::scenes::{Object, Scene, SceneConfig, SceneSet, SceneSplit};
        let o = |class, col| Object {
            class,
            source: 0,
            row: 0,
            col,
            dx: 0,
            dy: 0,
        };
        let mut scenes = Vec::new();
        for _ in 0..5 {
            scenes.push(Scene {
                split: SceneSplit::Train,
                objects: vec![o(3, 0), o(8, 1)],
            });
        }
        scenes.push(Scene {
            split: SceneSplit::Train,
            objects: vec![o(2, 0)],
        });
        scenes.push(Scene {
            split: SceneSplit::TestBias,
            objects: vec![o(3, 0), o(5, 1)],
        });
        let set = SceneSet {
            config: SceneConfig::default(),
            class_names: names(),
            side: 84,
            source: "hand".into(),
            scenes,
            images: Vec::new(),
        };
        let probes = pope_probes(&set, &[6], PopeSetting::Adversarial, 1, 0);
        assert_eq!(probes.len(), 2);
        assert!(probes[0].truth && [3, 5].contains(&probes[0].class));
        assert_eq!((probes[1].class, probes[1].truth), (8, false));
        // Popular: eight (5 scenes) beats two (1) among absent classes.
        let probes = pope_probes(&set, &[6], PopeSetting::Popular, 1, 0);
        assert_eq!(probes[1].class, 8);
        let probes = pope_probes(&set, &[6], PopeSetting::Random, 2, 0);
        assert_eq!(probes.iter().filter(|p| p.truth).count(), 2);
        assert!(probes
            .iter()
            .filter(|p| !p.truth)
            .all(|p| ![3, 5].contains(&p.class)));
    }
}
