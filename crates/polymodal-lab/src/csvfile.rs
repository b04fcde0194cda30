//! Every CSV polymodal writes goes through the csv crate's writer, so a field holding a comma,
//! a quote or a newline (a user's sample id) stays one field.

use crate::LabError;
use polymodal_core::fsutil;
use std::path::Path;

fn to_bytes(header: &[String], rows: &[Vec<String>], path: &Path) -> Result<Vec<u8>, LabError> {
    let err = |e: csv::Error| LabError::Csv {
        path: path.to_path_buf(),
        source: e,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    if !header.is_empty() {
        w.write_record(header).map_err(err)?;
    }
    for r in rows {
        w.write_record(r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| LabError::io(path, std::io::Error::other(e.to_string())))
}

/// Writes a whole CSV atomically (a crash leaves the old file or none).
pub fn write(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<(), LabError> {
    let bytes = to_bytes(header, rows, path)?;
    fsutil::write_atomic(path, &bytes)?;
    Ok(())
}

/// Appends one row, writing `header` first when the file is new: each epoch (or OGM step)
/// lands on disk as it finishes, so an interrupted run keeps its history.
pub fn append(path: &Path, header: &[String], row: &[String]) -> Result<(), LabError> {
    use std::io::Write;
    let new = !path.exists();
    let bytes = to_bytes(if new { header } else { &[] }, &[row.to_vec()], path)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| LabError::io(path, e))?;
    f.write_all(&bytes).map_err(|e| LabError::io(path, e))
}

/// `prefix_<name>` for every name.
pub fn columns(names: &[String], prefix: &str) -> Vec<String> {
    names.iter().map(|n| format!("{prefix}_{n}")).collect()
}

/// Values with a fixed number of decimals.
pub fn fixed(values: &[f64], precision: usize) -> Vec<String> {
    values.iter().map(|v| format!("{v:.precision$}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_fields_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let header = vec!["id".to_string(), "v".to_string()];
        let ids = ["a,b", "say \"hi\"", "line\nbreak", "plain"];
        for (i, id) in ids.iter().enumerate() {
            append(&path, &header, &[id.to_string(), i.to_string()]).unwrap();
        }
        let mut r = csv::Reader::from_path(&path).unwrap();
        let back: Vec<(String, String)> = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                (rec[0].to_string(), rec[1].to_string())
            })
            .collect();
        assert_eq!(back.len(), 4);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(back[i], (id.to_string(), i.to_string()));
        }
    }
}
