//! Ctrl-C, SIGTERM and SIGHUP: the first asks the run to stop and clean up; a second one
//! while it does exits at once (the runner processes follow, as they exit with their parent).

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Starts listening; the receiver turns `true` at the first signal.
pub fn listen() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        for round in 0..2 {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            if round == 0 {
                let _ = tx.send(true);
            } else {
                eprintln!("stopping now");
                std::process::exit(130);
            }
        }
    });
    rx
}
