//! AWS Signature Version 4 for requests to S3-compatible stores (header-based, single-chunk
//! payload), as documented publicly by AWS.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Credentials;
use super::civil::civil_from_days;

/// The signing algorithm's name, as it appears in the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Hex SHA-256 of an empty payload (GET requests).
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The parts of a request that the signature covers.
#[derive(Clone, Copy, Debug)]
pub struct SignableRequest<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path exactly as sent, already URI-encoded (see [`uri_encode`]), starting with `/`.
    pub canonical_uri: &'a str,
    /// The canonical query string (sorted, encoded `name=value` pairs joined by `&`), or `""`.
    pub canonical_query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the payload (also sent as `x-amz-content-sha256`).
    pub payload_sha256: &'a str,
}

/// When, where and for which service a request is signed.
#[derive(Clone, Copy, Debug)]
pub struct SigningScope<'a> {
    /// Request time as `YYYYMMDDTHHMMSSZ` (the `x-amz-date` header).
    pub amz_date: &'a str,
    /// Region, for example `us-east-1`.
    pub region: &'a str,
    /// Service, `s3` for object stores.
    pub service: &'a str,
}

impl SigningScope<'_> {
    /// The date part (`YYYYMMDD`) of the request time.
    pub fn date(&self) -> &str {
        self.amz_date.get(..8).unwrap_or(self.amz_date)
    }

    /// The credential scope: `date/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date(),
            self.region,
            self.service
        )
    }
}

/// The canonical request: method, URI, query, canonical headers, signed header names and
/// payload hash, one per line.
pub fn canonical_request(request: &SignableRequest<'_>) -> String {
    let headers = canonical_headers(request.headers);
    let mut out = String::new();
    out.push_str(request.method);
    out.push('\n');
    out.push_str(request.canonical_uri);
    out.push('\n');
    out.push_str(request.canonical_query);
    out.push('\n');
    for (name, value) in &headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&join_names(&headers));
    out.push('\n');
    out.push_str(request.payload_sha256);
    out
}

/// The `;`-separated, sorted, lower-case names of the signed headers.
pub fn signed_headers(headers: &[(&str, &str)]) -> String {
    join_names(&canonical_headers(headers))
}

/// The string to sign: algorithm, request time, credential scope and the hash of the canonical
/// request.
pub fn string_to_sign(scope: &SigningScope<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        scope.amz_date,
        scope.credential_scope(),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key derived from the secret for one day, region and service.
pub fn signing_key(secret_access_key: &str, scope: &SigningScope<'_>) -> [u8; 32] {
    let k_date = hmac_sha256(
        format!("AWS4{secret_access_key}").as_bytes(),
        scope.date().as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The hex signature of a request.
pub fn signature(
    secret_access_key: &str,
    scope: &SigningScope<'_>,
    request: &SignableRequest<'_>,
) -> String {
    let key = signing_key(secret_access_key, scope);
    let to_sign = string_to_sign(scope, &canonical_request(request));
    hex(&hmac_sha256(&key, to_sign.as_bytes()))
}

/// The value of the `Authorization` header for a request.
pub fn authorization(
    credentials: &Credentials,
    scope: &SigningScope<'_>,
    request: &SignableRequest<'_>,
) -> String {
    format!(
        "{ALGORITHM} Credential={}/{},SignedHeaders={},Signature={}",
        credentials.access_key_id,
        scope.credential_scope(),
        signed_headers(request.headers),
        signature(&credentials.secret_access_key, scope, request)
    )
}

/// A time as `YYYYMMDDTHHMMSSZ` (UTC), the format of `x-amz-date`.
pub fn amz_date(time: SystemTime) -> String {
    // A clock before 1970 is a broken clock; signing with the epoch fails visibly at the server.
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let secs = i64::try_from(secs).unwrap_or(i64::MAX / 2);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// URI-encodes `text` as SigV4 requires: every byte except `A-Z a-z 0-9 - . _ ~` becomes
/// `%XX` (upper-case hex); `/` is kept when `keep_slash` (object keys in paths).
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The canonical query string of `pairs`: names and values encoded, sorted by name then value.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-cased names with trimmed, space-collapsed values, sorted by name; repeated names are
/// joined with `,` in their original order.
fn canonical_headers(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.len());
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
            (name.trim().to_ascii_lowercase(), value)
        })
        .collect();
    // Stable sort keeps the original order of repeated names.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in sorted {
        match out.last_mut() {
            Some(last) if last.0 == name => {
                last.1.push(',');
                last.1.push_str(&value);
            }
            _ => out.push((name, value)),
        }
    }
    out
}

fn join_names(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of every length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The published example of AWS's S3 documentation ("Signature Calculations for the
    // Authorization Header: Transferring Payload in a Single Chunk", example "GET Object").
    const EXAMPLE_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn example_credentials() -> Credentials {
        Credentials {
            access_key_id: EXAMPLE_KEY_ID.to_owned(),
            secret_access_key: EXAMPLE_SECRET.to_owned(),
            session_token: None,
        }
    }

    const GET_SCOPE: SigningScope<'static> = SigningScope {
        amz_date: "20130524T000000Z",
        region: "us-east-1",
        service: "s3",
    };

    const GET_HEADERS: [(&str, &str); 4] = [
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
        ("x-amz-date", "20130524T000000Z"),
    ];

    fn get_object() -> SignableRequest<'static> {
        SignableRequest {
            method: "GET",
            canonical_uri: "/test.txt",
            canonical_query: "",
            headers: &GET_HEADERS,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        }
    }

    #[test]
    fn get_object_canonical_request_matches_the_published_example() {
        let expected = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
            x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(canonical_request(&get_object()), expected);
    }

    #[test]
    fn get_object_string_to_sign_matches_the_published_example() {
        let to_sign = string_to_sign(&GET_SCOPE, &canonical_request(&get_object()));
        assert_eq!(
            to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
    }

    #[test]
    fn get_object_authorization_matches_the_published_example() {
        assert_eq!(
            authorization(&example_credentials(), &GET_SCOPE, &get_object()),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    // The "PUT Object" example of the same page: a key needing encoding, a payload, extra
    // headers.
    #[test]
    fn put_object_authorization_matches_the_published_example() {
        let payload = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", payload.as_str()),
        ];
        let uri = uri_encode("/test$file.text", true);
        assert_eq!(uri, "/test%24file.text");
        let request = SignableRequest {
            method: "PUT",
            canonical_uri: &uri,
            canonical_query: "",
            headers: &headers,
            payload_sha256: &payload,
        };
        assert_eq!(
            authorization(&example_credentials(), &GET_SCOPE, &request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,\
             Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    // "get-vanilla" of AWS's Signature Version 4 test suite (service `service`).
    #[test]
    fn get_vanilla_matches_the_signature_test_suite() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let request = SignableRequest {
            method: "GET",
            canonical_uri: "/",
            canonical_query: "",
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        let scope = SigningScope {
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service: "service",
        };
        assert_eq!(
            signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope, &request),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn a_different_secret_gives_a_different_signature() {
        let good = signature(EXAMPLE_SECRET, &GET_SCOPE, &get_object());
        let bad = signature("not-the-secret", &GET_SCOPE, &get_object());
        assert_ne!(good, bad);
    }

    #[test]
    fn header_canonicalisation() {
        let headers = [
            ("X-Amz-Meta-B", "  two   words "),
            ("host", "h"),
            ("x-amz-meta-b", "second"),
        ];
        let request = SignableRequest {
            method: "PUT",
            canonical_uri: "/k",
            canonical_query: "",
            headers: &headers,
            payload_sha256: "p",
        };
        assert_eq!(
            canonical_request(&request),
            "PUT\n/k\n\nhost:h\nx-amz-meta-b:two words,second\n\nhost;x-amz-meta-b\np"
        );
    }

    #[test]
    fn encoding_and_dates() {
        assert_eq!(uri_encode("a b/ü~$.csv", true), "a%20b/%C3%BC~%24.csv");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(
            canonical_query(&[("prefix", "x y"), ("list-type", "2")]),
            "list-type=2&prefix=x%20y"
        );
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600 + 3_661);
        assert_eq!(amz_date(t), "20130524T010101Z");
        assert_eq!(
            sha256_hex(b""),
            EMPTY_PAYLOAD_SHA256,
            "hash of the empty payload"
        );
    }
}
