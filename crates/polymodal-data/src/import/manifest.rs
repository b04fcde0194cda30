//! Reading a manifest (CSV or JSONL) into rows of optional string cells.
//!
//! A row that cannot be read as a row (wrong field count, invalid JSON, a non-scalar value) is
//! not an error of the whole manifest: it becomes a [`BadRow`] so the import can report every
//! problem at once, and skip them when the user asked for it.

use super::BadRow;
use super::CellError;
use std::collections::BTreeMap;
use std::path::Path;

/// One manifest row: 1-based line number in the file and its cells. `None` is a missing cell
/// (empty in CSV, absent or `null` in JSONL), which means "this modality is missing".
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: usize,
    pub cells: BTreeMap<String, Option<String>>,
}

impl Row {
    pub fn get(&self, column: &str) -> Option<&str> {
        self.cells.get(column).and_then(|c| c.as_deref())
    }
}

/// A parsed manifest: its columns in file order, the rows that parsed, and those that did not.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub malformed: Vec<BadRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => Some(Self::Csv),
            Some("jsonl") | Some("ndjson") => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// Parses manifest text. Errors only when the file as a whole is unusable (no header, no
/// columns); per-row problems land in [`Manifest::malformed`].
pub fn parse(text: &str, format: Format) -> Result<Manifest, CellError> {
    // Spreadsheet programs on Windows start UTF-8 files with a byte-order mark; left in, it
    // glues itself to the first column name (CSV) or makes the first line invalid JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Csv => parse_csv(text),
        Format::Jsonl => parse_jsonl(text),
    }
}

fn cell(raw: &str) -> Option<String> {
    // A cell of only whitespace is kept (and rejected later as empty text where that matters);
    // only a truly empty cell means "missing".
    (!raw.is_empty()).then(|| raw.to_string())
}

fn parse_csv(text: &str) -> Result<Manifest, CellError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header line: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    if columns.iter().all(|c| c.is_empty()) {
        return Err("the header line is empty".into());
    }
    if let Some(dup) = first_duplicate(&columns) {
        return Err(format!("column `{dup}` appears twice in the header").into());
    }
    let mut manifest = Manifest {
        columns: columns.clone(),
        ..Default::default()
    };
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line() as usize);
                if record.len() == 1 && record.get(0) == Some("") {
                    continue; // a blank line
                }
                if record.len() != columns.len() {
                    manifest.malformed.push(BadRow {
                        line,
                        id: record.get(0).unwrap_or("").to_string(),
                        reason: format!(
                            "malformed row: {} fields, the header has {}",
                            record.len(),
                            columns.len()
                        ),
                    });
                    continue;
                }
                let cells = columns
                    .iter()
                    .zip(record.iter())
                    .map(|(c, v)| (c.clone(), cell(v)))
                    .collect();
                manifest.rows.push(Row { line, cells });
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                manifest.malformed.push(BadRow {
                    line,
                    id: String::new(),
                    reason: format!("malformed row: {e}"),
                });
                // The csv reader cannot resync after an I/O-level error; UTF-8 errors are
                // per-record and reading continues.
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
            }
        }
    }
    Ok(manifest)
}

fn parse_jsonl(text: &str) -> Result<Manifest, CellError> {
    let mut manifest = Manifest::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                manifest.malformed.push(BadRow {
                    line,
                    id: String::new(),
                    reason: format!("malformed row: invalid JSON: {e}"),
                });
                continue;
            }
        };
        let serde_json::Value::Object(map) = value else {
            manifest.malformed.push(BadRow {
                line,
                id: String::new(),
                reason: "malformed row: expected a JSON object".into(),
            });
            continue;
        };
        let id_hint = map
            .get("id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default();
        let mut cells = BTreeMap::new();
        let mut bad = None;
        for (key, v) in map {
            let c = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => cell(&s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => {
                    bad = Some(format!(
                        "malformed row: field `{key}` must be a string, number or null"
                    ));
                    break;
                }
            };
            if !manifest.columns.contains(&key) {
                manifest.columns.push(key.clone());
            }
            cells.insert(key, c);
        }
        match bad {
            Some(reason) => manifest.malformed.push(BadRow {
                line,
                id: id_hint,
                reason,
            }),
            None => manifest.rows.push(Row { line, cells }),
        }
    }
    if manifest.rows.is_empty() && manifest.malformed.is_empty() {
        return Err("the manifest has no rows".into());
    }
    Ok(manifest)
}

fn first_duplicate(columns: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    columns
        .iter()
        .find(|c| !c.is_empty() && !seen.insert(c.as_str()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_line_numbers_and_missing_cells() {
        let m = parse("id,label,img\na,cat,a.png\nb,,\n", Format::Csv).unwrap();
        assert_eq!(m.columns, ["id", "label", "img"]);
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.rows[0].line, 2);
        assert_eq!(m.rows[1].line, 3);
        assert_eq!(m.rows[1].get("label"), None);
        assert_eq!(m.rows[0].get("img"), Some("a.png"));
    }

    #[test]
    fn csv_wrong_field_count_is_a_bad_row_not_an_error() {
        let m = parse("id,img\na,a.png\nb\nc,c.png,extra\nd,d.png\n", Format::Csv).unwrap();
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.malformed.len(), 2);
        assert_eq!(m.malformed[0].line, 3);
        assert_eq!(m.malformed[0].id, "b");
        assert!(
            m.malformed[1].reason.contains("3 fields"),
            "{:?}",
            m.malformed
        );
    }

    #[test]
    fn csv_quoted_commas_and_newlines() {
        let m = parse(
            "id,text\na,\"hello, world\"\nb,\"two\nlines\"\nc,x\n",
            Format::Csv,
        )
        .unwrap();
        assert_eq!(m.rows[0].get("text"), Some("hello, world"));
        assert_eq!(m.rows[1].get("text"), Some("two\nlines"));
        assert_eq!(m.rows[2].line, 5);
    }

    #[test]
    fn a_byte_order_mark_keeps_the_first_column_and_row() {
        let m = parse("\u{feff}id,img\na,a.png\n", Format::Csv).unwrap();
        assert_eq!(m.columns, ["id", "img"]);
        assert_eq!(m.rows[0].get("id"), Some("a"));
        let m = parse("\u{feff}{\"id\":\"a\"}\n{\"id\":\"b\"}\n", Format::Jsonl).unwrap();
        assert!(m.malformed.is_empty(), "{:?}", m.malformed);
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.rows[0].get("id"), Some("a"));
        assert_eq!(m.rows[0].line, 1);
    }

    #[test]
    fn duplicate_header_is_rejected() {
        let e = parse("id,img,img\n", Format::Csv).unwrap_err();
        assert!(e.0.contains("`img` appears twice"), "{e}");
    }

    #[test]
    fn jsonl_values_and_bad_lines() {
        let text =
            "{\"id\":\"a\",\"label\":3,\"img\":null}\nnot json\n[1]\n{\"id\":\"b\",\"x\":{}}\n";
        let m = parse(text, Format::Jsonl).unwrap();
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].get("label"), Some("3"));
        assert_eq!(m.rows[0].get("img"), None);
        let lines: Vec<usize> = m.malformed.iter().map(|b| b.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert_eq!(m.malformed[2].id, "b");
    }

    /// Property: any table of cells, quoted as RFC 4180 says, parses back to the same cells
    /// (empty → missing), with correct line numbers; and arbitrary text never panics.
    #[test]
    fn property_round_trip_and_no_panics() {
        use rand::Rng;
        const ALPHABET: &[&str] = &[
            "a", "Z", "0", " ", ",", "\"", "\n", "é", "猫", "#", ".png", "\r\n",
        ];
        let mut rng = polymodal_core::seed::rng(42, "manifest-property");
        for case in 0..500 {
            let cols = rng.random_range(1..5);
            let rows = rng.random_range(0..6);
            let header: Vec<String> = (0..cols).map(|c| format!("c{c}")).collect();
            let mut table = Vec::new();
            let mut text = header.join(",") + "\n";
            let mut line = 2;
            let mut lines = Vec::new();
            for _ in 0..rows {
                let row: Vec<String> = (0..cols)
                    .map(|_| {
                        let len = rng.random_range(0..4);
                        (0..len)
                            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                            .collect()
                    })
                    .collect();
                // A row whose only cell is empty is a blank line; CSV cannot tell them apart.
                if cols == 1 && row[0].is_empty() {
                    continue;
                }
                let quoted: Vec<String> = row
                    .iter()
                    .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                    .collect();
                lines.push(line);
                line += 1 + row.iter().map(|c| c.matches('\n').count()).sum::<usize>();
                text += &(quoted.join(",") + "\n");
                table.push(row);
            }
            let m = parse(&text, Format::Csv).unwrap();
            assert!(m.malformed.is_empty(), "case {case}: {:?}", m.malformed);
            assert_eq!(m.rows.len(), table.len(), "case {case}");
            for ((row, want), want_line) in m.rows.iter().zip(&table).zip(&lines) {
                assert_eq!(row.line, *want_line, "case {case}: {text:?}");
                for (c, w) in header.iter().zip(want) {
                    assert_eq!(
                        row.get(c),
                        (!w.is_empty()).then_some(w.as_str()),
                        "case {case}"
                    );
                }
            }
            // Random junk: any outcome but a panic.
            let extra = rng.random_range(0..4);
            let junk: String = (0..rng.random_range(0..60))
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .chain(["{", "}", ":", "["].into_iter().take(extra))
                .collect();
            let _ = parse(&junk, Format::Csv);
            let _ = parse(&junk, Format::Jsonl);
        }
    }
}
