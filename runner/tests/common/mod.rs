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

/// moto's S3-compatible server, running until dropped.
pub struct MotoServer {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl MotoServer {
    /// Starts moto's standalone server on a free port.
    pub fn start() -> Self {
        use std::io::{BufRead, BufReader};
        let script = "import sys, threading\nfrom moto.server import main\nthreading.Thread(target=main, args=(['-p0'],), daemon=True).start()\nsys.stdin.read()\n";
        let mut child = Command::new(python())
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the test Python starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            // Drain every line so that moto's request log never fills the pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(at) = line.find("http://127.0.0.1:") {
                    let port: String = line[at + 17..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let _ = tx.send(port);
                    sent = true;
                }
            }
        });
        let port = rx.recv_timeout(std::time::Duration::from_secs(60)).expect(
            "moto's server reports its port (run `make python-env` to install moto[server])",
        );
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Turns request authentication on: from now on only keys of IAM users moto knows work.
    pub fn require_authentication(&self) {
        let script = format!(
            "import urllib.request\nurllib.request.urlopen(urllib.request.Request({:?}, data=b'0', method='POST', headers={{'Content-Type': 'application/json'}})).read()",
            format!("{}/moto-api/reset-auth", self.endpoint)
        );
        let status = Command::new(python())
            .args(["-c", &script])
            .status()
            .expect("python runs");
        assert!(status.success(), "moto's reset-auth failed");
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
