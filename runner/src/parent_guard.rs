//! Exiting with the program that started the runner. Lepton's local mode starts the runner as
//! a child process and names itself in `LEPTON_EXIT_WITH_PARENT`; the runner then exits as
//! soon as its parent changes (the parent died and the process was re-parented), so a killed
//! `lepton run` never leaves a model server or a training run behind. In a pod the variable is
//! not set and nothing is watched.

use std::time::Duration;

/// The variable naming the parent's process id.
pub const ENV: &str = "LEPTON_EXIT_WITH_PARENT";

/// How often the parent is checked.
const PERIOD: Duration = Duration::from_millis(250);

/// The exit status when the parent is gone: 128 + SIGHUP, as for a process whose terminal
/// went away.
const EXIT_STATUS: i32 = 129;

/// Starts the watch when `LEPTON_EXIT_WITH_PARENT` names a process id.
pub fn watch_from_env() {
    let Some(expected) = std::env::var(ENV).ok().and_then(|v| v.parse::<u32>().ok()) else {
        return;
    };
    if std::os::unix::process::parent_id() != expected {
        // Started by something else (or the parent is already gone): nothing to follow.
        if std::os::unix::process::parent_id() == 1 {
            std::process::exit(EXIT_STATUS);
        }
        return;
    }
    let _ = std::thread::Builder::new()
        .name("parent-guard".into())
        .spawn(move || {
            loop {
                std::thread::sleep(PERIOD);
                if std::os::unix::process::parent_id() != expected {
                    eprintln!(
                        "the program that started this runner (pid {expected}) is gone; exiting"
                    );
                    std::process::exit(EXIT_STATUS);
                }
            }
        });
}
