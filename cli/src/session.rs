//! A local session's directory: what `lepton run` leaves for the other commands and for the
//! user (kubeconfig, pod logs, models, the report) and how they find a running session.
//!
//! ```text
//! .lepton/
//!   session.json     the running session: pid, API server, namespace (removed at the end)
//!   kubeconfig       for kubectl and `lepton get|describe|predict`
//!   operator-config.yaml   node pools and prices the controllers used
//!   pods/NS/POD/     each pod's log and termination message
//!   artifacts/       trained models
//!   volumes/CLAIM    links to the directories given with --volume
//!   report/          report.html and its charts
//!   run.json         the last run's resources and serving figures (for `lepton report`)
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// The session directory used when none is given.
pub const DEFAULT_DIR: &str = ".lepton";

/// What `session.json` holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The process id of `lepton run`.
    pub pid: u32,
    /// The API server's URL.
    pub server: String,
    /// The namespace manifests without one went to.
    pub namespace: String,
    /// When the session started (RFC 3339).
    pub started_at: String,
}

/// The files of a session directory.
#[derive(Debug, Clone)]
pub struct SessionDir {
    /// The directory, absolute.
    pub root: PathBuf,
}

impl SessionDir {
    /// The session directory at `dir` (made absolute; not created).
    pub fn at(dir: &Path) -> SessionDir {
        let root = if dir.is_absolute() {
            dir.to_owned()
        } else {
            std::env::current_dir().unwrap_or_default().join(dir)
        };
        SessionDir { root }
    }

    /// `session.json`.
    pub fn info_file(&self) -> PathBuf {
        self.root.join("session.json")
    }

    /// The session's kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    /// The operator configuration the session's controllers use.
    pub fn operator_config(&self) -> PathBuf {
        self.root.join("operator-config.yaml")
    }

    /// Where models are written.
    pub fn artifacts(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    /// Where `pvc://CLAIM/...` resolves: `volumes/CLAIM`.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// The report's directory.
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }

    /// The record of the last run.
    pub fn record(&self) -> PathBuf {
        self.root.join("run.json")
    }

    /// The running session here, if any: `session.json` naming a live process.
    pub fn running(&self) -> Option<SessionInfo> {
        let text = std::fs::read_to_string(self.info_file()).ok()?;
        let info: SessionInfo = serde_json::from_str(&text).ok()?;
        process_alive(info.pid).then_some(info)
    }

    /// Prepares the directory for a new run: refuses when a session runs here, and clears
    /// what an earlier run left (models, logs, links) so nothing stale is read.
    pub fn prepare(&self) -> Result<(), CliError> {
        if let Some(info) = self.running() {
            return Err(CliError::Setup(format!(
                "a session is already running in {} (pid {}, since {}): stop it with Ctrl-C, or give this run another --session-dir",
                self.root.display(),
                info.pid,
                info.started_at
            )));
        }
        for stale in [
            "pods",
            "artifacts",
            "volumes",
            "report",
            "session.json",
            "run.json",
        ] {
            let path = self.root.join(stale);
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = removed
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(CliError::Setup(format!(
                    "cannot clear {}: {e}",
                    path.display()
                )));
            }
        }
        for dir in [self.root.clone(), self.artifacts(), self.volumes()] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    /// Records the running session.
    pub fn publish(&self, info: &SessionInfo) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(info).unwrap_or_default();
        std::fs::write(self.info_file(), text).map_err(|e| {
            CliError::Setup(format!("cannot write {}: {e}", self.info_file().display()))
        })
    }

    /// Marks the session ended.
    pub fn retire(&self) {
        let _ = std::fs::remove_file(self.info_file());
    }
}

/// Whether a process with this id exists (Linux `/proc`).
pub fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_of_a_dead_process_is_not_running_and_is_cleared() {
        let root = std::env::temp_dir().join(format!("lepton-session-{}", std::process::id()));
        let dir = SessionDir::at(&root);
        dir.prepare().unwrap();
        assert!(dir.running().is_none());
        let mut info = SessionInfo {
            pid: std::process::id(),
            server: "http://127.0.0.1:1".into(),
            namespace: "default".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
        };
        dir.publish(&info).unwrap();
        assert_eq!(dir.running(), Some(info.clone()));
        let refused = dir.prepare().unwrap_err().to_string();
        assert!(refused.contains("already running"), "{refused}");
        // A pid past the kernel's maximum never names a live process.
        info.pid = u32::MAX;
        dir.publish(&info).unwrap();
        assert!(dir.running().is_none());
        std::fs::write(dir.artifacts().join("old"), "x").unwrap();
        dir.prepare().unwrap();
        assert!(!dir.artifacts().join("old").exists());
        assert!(!dir.info_file().exists());
        let _ = std::fs::remove_dir_all(root);
    }
}
