//! Fetching and storing through every scheme: file and pvc on a temporary directory, http
//! against a small local server, s3 against moto's S3-compatible server.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use lepton_crds::v1alpha1::S3Options;
use lepton_runner::source::sigv4::{self, SignableRequest, SigningScope};
use lepton_runner::source::{Credentials, SourceConfig, SourceError, fetch, fetch_blocking, store};
use lepton_runner::table::{ColumnData, ReadOptions, read_table};

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("data_sources")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn quick_config() -> SourceConfig {
    SourceConfig {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..SourceConfig::default()
    }
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

mod local {
    use super::*;

    #[tokio::test]
    async fn file_read_and_errors() {
        let dir = temp_dir("file_read");
        let path = dir.join("train.csv");
        fs::write(&path, "a,b\n1,2\n").unwrap();
        let config = quick_config();
        assert_eq!(
            fetch(&file_uri(&path), &config).await.unwrap(),
            b"a,b\n1,2\n"
        );

        let err = fetch(&file_uri(&dir.join("nope.csv")), &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "DataNotFound");
        assert!(err.to_string().contains("nope.csv"), "{err}");

        let err = fetch(&file_uri(&dir), &config).await.unwrap_err();
        assert_eq!(err.reason(), "NotAFile", "{err}");

        let small = SourceConfig {
            max_bytes: 4,
            ..quick_config()
        };
        let err = fetch(&file_uri(&path), &small).await.unwrap_err();
        assert_eq!(err.reason(), "DataTooLarge");
        assert!(err.to_string().contains("8 bytes"), "{err}");
        assert!(err.to_string().contains("LEPTON_MAX_DATA_BYTES"), "{err}");

        let err = fetch("file://relative/train.csv", &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "InvalidLocation");
        assert!(err.to_string().contains("file:///"), "{err}");
    }

    #[test]
    fn blocking_wrapper_reads_files() {
        let dir = temp_dir("blocking");
        let path = dir.join("x.csv");
        fs::write(&path, "x\n1\n").unwrap();
        assert_eq!(
            fetch_blocking(&file_uri(&path), &quick_config()).unwrap(),
            b"x\n1\n"
        );
    }

    #[tokio::test]
    async fn blocking_wrapper_refuses_inside_a_runtime() {
        let err = fetch_blocking("file:///nothing", &quick_config()).unwrap_err();
        assert_eq!(err.reason(), "HttpClientError");
        assert!(err.to_string().contains("async"), "{err}");
    }

    #[tokio::test]
    async fn file_store_round_trip() {
        let dir = temp_dir("file_store");
        let prefix = file_uri(&dir.join("jobs/a"));
        let config = quick_config();
        let uri = store(&prefix, "model.json", b"{}", &config).await.unwrap();
        assert_eq!(uri, format!("{prefix}/model.json"));
        assert_eq!(fetch(&uri, &config).await.unwrap(), b"{}");
        // Overwriting replaces the file whole.
        store(&prefix, "model.json", b"{\"v\":2}", &config)
            .await
            .unwrap();
        assert_eq!(fetch(&uri, &config).await.unwrap(), b"{\"v\":2}");
        let leftovers: Vec<_> = fs::read_dir(dir.join("jobs/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");

        for bad in ["", "..", "a/b", "."] {
            let err = store(&prefix, bad, b"x", &config).await.unwrap_err();
            assert_eq!(err.reason(), "InvalidFileName", "{bad:?}");
        }
    }

    #[tokio::test]
    async fn pvc_read_store_and_traversal() {
        let root = temp_dir("pvc");
        let claim = root.join("datasets");
        fs::create_dir_all(claim.join("credit")).unwrap();
        fs::write(claim.join("credit/train.csv"), "x\n1\n").unwrap();
        fs::write(root.join("outside.csv"), "secret\n").unwrap();
        let config = SourceConfig {
            pvc_root: root.clone(),
            ..quick_config()
        };

        let bytes = fetch("pvc://datasets/credit/train.csv", &config)
            .await
            .unwrap();
        assert_eq!(bytes, b"x\n1\n");
        let bytes = fetch("pvc://datasets//credit/./train.csv", &config)
            .await
            .unwrap();
        assert_eq!(bytes, b"x\n1\n");

        for escape in [
            "pvc://datasets/../outside.csv",
            "pvc://datasets/credit/../../outside.csv",
        ] {
            let err = fetch(escape, &config).await.unwrap_err();
            assert_eq!(err.reason(), "PathTraversal", "{escape}");
        }
        std::os::unix::fs::symlink(root.join("outside.csv"), claim.join("link.csv")).unwrap();
        let err = fetch("pvc://datasets/link.csv", &config).await.unwrap_err();
        assert_eq!(err.reason(), "PathTraversal", "a link out of the claim");

        let err = fetch("pvc://unmounted/train.csv", &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "DataNotFound");
        assert!(err.to_string().contains("LEPTON_PVC_ROOT"), "{err}");

        let err = fetch("pvc://Bad_Claim/x.csv", &config).await.unwrap_err();
        assert_eq!(err.reason(), "InvalidLocation");

        let uri = store("pvc://datasets/out/job-1", "model.onnx", b"onnx", &config)
            .await
            .unwrap();
        assert_eq!(uri, "pvc://datasets/out/job-1/model.onnx");
        assert_eq!(
            fs::read(claim.join("out/job-1/model.onnx")).unwrap(),
            b"onnx"
        );
        let err = store("pvc://datasets/../x", "m", b"", &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "PathTraversal");
    }

    #[tokio::test]
    async fn unsupported_and_read_only_schemes() {
        let config = quick_config();
        let err = fetch("ftp://host/data.csv", &config).await.unwrap_err();
        assert_eq!(err.reason(), "UnsupportedScheme");
        let err = fetch("data.csv", &config).await.unwrap_err();
        assert_eq!(err.reason(), "InvalidLocation");
        let err = store("https://host/out?sig=SECRET", "model.onnx", b"", &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "UnsupportedScheme");
        assert!(err.to_string().contains("read-only"), "{err}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

mod http {
    use super::*;

    /// A tiny HTTP/1.1 server with a fixed set of paths, counting the requests per path.
    struct TestServer {
        addr: SocketAddr,
        hits: Arc<Mutex<HashMap<String, u32>>>,
    }

    impl TestServer {
        fn start() -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let hits = Arc::new(Mutex::new(HashMap::new()));
            let counter = Arc::clone(&hits);
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let counter = Arc::clone(&counter);
                    thread::spawn(move || respond(stream, &counter));
                }
            });
            TestServer { addr, hits }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        fn hits(&self, path: &str) -> u32 {
            self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
        }
    }

    fn reply(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn respond(mut stream: TcpStream, hits: &Mutex<HashMap<String, u32>>) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head);
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/").to_owned();
        let n = {
            let mut hits = hits.lock().unwrap();
            let count = hits.entry(path.clone()).or_insert(0);
            *count += 1;
            *count
        };
        let response = match path.as_str() {
            "/data.csv" => reply("200 OK", "", b"a,b\n1,x\n2,y\n"),
            "/missing.csv" => reply("404 Not Found", "", b"no"),
            "/private.csv" => reply("403 Forbidden", "", b"denied"),
            "/flaky.csv" if n <= 2 => reply("503 Service Unavailable", "", b"busy"),
            "/flaky.csv" => reply("200 OK", "", b"ok"),
            "/busy.csv" if n == 1 => reply("429 Too Many Requests", "Retry-After: 0\r\n", b""),
            "/busy.csv" => reply("200 OK", "", b"ok"),
            "/down.csv" => reply("503 Service Unavailable", "", b"down"),
            "/bad-request.csv" => reply("400 Bad Request", "", b""),
            "/declared-big.csv" => reply("200 OK", "", &[b'x'; 1000]),
            "/streamed-big.csv" => {
                // Chunked: no Content-Length, so only counting the bytes can stop it.
                let mut out =
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        .to_vec();
                for _ in 0..10 {
                    out.extend_from_slice(b"64\r\n");
                    out.extend_from_slice(&[b'y'; 100]);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                out
            }
            "/slow.csv" => {
                thread::sleep(Duration::from_secs(3));
                reply("200 OK", "", b"late")
            }
            _ => reply("404 Not Found", "", b""),
        };
        let _ = stream.write_all(&response);
        let _ = stream.flush();
    }

    #[tokio::test]
    async fn ok_and_not_found() {
        let server = TestServer::start();
        let config = quick_config();
        let bytes = fetch(&server.url("/data.csv"), &config).await.unwrap();
        assert_eq!(bytes, b"a,b\n1,x\n2,y\n");
        let table = read_table(&bytes, &ReadOptions::new(&server.url("/data.csv"))).unwrap();
        assert_eq!(table.rows, 2);

        let err = fetch(&server.url("/missing.csv"), &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "DataNotFound");
        assert_eq!(server.hits("/missing.csv"), 1, "a 404 is not retried");

        let err = fetch(&server.url("/bad-request.csv"), &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "HttpError");
        assert!(err.to_string().contains("400"), "{err}");
        assert_eq!(server.hits("/bad-request.csv"), 1);
    }

    #[tokio::test]
    async fn retries_server_errors_then_succeeds() {
        let server = TestServer::start();
        let bytes = fetch(&server.url("/flaky.csv"), &quick_config())
            .await
            .unwrap();
        assert_eq!(bytes, b"ok");
        assert_eq!(server.hits("/flaky.csv"), 3, "two 503s, then success");

        let bytes = fetch(&server.url("/busy.csv"), &quick_config())
            .await
            .unwrap();
        assert_eq!(bytes, b"ok");
        assert_eq!(
            server.hits("/busy.csv"),
            2,
            "429 with Retry-After, then success"
        );
    }

    #[tokio::test]
    async fn gives_up_after_the_configured_retries() {
        let server = TestServer::start();
        let config = SourceConfig {
            retries: 2,
            ..quick_config()
        };
        let err = fetch(&server.url("/down.csv"), &config).await.unwrap_err();
        assert_eq!(err.reason(), "HttpError");
        assert!(err.to_string().contains("503"), "{err}");
        assert!(err.to_string().contains("3 attempt"), "{err}");
        assert!(err.is_transient());
        assert_eq!(server.hits("/down.csv"), 3);
    }

    #[tokio::test]
    async fn size_limit_by_content_length_and_by_counting() {
        let server = TestServer::start();
        let config = SourceConfig {
            max_bytes: 500,
            ..quick_config()
        };
        let err = fetch(&server.url("/declared-big.csv"), &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "DataTooLarge");
        assert!(
            err.to_string().contains("1000 bytes"),
            "announced size: {err}"
        );
        assert_eq!(server.hits("/declared-big.csv"), 1, "not retried");

        let err = fetch(&server.url("/streamed-big.csv"), &config)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "DataTooLarge");
        assert!(err.to_string().contains("more than the limit"), "{err}");

        let roomy = SourceConfig {
            max_bytes: 1000,
            ..quick_config()
        };
        let bytes = fetch(&server.url("/streamed-big.csv"), &roomy)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 1000, "exactly at the limit is fine");
    }

    #[tokio::test]
    async fn unreachable_port_is_retried_then_reported() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = SourceConfig {
            retries: 1,
            ..quick_config()
        };
        let url = format!("http://127.0.0.1:{port}/data.csv?X-Amz-Signature=SECRETSIG");
        let err = fetch(&url, &config).await.unwrap_err();
        assert_eq!(err.reason(), "DataUnreachable");
        let message = err.to_string();
        assert!(message.contains("2 attempt"), "{message}");
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(!message.contains("SECRETSIG"), "query leaked: {message}");
        assert!(
            !format!("{err:?}").contains("SECRETSIG"),
            "query leaked: {err:?}"
        );
    }

    #[tokio::test]
    async fn timeout() {
        let server = TestServer::start();
        let config = SourceConfig {
            timeout: Duration::from_millis(300),
            ..quick_config()
        };
        let err = fetch(&server.url("/slow.csv"), &config).await.unwrap_err();
        assert_eq!(err.reason(), "DataTimeout", "{err}");
    }

    #[tokio::test]
    async fn presigned_query_never_appears_in_errors() {
        let server = TestServer::start();
        let url = server.url("/private.csv?X-Amz-Credential=AKIDSECRET&X-Amz-Signature=SECRETSIG");
        let err = fetch(&url, &quick_config()).await.unwrap_err();
        assert_eq!(err.reason(), "DataAccessDenied");
        let message = err.to_string();
        assert!(message.contains("/private.csv?<redacted>"), "{message}");
        assert!(
            !message.contains("SECRETSIG") && !message.contains("AKIDSECRET"),
            "{message}"
        );
    }
}

mod s3 {
    use super::*;
    use common::MotoServer;

    const BUCKET: &str = "lepton-test";

    /// moto's server in a child process, stopped on drop. The child also exits when its stdin
    /// closes, so it cannot outlive a killed test process.
    /// A request signed with any key: moto accepts it while authentication is still off.
    async fn admin(
        client: &reqwest::Client,
        moto: &MotoServer,
        method: &str,
        path: &str,
        service: &str,
        body: &str,
    ) -> String {
        let host = moto.endpoint.trim_start_matches("http://");
        let amz_date = sigv4::amz_date(SystemTime::now());
        let payload = sigv4::sha256_hex(body.as_bytes());
        let headers = [
            ("host", host),
            ("x-amz-content-sha256", payload.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ];
        let admin = Credentials {
            access_key_id: "AKIAADMINADMINADMIN0".to_owned(),
            secret_access_key: "admin".to_owned(),
            session_token: None,
        };
        let authorization = sigv4::authorization(
            &admin,
            &SigningScope {
                amz_date: &amz_date,
                region: "us-east-1",
                service,
            },
            &SignableRequest {
                method,
                canonical_uri: path,
                canonical_query: "",
                headers: &headers,
                payload_sha256: &payload,
            },
        );
        let response = client
            .request(method.parse().unwrap(), format!("{}{path}", moto.endpoint))
            .header("authorization", authorization)
            .header("x-amz-content-sha256", &payload)
            .header("x-amz-date", &amz_date)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        text
    }

    fn xml_value(xml: &str, tag: &str) -> String {
        let open = format!("<{tag}>");
        let start = xml
            .find(&open)
            .unwrap_or_else(|| panic!("no {tag} in {xml}"))
            + open.len();
        let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
        xml[start..end].to_owned()
    }

    /// Creates a user with full S3 access and a bucket, then turns authentication on (from the
    /// next request on, moto checks every signature against its IAM users).
    async fn provision(moto: &MotoServer) -> Credentials {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let iam = |action: &str| format!("Action={action}&UserName=lepton&Version=2010-05-08");
        admin(&client, moto, "POST", "/", "iam", &iam("CreateUser")).await;
        let key = admin(&client, moto, "POST", "/", "iam", &iam("CreateAccessKey")).await;
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let put_policy = format!(
            "{}&PolicyName=s3-all&PolicyDocument={}",
            iam("PutUserPolicy"),
            sigv4::uri_encode(policy, false)
        );
        admin(&client, moto, "POST", "/", "iam", &put_policy).await;
        admin(&client, moto, "PUT", &format!("/{BUCKET}"), "s3", "").await;
        let response = client
            .post(format!("{}/moto-api/reset-auth", moto.endpoint))
            .body("0")
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "reset-auth: {}",
            response.status()
        );
        Credentials {
            access_key_id: xml_value(&key, "AccessKeyId"),
            secret_access_key: xml_value(&key, "SecretAccessKey"),
            session_token: None,
        }
    }

    fn config(moto: &MotoServer, credentials: Option<Credentials>) -> SourceConfig {
        let mut config = quick_config().with_s3(Some(&S3Options {
            endpoint: Some(moto.endpoint.clone()),
            ..S3Options::default()
        }));
        config.aws.credentials = credentials;
        config
    }

    fn expect_err(result: Result<Vec<u8>, SourceError>, reason: &str) -> SourceError {
        match result {
            Ok(bytes) => panic!("expected {reason}, got {} bytes", bytes.len()),
            Err(err) => {
                assert_eq!(err.reason(), reason, "{err}");
                err
            }
        }
    }

    #[tokio::test]
    async fn put_get_round_trip_and_errors_against_moto() {
        let moto = MotoServer::start();
        let credentials = provision(&moto).await;
        let good = config(&moto, Some(credentials.clone()));

        // PutObject then GetObject, through the signer, with a key that needs encoding.
        let csv = b"default,student,balance\nNo,Yes,817.18\nYes,No,1073.55\n";
        let uri = store(
            &format!("s3://{BUCKET}/jobs/run 1"),
            "train data.csv",
            csv,
            &good,
        )
        .await
        .unwrap();
        assert_eq!(uri, format!("s3://{BUCKET}/jobs/run 1/train data.csv"));
        let bytes = fetch(&uri, &good).await.unwrap();
        assert_eq!(bytes, csv);
        let table = read_table(&bytes, &ReadOptions::new(&uri)).unwrap();
        assert_eq!(table.rows, 2);
        assert!(matches!(
            table.column("balance").unwrap().data,
            ColumnData::Numeric(_)
        ));

        let blob: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let uri = store(
            &format!("s3://{BUCKET}/models/"),
            "model.onnx",
            &blob,
            &good,
        )
        .await
        .unwrap();
        assert_eq!(uri, format!("s3://{BUCKET}/models/model.onnx"));
        assert_eq!(fetch(&uri, &good).await.unwrap(), blob);

        let small = SourceConfig {
            max_bytes: 1000,
            ..good.clone()
        };
        expect_err(fetch(&uri, &small).await, "DataTooLarge");

        expect_err(
            fetch(&format!("s3://{BUCKET}/no/such/key.csv"), &good).await,
            "S3NoSuchKey",
        );
        expect_err(
            fetch("s3://no-such-bucket/x.csv", &good).await,
            "S3NoSuchBucket",
        );

        // Authentication is enforced: a wrong secret, an unknown key id and no signature at all
        // are refused.
        let wrong_secret = Credentials {
            secret_access_key: "not-the-secret-value".to_owned(),
            ..credentials.clone()
        };
        let err = expect_err(
            fetch(&uri, &config(&moto, Some(wrong_secret.clone()))).await,
            "S3AccessDenied",
        );
        assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
        assert!(!err.to_string().contains("not-the-secret-value"), "{err}");
        assert!(
            !err.to_string().contains(&credentials.secret_access_key),
            "{err}"
        );

        let unknown = Credentials {
            access_key_id: "AKIAUNKNOWNUNKNOWN00".to_owned(),
            ..credentials.clone()
        };
        let err = expect_err(
            fetch(&uri, &config(&moto, Some(unknown))).await,
            "S3AccessDenied",
        );
        assert!(err.to_string().contains("InvalidAccessKeyId"), "{err}");

        expect_err(fetch(&uri, &config(&moto, None)).await, "S3AccessDenied");

        let err = store(
            &format!("s3://{BUCKET}/x"),
            "y",
            b"z",
            &config(&moto, Some(wrong_secret)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.reason(), "S3AccessDenied", "{err}");
    }
}
