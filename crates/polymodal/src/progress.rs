//! Progress bars for training (indicatif), drawn on stderr; hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use polymodal_train::{EpochMetrics, TrainObserver};

pub struct BarObserver {
    bar: Option<ProgressBar>,
    modality_names: Vec<String>,
}

impl BarObserver {
    pub fn new(modality_names: Vec<String>) -> Self {
        Self {
            bar: None,
            modality_names,
        }
    }
}

impl TrainObserver for BarObserver {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches {msg} ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn on_batch(&mut self, _epoch: usize, _batch: usize, loss: f32) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {loss:.3}"));
            bar.inc(1);
        }
    }

    fn on_epoch_end(&mut self, m: &EpochMetrics) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let per: Vec<String> = self
            .modality_names
            .iter()
            .zip(&m.val_modality_accuracy)
            .map(|(n, a)| format!("{n} {a:.4}"))
            .collect();
        tracing::info!(
            "epoch {:>2}: train loss {:.4} acc {:.4} | val acc {:.4} ({}) | {:.0} samples/s{}",
            m.epoch,
            m.train_loss,
            m.train_accuracy,
            m.val_accuracy,
            per.join(", "),
            m.samples_per_second,
            if m.is_best { " | best" } else { "" }
        );
    }
}
