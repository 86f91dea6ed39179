//! Parsing data locations (`file://`, `pvc://`, `http(s)://`, `s3://`) and writing them safely
//! into messages.

use std::fmt;
use std::path::PathBuf;

use super::SourceError;

/// A parsed data or artifact location.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// `file:///abs/path`: a path on the local file system, taken literally (no percent-decoding).
    File(PathBuf),
    /// `pvc://claim/path`: a path inside a PersistentVolumeClaim mounted under the PVC root.
    Pvc {
        /// Name of the claim.
        claim: String,
        /// Path components inside the claim (no empty, `.` or `..` components).
        components: Vec<String>,
    },
    /// `http://` or `https://` URL, kept as written (it may carry a presigned query string).
    Http(String),
    /// `s3://bucket/key` on an S3-compatible store.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key (or key prefix), without a leading `/`.
        key: String,
    },
}

impl Location {
    /// Parses a location URI. The error message never repeats a query string or user info.
    pub fn parse(raw: &str) -> Result<Location, SourceError> {
        let invalid = |detail: &str| SourceError::InvalidLocation {
            location: redact(raw),
            detail: detail.to_owned(),
        };
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(invalid(
                "expected `scheme://...`, for example `s3://bucket/data.csv` or `file:///data/train.csv`",
            ));
        };
        if raw.contains('\0') {
            return Err(invalid("it contains a NUL character"));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "file" => parse_file(rest).map_err(invalid),
            "pvc" => parse_pvc(rest, raw),
            "http" | "https" => parse_http(raw).map_err(|d| invalid(&d)),
            "s3" => parse_s3(rest).map_err(invalid),
            other => Err(SourceError::UnsupportedScheme {
                location: redact(raw),
                scheme: other.to_owned(),
            }),
        }
    }

    /// The scheme, as written in a URI.
    pub fn scheme(&self) -> &'static str {
        match self {
            Location::File(_) => "file",
            Location::Pvc { .. } => "pvc",
            Location::Http(url)
                if url
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https")) =>
            {
                "https"
            }
            Location::Http(_) => "http",
            Location::S3 { .. } => "s3",
        }
    }

    /// The location with `name` appended as one more path component, for writing an artifact
    /// under a prefix.
    pub(crate) fn join(&self, name: &str) -> Location {
        match self {
            Location::File(path) => Location::File(path.join(name)),
            Location::Pvc { claim, components } => {
                let mut components = components.clone();
                components.push(name.to_owned());
                Location::Pvc {
                    claim: claim.clone(),
                    components,
                }
            }
            Location::Http(url) => Location::Http(format!("{}/{name}", url.trim_end_matches('/'))),
            Location::S3 { bucket, key } => {
                let prefix = key.trim_end_matches('/');
                let key = if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                Location::S3 {
                    bucket: bucket.clone(),
                    key,
                }
            }
        }
    }
}

/// Shows the URI with user info and query string removed, so that it can go into messages and
/// logs.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "file://{}", path.display()),
            Location::Pvc { claim, components } => {
                write!(f, "pvc://{claim}/{}", components.join("/"))
            }
            Location::Http(url) => f.write_str(&redact(url)),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// Debug output is redacted like `Display`, so that a `{:?}` in a log cannot leak a presigned URL.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// A location string fit for messages and logs: user info (`user:password@`) and everything
/// from the first `?` or `#` are removed, and a removed query is shown as `?<redacted>`.
pub fn redact(raw: &str) -> String {
    let (head, had_query) = match raw.find(['?', '#']) {
        Some(at) => (
            raw.get(..at).unwrap_or(raw),
            raw.get(at..).is_some_and(|t| t.starts_with('?')),
        ),
        None => (raw, false),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => head.to_owned(),
    };
    if had_query {
        format!("{head}?<redacted>")
    } else {
        head
    }
}

fn parse_file(rest: &str) -> Result<Location, &'static str> {
    // `file:///p` has an empty host; `file://localhost/p` names this machine explicitly.
    let path = if let Some(path) = rest.strip_prefix("localhost/") {
        format!("/{path}")
    } else if rest.starts_with('/') {
        rest.to_owned()
    } else {
        return Err(
            "a file:// location needs an absolute path: write `file:///absolute/path` (three slashes)",
        );
    };
    if path.len() <= 1 {
        return Err("the path is empty: write `file:///absolute/path/to/file`");
    }
    Ok(Location::File(PathBuf::from(path)))
}

fn parse_pvc(rest: &str, raw: &str) -> Result<Location, SourceError> {
    let (claim, path) = rest.split_once('/').unwrap_or((rest, ""));
    if claim.is_empty()
        || claim.len() > 253
        || !claim
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(SourceError::InvalidLocation {
            location: redact(raw),
            detail: "the claim name must be a Kubernetes object name (lower-case letters, digits, `-`, `.`): write `pvc://claim-name/path/to/file`".to_owned(),
        });
    }
    let mut components = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(SourceError::PathTraversal {
                    location: redact(raw),
                });
            }
            other => components.push(other.to_owned()),
        }
    }
    Ok(Location::Pvc {
        claim: claim.to_owned(),
        components,
    })
}

fn parse_http(raw: &str) -> Result<Location, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    Ok(Location::Http(raw.to_owned()))
}

fn parse_s3(rest: &str) -> Result<Location, &'static str> {
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !bucket_ok {
        return Err(
            "the bucket name must be 3-63 lower-case letters, digits, `-` or `.`: write `s3://bucket/path/to/key`",
        );
    }
    // Dot segments would be resolved away by URL parsing and break the request signature.
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("S3 keys with `.` or `..` path segments are not supported: rename the object");
    }
    Ok(Location::S3 {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}
