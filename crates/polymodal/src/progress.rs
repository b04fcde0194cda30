//! Progress bars for training (indicatif), drawn on stderr; hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use polymodal_train::{EpochMetrics, TrainObserver};

/// One bar per epoch, advanced per batch with the running loss: shared by the classifier's
/// training and the self-supervised pretraining.
#[derive(Default)]
pub struct EpochBar(Option<ProgressBar>);

impl EpochBar {
    pub fn start(&mut self, prefix: String, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches {msg} ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(prefix);
        self.0 = Some(bar);
    }

    pub fn batch(&self, loss: f32) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("loss {loss:.3}"));
            bar.inc(1);
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// Per-batch bars during training (the library logs each finished epoch).
#[derive(Default)]
pub struct BarObserver(EpochBar);

impl BarObserver {
    pub fn new() -> Self {
        Self::default()
    }
}

impl TrainObserver for BarObserver {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.0.start(format!("epoch {epoch}/{epochs}"), batches);
    }

    fn on_batch(&mut self, _epoch: usize, _batch: usize, loss: f32) {
        self.0.batch(loss);
    }

    fn on_epoch_end(&mut self, _m: &EpochMetrics) {
        self.0.finish();
    }
}

/// indicatif bars for the lab's long jobs (simulation rounds, comparison cells, embeddings).
pub struct Bars {
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            bar: std::sync::Mutex::new(None),
        }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(guard) = self.bar.lock() {
            if let Some(bar) = guard.as_ref() {
                f(bar);
            }
        }
    }
}

impl polymodal_lab::progress::Progress for Bars {
    fn start(&self, label: &str, total: u64) {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{label} [{{bar:30}}] {{pos}}/{{len}} {{msg}} ({{elapsed}}, eta {{eta}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        if let Ok(mut guard) = self.bar.lock() {
            *guard = Some(bar);
        }
    }

    fn advance(&self, message: &str) {
        self.with(|bar| {
            if !message.is_empty() {
                bar.set_message(message.to_string());
                // The bar is hidden when stderr is not a terminal: keep a log line then.
                if bar.is_hidden() {
                    tracing::info!("{message}");
                }
            }
            bar.inc(1);
        });
    }

    fn set_position(&self, pos: u64) {
        self.with(|bar| bar.set_position(pos));
    }

    fn finish(&self) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }
}
