//! Embedding throughput of the burn port (sentences/s). Same sentences as
//! scripts/minilm/bench_reference.py, so the two numbers compare directly.
//!
//! cargo run -p polymodal-text --release --example bench_embed -- [MODEL_DIR] [N] [BATCH] [RUNS] [THREADS]
//! (MODEL_DIR "" = the default folder; THREADS defaults to all CPUs)

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Instant;

use polymodal_text::MiniLm;

/// Deterministic ~12-word sentences (10–14 words); bench_reference.py builds the same list.
fn sentences(n: usize) -> Vec<String> {
    const WORDS: [&str; 32] = [
        "the", "model", "learns", "from", "a", "small", "labelled", "set", "of", "images", "audio",
        "clips", "and", "captions", "while", "active", "learning", "picks", "which", "examples",
        "to", "annotate", "next", "so", "accuracy", "rises", "quickly", "with", "fewer", "labels",
        "overall", "today",
    ];
    (0..n)
        .map(|i| {
            let len = 10 + i % 5;
            let words: Vec<&str> = (0..len)
                .map(|j| WORDS[(i * 7 + j * 13) % WORDS.len()])
                .collect();
            format!("{}.", words.join(" "))
        })
        .collect()
}

/// Process CPU time (all threads, user + system) in seconds, from /proc/self/stat (Linux only;
/// 0 elsewhere). Reported next to wall-clock rates because on a shared machine the wall clock
/// measures the neighbours as much as this program.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks are 100 Hz on every Linux configuration this runs on.
    f.iter().sum::<f64>() / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/models/all-MiniLM-L6-v2")
        });
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(512);
    let batch: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(32);
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let threads: Option<NonZeroUsize> = args.next().map(|s| s.parse()).transpose()?;

    let t = Instant::now();
    let mut model = MiniLm::load(&dir)?;
    if let Some(t) = threads {
        model = model.with_threads(t);
    }
    let threads = threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        NonZeroUsize::get,
    );
    let load_s = t.elapsed().as_secs_f64();
    let texts = sentences(n);
    let tokens: usize = texts
        .iter()
        .map(|s| model.tokenizer().encode(s, 256).len())
        .sum();

    // Warm-up: first calls pay for allocations and page faults.
    model.embed(&texts[..batch.min(n)], batch, &mut |_| {})?;
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_seconds());
        model.embed(&texts, batch, &mut |_| {})?;
        rates.push(n as f64 / t.elapsed().as_secs_f64());
        cpu_rates.push(n as f64 / (cpu_seconds() - c).max(1e-9));
    }
    cpu_rates.sort_by(f64::total_cmp);
    let cpu_median = cpu_rates[cpu_rates.len() / 2];
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "RESULT burn-flex minilm sentences={n} batch={batch} threads={threads} mean_tokens={:.1} load_s={load_s:.2} \
         median_sps={median:.1} median_sps_per_cpu_s={cpu_median:.1} runs={:?}",
        tokens as f64 / n as f64,
        rates
            .iter()
            .map(|r| (r * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    Ok(())
}
