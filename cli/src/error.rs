//! The errors of the `lepton` command and the exit status each gives.

use std::process::ExitCode;

/// Why a command did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// A manifest is invalid or cannot run here; nothing was started (exit status 2).
    #[error("{0}")]
    Input(String),
    /// Something the command needs on this machine is missing (exit status 1).
    #[error("{0}")]
    Setup(String),
    /// The API server or a model server did not answer as expected (exit status 1).
    #[error("{0}")]
    Remote(String),
    /// The pipeline ran and something in it failed; the summary was printed (exit status 1).
    #[error("{0}")]
    Failed(String),
    /// Stopped by Ctrl-C or SIGTERM (exit status 130).
    #[error("interrupted")]
    Interrupted,
}

impl CliError {
    /// A command-line error.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// The exit status the command ends with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) | CliError::Input(_) => ExitCode::from(2),
            CliError::Interrupted => ExitCode::from(130),
            _ => ExitCode::FAILURE,
        }
    }
}

impl From<kube::Error> for CliError {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => CliError::Remote(status.message),
            other => CliError::Remote(other.to_string()),
        }
    }
}
