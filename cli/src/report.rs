//! The report of a run or a session, drawn by `lepton-report`.

use std::path::{Path, PathBuf};

use lepton_report::RunRecord;

/// Writes `report.html` and its charts into `dir`; returns the files written.
pub fn write(record: &RunRecord, dir: &Path) -> Result<Vec<PathBuf>, String> {
    lepton_report::write(record, dir).map_err(|e| e.to_string())
}
