//! Settings of fetching and storing: limits, retries, the PVC root and object-store access.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lepton_crds::v1alpha1::S3Options;

use super::SourceError;

/// Where PersistentVolumeClaims are mounted in a runner pod, one directory per claim.
pub const DEFAULT_PVC_ROOT: &str = "/mnt/pvc";

/// Default limit on the bytes read from one location (2 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// Environment variable overriding [`SourceConfig::pvc_root`].
pub const ENV_PVC_ROOT: &str = "LEPTON_PVC_ROOT";

/// Environment variable overriding [`SourceConfig::max_bytes`] (bytes, or with a `Ki`, `Mi`,
/// `Gi` suffix).
pub const ENV_MAX_BYTES: &str = "LEPTON_MAX_DATA_BYTES";

/// Settings for [`fetch`](super::fetch) and [`store`](super::store).
#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// Directory under which each claim is mounted as `<pvc_root>/<claim>/`. Default
    /// `/mnt/pvc`, or `LEPTON_PVC_ROOT`.
    pub pvc_root: PathBuf,
    /// Most bytes read from one location; larger data fails with `DataTooLarge`. Default 2 GiB,
    /// or `LEPTON_MAX_DATA_BYTES`.
    pub max_bytes: u64,
    /// Retries after a connection error, HTTP 429 or 5xx (so `retries + 1` attempts). Default 3.
    pub retries: u32,
    /// Limit on one whole request, body included. Default 10 minutes.
    pub timeout: Duration,
    /// Limit on establishing a connection. Default 10 seconds.
    pub connect_timeout: Duration,
    /// Wait before the first retry; doubled for each further one. Default 500 ms.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts, also the cap on a server's `Retry-After`. Default 30 s.
    pub max_backoff: Duration,
    /// Object-store settings from the resource's spec (`data.s3` or `output.s3`); they take
    /// precedence over the environment.
    pub s3: S3Options,
    /// Object-store settings from the runner's environment.
    pub aws: AwsEnvironment,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            pvc_root: PathBuf::from(DEFAULT_PVC_ROOT),
            max_bytes: DEFAULT_MAX_BYTES,
            retries: 3,
            timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            s3: S3Options::default(),
            aws: AwsEnvironment::default(),
        }
    }
}

impl SourceConfig {
    /// The defaults, overridden by the process environment (`LEPTON_PVC_ROOT`,
    /// `LEPTON_MAX_DATA_BYTES`, `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    pub fn from_env() -> Result<SourceConfig, SourceError> {
        SourceConfig::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`SourceConfig::from_env`], reading variables through `var` (which lets tests supply
    /// an environment without touching the process's).
    pub fn from_env_with(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<SourceConfig, SourceError> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = SourceConfig::default();
        if let Some(root) = set(ENV_PVC_ROOT) {
            config.pvc_root = PathBuf::from(root);
        }
        if let Some(limit) = set(ENV_MAX_BYTES) {
            config.max_bytes = parse_byte_size(&limit).ok_or_else(|| SourceError::InvalidConfig {
                setting: ENV_MAX_BYTES.to_owned(),
                detail: format!(
                    "`{limit}` is not a size: write a positive number of bytes, optionally with Ki, Mi or Gi (for example 512Mi)"
                ),
            })?;
        }
        config.aws.endpoint = set("AWS_ENDPOINT_URL");
        config.aws.region = set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION"));
        config.aws.credentials = match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(Credentials {
                access_key_id,
                secret_access_key,
                session_token: set("AWS_SESSION_TOKEN"),
            }),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(SourceError::InvalidConfig {
                    setting: "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY".to_owned(),
                    detail: "only one of the two is set: set both, or neither for anonymous access"
                        .to_owned(),
                });
            }
        };
        Ok(config)
    }

    /// This configuration with the object-store settings of a spec (`data.s3` or `output.s3`).
    pub fn with_s3(mut self, s3: Option<&S3Options>) -> SourceConfig {
        self.s3 = s3.cloned().unwrap_or_default();
        self
    }

    /// The endpoint to use: `s3.endpoint`, else `AWS_ENDPOINT_URL`, else none (AWS S3).
    pub fn s3_endpoint(&self) -> Option<&str> {
        self.s3.endpoint.as_deref().or(self.aws.endpoint.as_deref())
    }

    /// The region to sign for: `s3.region`, else `AWS_REGION`, else `us-east-1`.
    pub fn s3_region(&self) -> &str {
        self.s3
            .region
            .as_deref()
            .or(self.aws.region.as_deref())
            .unwrap_or("us-east-1")
    }

    /// Whether buckets are addressed as `endpoint/bucket/key`: `s3.forcePathStyle`, else true
    /// exactly when an endpoint is set.
    pub fn s3_path_style(&self) -> bool {
        self.s3
            .force_path_style
            .unwrap_or_else(|| self.s3_endpoint().is_some())
    }
}

/// Object-store settings found in the runner's environment.
#[derive(Clone, Debug, Default)]
pub struct AwsEnvironment {
    /// `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; `None` sends
    /// unsigned (anonymous) requests.
    pub credentials: Option<Credentials>,
}

/// Credentials for signing object-store requests.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not secret, but kept out of messages anyway).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// A temporary session token, sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

/// Never prints the secret or the token, so a `{:?}` of a configuration is safe to log.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Parses `1048576`, `512Mi`, `2Gi`, `64Ki` (binary suffixes, optionally followed by `B`).
fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.strip_suffix('B').unwrap_or(text);
    let (digits, shift) = if let Some(d) = text.strip_suffix("Ki") {
        (d, 10)
    } else if let Some(d) = text.strip_suffix("Mi") {
        (d, 20)
    } else if let Some(d) = text.strip_suffix("Gi") {
        (d, 30)
    } else if let Some(d) = text.strip_suffix("Ti") {
        (d, 40)
    } else {
        (text, 0)
    };
    let value: u64 = digits.trim().parse().ok()?;
    if value == 0 {
        return None;
    }
    value.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("1024"), Some(1024));
        assert_eq!(parse_byte_size("2Gi"), Some(2 << 30));
        assert_eq!(parse_byte_size(" 512MiB "), Some(512 << 20));
        assert_eq!(parse_byte_size("0"), None);
        assert_eq!(parse_byte_size("-1"), None);
        assert_eq!(parse_byte_size("lots"), None);
        assert_eq!(parse_byte_size("99999999999Ti"), None);
    }

    #[test]
    fn environment_overrides_defaults() {
        let config = SourceConfig::from_env_with(env(&[
            ("LEPTON_PVC_ROOT", "/volumes"),
            ("LEPTON_MAX_DATA_BYTES", "64Mi"),
            ("AWS_ENDPOINT_URL", "http://minio:9000"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        assert_eq!(config.pvc_root, PathBuf::from("/volumes"));
        assert_eq!(config.max_bytes, 64 << 20);
        assert_eq!(config.s3_endpoint(), Some("http://minio:9000"));
        assert_eq!(config.s3_region(), "eu-west-1");
        assert!(config.s3_path_style());
        let creds = config.aws.credentials.clone().unwrap();
        assert_eq!(creds.secret_access_key, "secret");
        assert_eq!(creds.session_token, None);
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret\""), "{debug}");
    }

    #[test]
    fn spec_wins_over_environment() {
        let config = SourceConfig::from_env_with(env(&[
            ("AWS_ENDPOINT_URL", "http://env:9000"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap()
        .with_s3(Some(&S3Options {
            endpoint: Some("https://spec:9000".into()),
            region: Some("ap-south-1".into()),
            force_path_style: Some(false),
            credentials_secret: None,
        }));
        assert_eq!(config.s3_endpoint(), Some("https://spec:9000"));
        assert_eq!(config.s3_region(), "ap-south-1");
        assert!(!config.s3_path_style());
        let bare = SourceConfig::default();
        assert_eq!(bare.s3_region(), "us-east-1");
        assert!(!bare.s3_path_style());
    }

    #[test]
    fn bad_environment_is_an_error() {
        let err =
            SourceConfig::from_env_with(env(&[("LEPTON_MAX_DATA_BYTES", "big")])).unwrap_err();
        assert_eq!(err.reason(), "InvalidConfig");
        assert!(err.to_string().contains("LEPTON_MAX_DATA_BYTES"));
        let err = SourceConfig::from_env_with(env(&[("AWS_ACCESS_KEY_ID", "id")])).unwrap_err();
        assert_eq!(err.reason(), "InvalidConfig");
    }
}
