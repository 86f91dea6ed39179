//! Helpers shared by the runner's training tests: where the repository, the example data, the
//! test Python and ONNX Runtime's library are.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the runner crate sits in the repository")
        .to_path_buf()
}

/// `file://` URI of an example data file.
pub fn example_data(name: &str) -> String {
    format!(
        "file://{}",
        repo_root().join("examples/data").join(name).display()
    )
}

/// The Python with onnx, onnxruntime and moto (`make python-env` creates it).
pub fn python() -> PathBuf {
    let path = std::env::var_os("LEPTON_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run `make python-env` (it installs requirements-test.txt)",
        path.display()
    );
    path
}

/// ONNX Runtime's shared library: `LEPTON_ORT_LIB`, or the one in the test Python's wheel.
pub fn ort_library() -> PathBuf {
    if let Some(path) = std::env::var_os("LEPTON_ORT_LIB") {
        return PathBuf::from(path);
    }
    let output = Command::new(python())
        .args(["-c", "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))"])
        .output()
        .expect("the test Python runs");
    assert!(
        output.status.success(),
        "onnxruntime is not installed in the test Python: run `make python-env`"
    );
    let capi = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    std::fs::read_dir(&capi)
        .expect("onnxruntime/capi exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .unwrap_or_else(|| panic!("no libonnxruntime.so in {}", capi.display()))
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `target/test-tmp/<name>-<pid>-<n>`.
    pub fn new(name: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = repo_root()
            .join("target/test-tmp")
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        Self(dir)
    }

    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `file://` URI of a path inside.
    pub fn uri(&self, name: &str) -> String {
        format!("file://{}", self.0.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
