//! Summary statistics of repeated runs.

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Serde for `Vec<f64>` that may hold NaN ("not measured"): JSON has no NaN and writes `null`,
/// which this reads back as NaN, so a finished cell with a NaN field still resumes.
pub mod nan_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| if x.is_nan() { None } else { Some(*x) }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mean_and_sample_std() {
        let (m, s) = super::mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        // sqrt(((1.5² + 0.5²) · 2) / 3) = sqrt(5/3)
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(super::mean_std(&[7.0]), (7.0, 0.0));
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Row {
        #[serde(with = "super::nan_vec")]
        v: Vec<f64>,
    }

    #[test]
    fn nan_survives_a_json_round_trip() {
        let text = serde_json::to_string(&Row {
            v: vec![0.5, f64::NAN],
        })
        .unwrap();
        assert_eq!(text, r#"{"v":[0.5,null]}"#);
        let back: Row = serde_json::from_str(&text).unwrap();
        assert_eq!(back.v[0], 0.5);
        assert!(back.v[1].is_nan());
    }
}
