//! GetObject and PutObject on S3-compatible stores, signed with [`super::sigv4`].

use std::time::SystemTime;

use bytes::Bytes;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};

use super::http::{self, Failure};
use super::sigv4::{self, SignableRequest, SigningScope};
use super::{SourceConfig, SourceError};

/// Most bytes of an error answer read to find its `<Code>`.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// The URL of an object and the parts of it that are signed.
struct ObjectUrl {
    url: Url,
    /// `host` or `host:port`, as the HTTP client will send it.
    host: String,
    /// The encoded path, as sent.
    path: String,
}

fn object_url(config: &SourceConfig, bucket: &str, key: &str) -> Result<ObjectUrl, SourceError> {
    let region = config.s3_region();
    let (base, setting) = match config.s3_endpoint() {
        Some(endpoint) => (
            endpoint.trim_end_matches('/').to_owned(),
            if config.s3.endpoint.is_some() {
                "s3.endpoint"
            } else {
                "AWS_ENDPOINT_URL"
            },
        ),
        None => (format!("https://s3.{region}.amazonaws.com"), "s3.region"),
    };
    let invalid = |detail: String| SourceError::InvalidConfig {
        setting: setting.to_owned(),
        detail,
    };
    let mut url = Url::parse(&base).map_err(|e| {
        invalid(format!(
            "`{base}` is not a URL ({e}): write it like https://minio.example:9000"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(format!(
            "`{base}` must be an http:// or https:// URL with a host"
        )));
    }
    let encoded_key = sigv4::uri_encode(key, true);
    let prefix = url.path().trim_end_matches('/').to_owned();
    // A dotted bucket name does not match a TLS wildcard certificate as a host label.
    let path_style = config.s3_path_style() || bucket.contains('.');
    let path = if path_style {
        format!("{prefix}/{bucket}/{encoded_key}")
    } else {
        let host = url.host_str().unwrap_or_default().to_owned();
        url.set_host(Some(&format!("{bucket}.{host}")))
            .map_err(|e| invalid(format!("cannot address bucket `{bucket}` on it ({e})")))?;
        format!("{prefix}/{encoded_key}")
    };
    url.set_path(&path);
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(invalid(format!("`{base}` has no host"))),
    };
    // Read the path back, so the signature covers exactly what is sent.
    let path = url.path().to_owned();
    Ok(ObjectUrl { url, host, path })
}

/// A request with the SigV4 headers for `payload_sha256`, or an unsigned one without
/// credentials.
fn signed(
    client: &Client,
    config: &SourceConfig,
    method: Method,
    target: &ObjectUrl,
    payload_sha256: &str,
) -> RequestBuilder {
    let request = client.request(method.clone(), target.url.clone());
    let Some(credentials) = &config.aws.credentials else {
        return request;
    };
    let amz_date = sigv4::amz_date(SystemTime::now());
    let mut headers: Vec<(&str, &str)> = vec![
        ("host", &target.host),
        ("x-amz-content-sha256", payload_sha256),
        ("x-amz-date", &amz_date),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let scope = SigningScope {
        amz_date: &amz_date,
        region: config.s3_region(),
        service: "s3",
    };
    let authorization = sigv4::authorization(
        credentials,
        &scope,
        &SignableRequest {
            method: method.as_str(),
            canonical_uri: &target.path,
            canonical_query: "",
            headers: &headers,
            payload_sha256,
        },
    );
    // `host` is set by the client from the URL, identically to the signed value.
    let mut request = request.header("authorization", authorization);
    for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
        request = request.header(*name, *value);
    }
    request
}

/// Downloads `s3://bucket/key`.
pub(crate) async fn get(
    bucket: &str,
    key: &str,
    shown: &str,
    config: &SourceConfig,
) -> Result<Vec<u8>, SourceError> {
    if key.is_empty() {
        return Err(SourceError::InvalidLocation {
            location: shown.to_owned(),
            detail: "the key is empty: write `s3://bucket/path/to/object`".to_owned(),
        });
    }
    let target = object_url(config, bucket, key)?;
    let client = http::client(config, false)?;
    http::with_retries(config, shown, |n| {
        let request = signed(
            &client,
            config,
            Method::GET,
            &target,
            sigv4::EMPTY_PAYLOAD_SHA256,
        );
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| http::send_failure(e, config, shown, n))?;
            if response.status().is_success() {
                return http::read_limited(response, config.max_bytes, config, shown, n).await;
            }
            Err(error_answer(response, bucket, shown, config, n).await)
        }
    })
    .await
}

/// Uploads `body` to `s3://bucket/key` with one PutObject.
pub(crate) async fn put(
    bucket: &str,
    key: &str,
    body: Bytes,
    shown: &str,
    config: &SourceConfig,
) -> Result<(), SourceError> {
    let target = object_url(config, bucket, key)?;
    let client = http::client(config, false)?;
    let payload_sha256 = sigv4::sha256_hex(&body);
    http::with_retries(config, shown, |n| {
        let request =
            signed(&client, config, Method::PUT, &target, &payload_sha256).body(body.clone());
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| http::send_failure(e, config, shown, n))?;
            if response.status().is_success() {
                return Ok(());
            }
            Err(error_answer(response, bucket, shown, config, n).await)
        }
    })
    .await
}

/// Maps an error answer to an error, reading the S3 `<Code>` from its XML body.
async fn error_answer(
    response: Response,
    bucket: &str,
    shown: &str,
    config: &SourceConfig,
    n: u32,
) -> Failure {
    let status = response.status();
    let retry_after = http::retry_after(&response);
    // The body of SignatureDoesNotMatch repeats the string to sign; only the code is kept.
    let code = match http::read_limited(response, ERROR_BODY_LIMIT, config, shown, n).await {
        Ok(body) => error_code(&body),
        Err(_) => None,
    };
    let error = s3_error(status, code.as_deref(), bucket, shown, config, n);
    if http::retryable(status) {
        Failure::Retry { error, retry_after }
    } else {
        Failure::Fatal(error)
    }
}

fn s3_error(
    status: StatusCode,
    code: Option<&str>,
    bucket: &str,
    shown: &str,
    config: &SourceConfig,
    attempts: u32,
) -> SourceError {
    let location = shown.to_owned();
    match (status.as_u16(), code) {
        (_, Some("NoSuchKey")) | (404, None) => SourceError::S3NoSuchKey { location },
        (_, Some("NoSuchBucket")) => SourceError::S3NoSuchBucket {
            location,
            bucket: bucket.to_owned(),
        },
        (
            _,
            Some(
                code @ ("PermanentRedirect"
                | "AuthorizationHeaderMalformed"
                | "IllegalLocationConstraintException"),
            ),
        )
        | (301, Some(code)) => SourceError::S3WrongRegion {
            location,
            region: config.s3_region().to_owned(),
            code: code.to_owned(),
        },
        (301, None) => SourceError::S3WrongRegion {
            location,
            region: config.s3_region().to_owned(),
            code: "PermanentRedirect".to_owned(),
        },
        (401 | 403, code) => SourceError::S3AccessDenied {
            location,
            code: code.unwrap_or("AccessDenied").to_owned(),
        },
        (status, code) => SourceError::S3Error {
            location,
            status,
            code: code.unwrap_or("-").to_owned(),
            attempts,
        },
    }
}

/// The text of the first `<Code>` element, if it is a plain identifier.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let rest = text.get(start..)?;
    let code = rest.get(..rest.find("</Code>")?)?.trim();
    let plain = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
    plain.then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lepton_crds::v1alpha1::S3Options;

    fn config(endpoint: Option<&str>, path_style: Option<bool>) -> SourceConfig {
        SourceConfig::default().with_s3(Some(&S3Options {
            endpoint: endpoint.map(str::to_owned),
            region: Some("eu-west-1".to_owned()),
            force_path_style: path_style,
            credentials_secret: None,
        }))
    }

    #[test]
    fn addressing() {
        let aws = object_url(&config(None, None), "bucket", "dir/a b.csv").unwrap();
        assert_eq!(
            aws.url.as_str(),
            "https://bucket.s3.eu-west-1.amazonaws.com/dir/a%20b.csv"
        );
        assert_eq!(aws.host, "bucket.s3.eu-west-1.amazonaws.com");
        assert_eq!(aws.path, "/dir/a%20b.csv");

        let minio = object_url(&config(Some("http://minio:9000/"), None), "bucket", "k").unwrap();
        assert_eq!(minio.url.as_str(), "http://minio:9000/bucket/k");
        assert_eq!(minio.host, "minio:9000");

        let vhost = object_url(
            &config(Some("https://store.example"), Some(false)),
            "b-1",
            "k",
        )
        .unwrap();
        assert_eq!(vhost.url.as_str(), "https://b-1.store.example/k");
        assert_eq!(vhost.host, "b-1.store.example");

        let dotted = object_url(&config(None, None), "my.bucket", "k").unwrap();
        assert_eq!(
            dotted.url.as_str(),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
        );

        let err = object_url(&config(Some("minio:9000"), None), "bucket", "k")
            .err()
            .unwrap();
        assert_eq!(err.reason(), "InvalidConfig");
        assert!(err.to_string().contains("s3.endpoint"), "{err}");
    }

    #[test]
    fn error_codes() {
        let body =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>x</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchKey"));
        assert_eq!(error_code(b"<Code></Code>"), None);
        assert_eq!(error_code(b"<Code>a<b</Code>"), None);
        assert_eq!(error_code(b"not xml"), None);
        assert_eq!(error_code(&[0xff, 0xfe]), None);
        let c = config(None, None);
        let reason = |status: u16, code: Option<&str>| {
            s3_error(
                StatusCode::from_u16(status).unwrap(),
                code,
                "b",
                "s3://b/k",
                &c,
                1,
            )
            .reason()
        };
        assert_eq!(reason(404, Some("NoSuchKey")), "S3NoSuchKey");
        assert_eq!(reason(404, None), "S3NoSuchKey");
        assert_eq!(reason(404, Some("NoSuchBucket")), "S3NoSuchBucket");
        assert_eq!(reason(403, Some("SignatureDoesNotMatch")), "S3AccessDenied");
        assert_eq!(reason(403, Some("InvalidAccessKeyId")), "S3AccessDenied");
        assert_eq!(reason(301, None), "S3WrongRegion");
        assert_eq!(
            reason(400, Some("AuthorizationHeaderMalformed")),
            "S3WrongRegion"
        );
        assert_eq!(reason(503, Some("SlowDown")), "S3Error");
    }
}
