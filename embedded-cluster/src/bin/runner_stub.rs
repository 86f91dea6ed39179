//! A stand-in for `lepton-runner` in the local executor's tests: it exits as told, writes a
//! termination message where `LEPTON_TERMINATION_LOG` says, and serves the readiness endpoint
//! of the serving protocol on `LEPTON_SERVE_ADDR`.
//!
//! ```text
//! lepton-runner-stub --version
//! lepton-runner-stub train [--exit-code N] [--sleep-ms N] [--message TEXT]
//!                          [--message-from-env VAR]... [--fail-times N --state FILE]
//! lepton-runner-stub serve [--ready-after-ms N]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str) -> u64 {
    flag(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn write_message(text: &str) {
    if let Ok(path) = std::env::var("LEPTON_TERMINATION_LOG") {
        let _ = std::fs::write(path, text);
    }
}

fn train(args: &[String]) -> ExitCode {
    std::thread::sleep(Duration::from_millis(number(args, "--sleep-ms")));
    let mut message = flag(args, "--message").unwrap_or_default();
    for (i, arg) in args.iter().enumerate() {
        if arg == "--message-from-env"
            && let Some(var) = args.get(i + 1)
        {
            message.push_str(&format!(
                "{var}={};",
                std::env::var(var).unwrap_or_default()
            ));
        }
    }
    let mut code = number(args, "--exit-code");
    if let Some(state) = flag(args, "--state") {
        let attempt = std::fs::read_to_string(&state)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or_default()
            + 1;
        let _ = std::fs::write(&state, attempt.to_string());
        if attempt <= number(args, "--fail-times") {
            code = 1;
            message = format!("attempt {attempt} failed");
        }
    }
    println!("training: exit code {code}");
    write_message(&message);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn serve(args: &[String]) -> ExitCode {
    let Ok(addr) = std::env::var("LEPTON_SERVE_ADDR") else {
        eprintln!("LEPTON_SERVE_ADDR is not set");
        return ExitCode::from(2);
    };
    let listener = match TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let ready_at = Instant::now() + Duration::from_millis(number(args, "--ready-after-ms"));
    println!("serving on {addr}");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        let _ = BufReader::new(&stream).read_line(&mut line);
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let (status, body) = match path {
            "/v2/health/live" => ("200 OK", "{}".to_owned()),
            "/v2/health/ready" if Instant::now() >= ready_at => ("200 OK", "{}".to_owned()),
            "/v2/health/ready" => (
                "503 Service Unavailable",
                "{\"error\": \"not ready\"}".to_owned(),
            ),
            "/whoami" => ("200 OK", format!("{{\"addr\": \"{addr}\"}}")),
            _ => ("404 Not Found", "{\"error\": \"not found\"}".to_owned()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("lepton-runner-stub {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("train") => train(&args[1..]),
        Some("serve") => serve(&args[1..]),
        _ => {
            eprintln!("usage: lepton-runner-stub --version | train [...] | serve [...]");
            ExitCode::from(2)
        }
    }
}
