//! Loading ONNX Runtime's shared library (it is not linked at build time) and opening sessions.
//! Training uses it to check and time the exported model; serving runs models with it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;

/// Environment variable naming the ONNX Runtime library file.
pub const LIBRARY_ENV: &str = "LEPTON_ORT_LIB";
/// The variable `ort` itself reads, honoured as a fallback.
pub const ORT_LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

/// Directories searched, after the runner's own directory, when no path is configured.
const SEARCH_DIRS: [&str; 5] = [
    "/usr/lib/onnxruntime",
    "/usr/local/lib",
    "/usr/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
];

/// ONNX Runtime could not be loaded or could not run a model.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, loading the library on first use from `explicit`,
/// `LEPTON_ORT_LIB`, `ORT_DYLIB_PATH`, the runner's directory or the system library directories.
pub fn environment(explicit: Option<&Path>) -> Result<&'static Environment, RuntimeError> {
    ENVIRONMENT
        .get_or_init(|| {
            let path = library_path(explicit)?;
            let builder = ort::init_from(&path).map_err(|e| {
                format!(
                    "could not load ONNX Runtime from {}: {e}; point {LIBRARY_ENV} at a libonnxruntime.so of version 1.20 or newer (the `onnxruntime` Python wheel ships one under onnxruntime/capi/)",
                    path.display()
                )
            })?;
            builder
                .with_name("lepton")
                .build()
                .map_err(|e| format!("could not start ONNX Runtime from {}: {e}", path.display()))
        })
        .as_ref()
        .map_err(|e| RuntimeError(e.clone()))
}

/// Where the library is, or a message saying how to provide it.
pub fn library_path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let configured = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(LIBRARY_ENV).map(PathBuf::from))
        .or_else(|| std::env::var_os(ORT_LIBRARY_ENV).map(PathBuf::from));
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "the ONNX Runtime library {} does not exist; set {LIBRARY_ENV} to the path of libonnxruntime.so",
                path.display()
            ))
        };
    }
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let dirs = own_dir
        .into_iter()
        .chain(SEARCH_DIRS.iter().map(PathBuf::from));
    for dir in dirs {
        if let Some(found) = find_in(&dir) {
            return Ok(found);
        }
    }
    Err(format!(
        "ONNX Runtime's shared library (libonnxruntime.so) was not found; install it (for example `pip install onnxruntime`, which ships onnxruntime/capi/libonnxruntime.so.*) and set {LIBRARY_ENV} to its path"
    ))
}

fn find_in(dir: &Path) -> Option<PathBuf> {
    let exact = dir.join("libonnxruntime.so");
    if exact.is_file() {
        return Some(exact);
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so."))
        })
        .collect();
    versioned.sort();
    versioned.pop()
}

/// A CPU session for `model` with `threads` intra-op threads.
pub fn cpu_session(
    model: &[u8],
    threads: usize,
    library: Option<&Path>,
) -> Result<Session, SessionError> {
    let env = environment(library).map_err(SessionError::Runtime)?;
    let fail = |e: &dyn std::fmt::Display| {
        SessionError::Model(format!("ONNX Runtime could not load the model: {e}"))
    };
    Session::builder(env)
        .map_err(|e| fail(&e))?
        .with_intra_threads(threads)
        .map_err(|e| fail(&e))?
        .with_inter_threads(1)
        .map_err(|e| fail(&e))?
        .commit_from_memory(model)
        .map_err(|e| fail(&e))
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The runtime itself is unavailable.
    #[error(transparent)]
    Runtime(RuntimeError),
    /// The runtime rejected the model.
    #[error("{0}")]
    Model(String),
}
