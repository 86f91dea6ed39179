//! Readiness probes: an HTTP GET on loopback; any 2xx or 3xx answer is ready, as the kubelet
//! counts it.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether `GET path` on `127.0.0.1:port` answers 200-399 within `timeout`.
pub(crate) async fn http_ready(port: u16, path: &str, timeout: Duration) -> bool {
    tokio::time::timeout(timeout, probe(port, path))
        .await
        .unwrap_or(false)
}

async fn probe(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: lepton-local-kubelet\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 32];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => read += n,
        }
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..400).contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve_once(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 512];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(answer.as_bytes()).await;
        });
        port
    }

    #[tokio::test]
    async fn two_hundred_is_ready_and_five_hundred_is_not() {
        let ok = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        assert!(http_ready(ok, "/v2/health/ready", Duration::from_secs(1)).await);
        let bad = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        assert!(!http_ready(bad, "/v2/health/ready", Duration::from_secs(1)).await);
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(!http_ready(closed, "/", Duration::from_millis(200)).await);
    }
}
