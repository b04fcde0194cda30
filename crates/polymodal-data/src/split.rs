//! Seeded, stratified train/val/test splits for data that comes without one.

use polymodal_core::Split;
use rand::seq::SliceRandom;

/// Per class, a seeded shuffle, then the first `round(f_val·n)` go to val, the next
/// `round(f_test·n)` to test and the rest to train. Unlabelled samples go to train (the pool).
/// If rounding leaves val or test empty while there are at least 3 labelled samples, one sample
/// of the largest class moves there, so evaluation is never on nothing.
pub fn stratified(labels: &[Option<usize>], fractions: [f64; 3], seed: u64) -> Vec<Split> {
    let mut splits = vec![Split::Train; labels.len()];
    let classes = labels.iter().flatten().max().map_or(0, |&c| c + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, l) in labels.iter().enumerate() {
        if let Some(c) = l {
            by_class[*c].push(i);
        }
    }
    let mut rng = polymodal_core::seed::rng(seed, "split");
    let mut train_left: Vec<Vec<usize>> = Vec::new();
    let (mut n_val, mut n_test) = (0, 0);
    for members in by_class.iter_mut() {
        members.shuffle(&mut rng);
        let n = members.len() as f64;
        let v = (n * fractions[1]).round() as usize;
        let t = ((n * fractions[2]).round() as usize).min(members.len() - v.min(members.len()));
        let v = v.min(members.len());
        for &i in &members[..v] {
            splits[i] = Split::Val;
        }
        for &i in &members[v..v + t] {
            splits[i] = Split::Test;
        }
        n_val += v;
        n_test += t;
        train_left.push(members[v + t..].to_vec());
    }
    let labelled = labels.iter().flatten().count();
    for (need, target, want) in [
        (n_val, Split::Val, fractions[1]),
        (n_test, Split::Test, fractions[2]),
    ] {
        if need == 0 && want > 0.0 && labelled >= 3 {
            if let Some(largest) = train_left.iter_mut().max_by_key(|m| m.len()) {
                if largest.len() > 1 {
                    let i = largest.pop().expect("non-empty");
                    splits[i] = target;
                }
            }
        }
    }
    splits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_fractions_per_class_and_seeded() {
        let labels: Vec<Option<usize>> = (0..200).map(|i| Some(i % 2)).chain([None; 5]).collect();
        let s = stratified(&labels, [0.8, 0.1, 0.1], 3);
        for c in 0..2 {
            let count = |sp| (0..200).filter(|&i| i % 2 == c && s[i] == sp).count();
            assert_eq!(count(Split::Val), 10);
            assert_eq!(count(Split::Test), 10);
            assert_eq!(count(Split::Train), 80);
        }
        assert!(s[200..].iter().all(|&x| x == Split::Train));
        assert_eq!(s, stratified(&labels, [0.8, 0.1, 0.1], 3));
        assert_ne!(s, stratified(&labels, [0.8, 0.1, 0.1], 4));
    }

    #[test]
    fn tiny_sets_still_get_val_and_test() {
        let labels = vec![Some(0), Some(1), Some(0), Some(1)];
        let s = stratified(&labels, [0.8, 0.1, 0.1], 0);
        assert!(s.contains(&Split::Val) && s.contains(&Split::Test), "{s:?}");
    }
}
