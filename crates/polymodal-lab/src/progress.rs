//! Progress of long work (simulations, comparisons, labelling rounds), reported to whoever
//! called: the binary draws bars, tests stay silent. Training's per-epoch progress goes through
//! `polymodal_train::TrainObserver` instead.

/// Steps of one long job. Called from worker threads, hence `Sync`.
pub trait Progress: Sync {
    /// A job of `total` steps starts.
    fn start(&self, _label: &str, _total: u64) {}
    /// One step finished (or was found finished on resume); `message` says which.
    fn advance(&self, _message: &str) {}
    /// `pos` steps are done (for jobs that report counts rather than steps).
    fn set_position(&self, _pos: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}
