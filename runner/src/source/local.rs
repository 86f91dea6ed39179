//! `file://` and `pvc://` locations: files on a local or mounted file system.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt;

use super::{SourceConfig, SourceError};

/// The file-system path of a claim's directory and of a path inside it.
pub(crate) fn pvc_paths(
    config: &SourceConfig,
    claim: &str,
    components: &[String],
) -> (PathBuf, PathBuf) {
    let claim_root = config.pvc_root.join(claim);
    let mut path = claim_root.clone();
    // Components were checked at parsing: none is empty, `.` or `..`.
    path.extend(components);
    (claim_root, path)
}

/// Fails when `path`, after resolving links, is not inside `claim_root`.
async fn ensure_inside(claim_root: &Path, path: &Path, shown: &str) -> Result<(), SourceError> {
    let (Ok(root), Ok(real)) = (
        tokio::fs::canonicalize(claim_root).await,
        tokio::fs::canonicalize(path).await,
    ) else {
        // A missing file is reported by the read or write that follows.
        return Ok(());
    };
    if real.starts_with(&root) {
        Ok(())
    } else {
        Err(SourceError::PathTraversal {
            location: shown.to_owned(),
        })
    }
}

/// Reads a file of at most `config.max_bytes` bytes.
pub(crate) async fn read(
    path: &Path,
    claim_root: Option<&Path>,
    shown: &str,
    config: &SourceConfig,
) -> Result<Vec<u8>, SourceError> {
    if let Some(root) = claim_root {
        ensure_inside(root, path, shown).await?;
    }
    let io_error = |e: std::io::Error| read_error(e, path, claim_root, shown);
    let file = tokio::fs::File::open(path).await.map_err(io_error)?;
    let metadata = file.metadata().await.map_err(io_error)?;
    if !metadata.is_file() {
        return Err(SourceError::NotAFile {
            location: shown.to_owned(),
        });
    }
    let limit = config.max_bytes;
    if metadata.len() > limit {
        return Err(SourceError::TooLarge {
            location: shown.to_owned(),
            size: Some(metadata.len()),
            limit,
        });
    }
    let mut body = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    // The file may grow between the size check and the read: read one byte past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .await
        .map_err(io_error)?;
    if body.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            location: shown.to_owned(),
            size: None,
            limit,
        });
    }
    Ok(body)
}

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, then a
/// rename), creating missing parent directories.
pub(crate) async fn write(
    path: &Path,
    claim_root: Option<&Path>,
    bytes: &[u8],
    shown: &str,
) -> Result<(), SourceError> {
    let write_error = |e: std::io::Error| SourceError::WriteFailed {
        location: shown.to_owned(),
        detail: e.to_string(),
    };
    let Some(dir) = path.parent() else {
        return Err(SourceError::WriteFailed {
            location: shown.to_owned(),
            detail: "the path has no parent directory".to_owned(),
        });
    };
    if let Some(root) = claim_root
        && tokio::fs::metadata(root).await.is_err()
    {
        return Err(SourceError::NotFound {
            location: shown.to_owned(),
            detail: format!(
                "the claim is not mounted at {}: mount the PersistentVolumeClaim there, or set LEPTON_PVC_ROOT",
                root.display()
            ),
        });
    }
    tokio::fs::create_dir_all(dir).await.map_err(write_error)?;
    if let Some(root) = claim_root {
        ensure_inside(root, dir, shown).await?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = async {
        tokio::fs::write(&temp, bytes).await?;
        tokio::fs::rename(&temp, path).await
    }
    .await;
    if let Err(error) = result {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(write_error(error));
    }
    Ok(())
}

fn read_error(
    error: std::io::Error,
    path: &Path,
    claim_root: Option<&Path>,
    shown: &str,
) -> SourceError {
    let location = shown.to_owned();
    match error.kind() {
        ErrorKind::NotFound => SourceError::NotFound {
            location,
            detail: match claim_root {
                Some(root) if !root.exists() => format!(
                    "the claim is not mounted at {}: mount the PersistentVolumeClaim there, or set LEPTON_PVC_ROOT",
                    root.display()
                ),
                _ => format!("no file at {}; check the path", path.display()),
            },
        },
        ErrorKind::PermissionDenied => SourceError::AccessDenied {
            location,
            detail: "the file is not readable by the runner's user; fix its permissions (or the pod's fsGroup)".to_owned(),
        },
        ErrorKind::IsADirectory => SourceError::NotAFile { location },
        _ => SourceError::ReadFailed {
            location,
            detail: error.to_string(),
        },
    }
}
