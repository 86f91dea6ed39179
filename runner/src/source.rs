//! Fetching data and artifacts from `file://`, `pvc://`, `https://` and `s3://` locations, and
//! storing artifacts under `file://`, `pvc://` and `s3://` prefixes.
//!
//! Every read is bounded by [`SourceConfig::max_bytes`]; remote reads retry connection errors,
//! HTTP 429 and 5xx with exponential backoff. Messages and logs show locations through
//! [`redact`], so presigned query strings and credentials never appear in them.

mod civil;
mod config;
mod error;
mod http;
mod local;
mod location;
mod s3;
pub mod sigv4;

pub use config::{
    AwsEnvironment, Credentials, DEFAULT_MAX_BYTES, DEFAULT_PVC_ROOT, ENV_MAX_BYTES, ENV_PVC_ROOT,
    SourceConfig,
};
pub use error::SourceError;
pub use location::{Location, redact};

pub(crate) use civil::civil_from_days;

/// Reads the whole object at `location` (at most `config.max_bytes` bytes).
pub async fn fetch(location: &str, config: &SourceConfig) -> Result<Vec<u8>, SourceError> {
    let parsed = Location::parse(location)?;
    let shown = parsed.to_string();
    let bytes = match &parsed {
        Location::File(path) => local::read(path, None, &shown, config).await?,
        Location::Pvc { claim, components } => {
            if components.is_empty() {
                return Err(SourceError::InvalidLocation {
                    location: shown,
                    detail: "no file inside the claim: write `pvc://claim/path/to/file`".to_owned(),
                });
            }
            let (root, path) = local::pvc_paths(config, claim, components);
            local::read(&path, Some(&root), &shown, config).await?
        }
        Location::Http(url) => http::fetch(url, &shown, config).await?,
        Location::S3 { bucket, key } => s3::get(bucket, key, &shown, config).await?,
    };
    tracing::info!(location = %shown, bytes = bytes.len(), "fetched data");
    Ok(bytes)
}

/// Writes `bytes` as `file_name` under the prefix `location_prefix` and returns the URI
/// written (for example `s3://bucket/jobs/a/model.onnx`). `https://` prefixes are read-only.
pub async fn store(
    location_prefix: &str,
    file_name: &str,
    bytes: &[u8],
    config: &SourceConfig,
) -> Result<String, SourceError> {
    let prefix = Location::parse(location_prefix)?;
    if file_name.is_empty()
        || file_name == "."
        || file_name == ".."
        || file_name.contains(['/', '\\', '\0'])
    {
        return Err(SourceError::InvalidFileName {
            name: file_name.to_owned(),
        });
    }
    let target = prefix.join(file_name);
    let shown = target.to_string();
    match &target {
        Location::File(path) => local::write(path, None, bytes, &shown).await?,
        Location::Pvc { claim, components } => {
            let (root, path) = local::pvc_paths(config, claim, components);
            local::write(&path, Some(&root), bytes, &shown).await?;
        }
        Location::Http(_) => {
            return Err(SourceError::ReadOnlyScheme {
                location: redact(location_prefix),
                scheme: prefix.scheme().to_owned(),
            });
        }
        Location::S3 { bucket, key } => {
            s3::put(
                bucket,
                key,
                bytes::Bytes::copy_from_slice(bytes),
                &shown,
                config,
            )
            .await?;
        }
    }
    tracing::info!(location = %shown, bytes = bytes.len(), "stored artifact");
    Ok(shown)
}

/// [`fetch`] for callers without an async runtime. Fails (rather than blocking a runtime's
/// thread) when called from inside one.
pub fn fetch_blocking(location: &str, config: &SourceConfig) -> Result<Vec<u8>, SourceError> {
    runtime()?.block_on(fetch(location, config))
}

/// [`store`] for callers without an async runtime. Fails when called from inside one.
pub fn store_blocking(
    location_prefix: &str,
    file_name: &str,
    bytes: &[u8],
    config: &SourceConfig,
) -> Result<String, SourceError> {
    runtime()?.block_on(store(location_prefix, file_name, bytes, config))
}

fn runtime() -> Result<tokio::runtime::Runtime, SourceError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(SourceError::Client {
            detail: "the blocking API was called from inside an async runtime; call the async `fetch`/`store` instead".to_owned(),
        });
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SourceError::Client {
            detail: format!("cannot start an async runtime: {e}"),
        })
}
