//! Bad input never panics: every case ends with exit status 1, a message that names the field,
//! column or row and says what to do, and the same machine-readable reason in the results file
//! and the termination message.

mod common;

use std::io::Write;
use std::process::Command;

use common::{MotoServer, TempDir, ort_library, repo_root};

struct Case {
    name: &'static str,
    /// Files written into the case's directory.
    files: Vec<(&'static str, Vec<u8>)>,
    /// The `data:` mapping; `{dir}` is replaced by the case directory.
    data: String,
    /// Extra `spec:` lines (model, runPolicy...).
    extra: &'static str,
    env: Vec<(&'static str, String)>,
    reason: &'static str,
    /// Substrings the error message must contain.
    mentions: Vec<&'static str>,
}

fn case(
    name: &'static str,
    file: &'static str,
    content: &str,
    target: &str,
    reason: &'static str,
    mentions: &[&'static str],
) -> Case {
    Case {
        name,
        files: vec![(file, content.as_bytes().to_vec())],
        data: format!("{{source: 'file://{{dir}}/{file}', target: {target}}}"),
        extra: "",
        env: vec![],
        reason,
        mentions: mentions.to_vec(),
    }
}

/// A valid table of `n` rows with a numeric and a categorical feature and a binary target.
fn table(n: usize) -> String {
    let mut s = String::from("x,colour,y\n");
    for i in 0..n {
        s.push_str(&format!(
            "{},{},{}\n",
            i as f64 * 0.37 % 5.0,
            ["red", "green", "blue"][i % 3],
            if i % 4 == 0 { "yes" } else { "no" }
        ));
    }
    s
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn cases() -> Vec<Case> {
    let good = table(60);
    let mut non_utf8 = good.clone().into_bytes();
    non_utf8.extend_from_slice(b"2.5,r\xffd,no\n");
    let mut all_missing_target = String::from("x,y\n");
    for i in 0..30 {
        all_missing_target.push_str(&format!("{i},NA\n"));
    }
    let stray_word = good.replacen("0.37,green", "zero,green", 1);
    let mut numeric_with_word = String::from("income,y\n");
    for i in 0..60 {
        numeric_with_word.push_str(&format!(
            "{},{}\n",
            if i == 41 {
                "n/a-ish".to_string()
            } else {
                format!("{}", i * 10)
            },
            i % 2
        ));
    }
    let mut ids_only = String::from("id,y\n");
    for i in 0..60 {
        ids_only.push_str(&format!("{i},{}\n", i % 2));
    }
    let mut all_missing_feature = String::from("empty,y\n");
    for i in 0..60 {
        all_missing_feature.push_str(&format!(",{}\n", i % 2));
    }
    let mut text_target = String::from("x,y\n");
    for i in 0..200 {
        text_target.push_str(&format!("{i},user-{i}\n"));
    }
    let mut one_rare_class = String::from("x,y\n");
    for i in 0..60 {
        one_rare_class.push_str(&format!(
            "{},{}\n",
            i * 3 % 17,
            if i == 7 {
                "rare"
            } else if i % 2 == 0 {
                "a"
            } else {
                "b"
            }
        ));
    }
    let missing_cell = good.replacen("0.37,green", ",green", 1);

    vec![
        case("empty file", "d.csv", "", "y", "EmptyData", &["d.csv"]),
        case("header only", "d.csv", "x,colour,y\n", "y", "HeaderOnly", &["d.csv"]),
        case("missing target column", "d.csv", &good, "label", "UnknownColumn", &["data.target", "`label`", "`colour`"]),
        case("target column with another case", "d.csv", &good, "Y", "UnknownColumn", &["did you mean `y`"]),
        case("target with one class", "d.csv", &good.replace(",yes\n", ",no\n"), "y", "TargetHasOneClass", &["`y`", "\"no\""]),
        case("target entirely missing", "d.csv", &all_missing_target, "y", "TargetAllMissing", &["`y`"]),
        case("text in a numeric column", "d.csv", &numeric_with_word, "y", "NonNumericValue", &["`income`", "row 42", "n/a-ish", "nullValues"]),
        case("infinite number", "d.csv", &good.replacen("0.37,green", "inf,green", 1), "y", "NonFiniteValue", &["`x`", "row 2"]),
        case("ragged row", "d.csv", &good.replacen("0.37,green,no", "0.37,green", 1), "y", "RaggedRow", &["row 2"]),
        case("unterminated quote", "d.csv", &format!("{good}1,\"blue,no\n"), "y", "UnterminatedQuote", &["d.csv"]),
        case("duplicate column names", "d.csv", &good.replacen("x,colour,y", "x,x,y", 1), "y", "DuplicateColumnName", &["`x`"]),
        case("empty column name", "d.csv", &good.replacen("x,colour,y", "x,,y", 1), "y", "EmptyColumnName", &["column 2"]),
        case("only an identifier column", "d.csv", &ids_only, "y", "NoUsableFeatures", &["`id`", "identifier"]),
        case("only an all-missing column", "d.csv", &all_missing_feature, "y", "NoUsableFeatures", &["`empty`", "every value is missing"]),
        case("identifier as target", "d.csv", &text_target, "y", "TargetTooManyClasses", &["`y`", "200 distinct"]),
        case("too few rows", "d.csv", &table(6), "y", "TooFewRows", &["6 rows"]),
        case("class with a single row", "d.csv", &one_rare_class, "y", "TooFewRows", &["\"rare\"", "1 row"]),
        Case {
            name: "non-UTF-8 bytes",
            files: vec![("d.csv", non_utf8)],
            ..case("", "d.csv", "", "y", "InvalidUtf8", &["UTF-8", "row 61"])
        },
        Case {
            name: "corrupt gzip",
            files: vec![("d.csv.gz", b"\x1f\x8b\x08\x00garbage-that-is-not-deflate".to_vec())],
            data: "{source: 'file://{dir}/d.csv.gz', target: y}".into(),
            ..case("", "d.csv.gz", "", "y", "CorruptGzip", &["d.csv.gz"])
        },
        Case {
            name: "gzip bomb over the size limit",
            files: vec![("d.csv.gz", gzip(&vec![b'1'; 4 << 20]))],
            data: "{source: 'file://{dir}/d.csv.gz', target: y}".into(),
            env: vec![("LEPTON_MAX_DATA_BYTES", "1Mi".into())],
            ..case("", "d.csv.gz", "", "y", "DataTooLarge", &["LEPTON_MAX_DATA_BYTES"])
        },
        Case {
            name: "file over the size limit",
            env: vec![("LEPTON_MAX_DATA_BYTES", "100".into())],
            ..case("", "d.csv", &good, "y", "DataTooLarge", &["d.csv"])
        },
        Case {
            name: "corrupt parquet",
            files: vec![("d.parquet", std::fs::read(repo_root().join("runner/tests/fixtures/data/corrupt.parquet")).unwrap())],
            data: "{source: 'file://{dir}/d.parquet', target: y}".into(),
            ..case("", "d.parquet", "", "y", "CorruptParquet", &["d.parquet"])
        },
        Case {
            name: "file not found",
            files: vec![],
            data: "{source: 'file://{dir}/nowhere.csv', target: y}".into(),
            ..case("", "x", "", "y", "DataNotFound", &["nowhere.csv"])
        },
        Case {
            name: "unreachable URL",
            files: vec![],
            data: "{source: 'http://127.0.0.1:9/d.csv', target: y}".into(),
            ..case("", "x", "", "y", "DataUnreachable", &["127.0.0.1:9"])
        },
        Case {
            name: "pvc path escaping its claim",
            files: vec![],
            data: "{source: 'pvc://claim/../../etc/passwd', target: y}".into(),
            env: vec![("LEPTON_PVC_ROOT", "{dir}".into())],
            ..case("", "x", "", "y", "PathTraversal", &["claim"])
        },
        Case {
            name: "dropColumns naming a missing column",
            data: "{source: 'file://{dir}/d.csv', target: y, dropColumns: [colur]}".into(),
            ..case("", "d.csv", &good, "y", "UnknownColumn", &["data.dropColumns", "`colur`"])
        },
        Case {
            name: "binary task with three classes",
            data: "{source: 'file://{dir}/d.csv', target: colour, task: binary}".into(),
            ..case("", "d.csv", &good, "colour", "TargetNotBinary", &["`colour`", "3 distinct", "multiclass"])
        },
        Case {
            name: "regression on a text target",
            data: "{source: 'file://{dir}/d.csv', target: colour, task: regression}".into(),
            ..case("", "d.csv", &good, "colour", "TargetNotNumeric", &["`colour`", "row 1"])
        },
        Case {
            name: "metric that does not fit the task",
            extra: "  model: {metric: rmse}\n",
            ..case("", "d.csv", &good, "y", "MetricDoesNotFitTask", &["rmse", "binary", "auc"])
        },
        Case {
            name: "missing value with imputation off",
            data: "{source: 'file://{dir}/d.csv', target: y, preprocessing: {imputation: {enabled: false}}}".into(),
            ..case("", "d.csv", &missing_cell, "y", "MissingValue", &["`x`", "row 2", "imputation"])
        },
        Case {
            name: "spec field out of range",
            data: "{source: 'file://{dir}/d.csv', target: y, validationFraction: 0.9}".into(),
            ..case("", "d.csv", &good, "y", "InvalidSpec", &["validationFraction"])
        },
        Case {
            name: "unsupported scheme",
            data: "{source: 'ftp://host/d.csv', target: y}".into(),
            ..case("", "d.csv", &good, "y", "InvalidSpec", &["source"])
        },
        Case {
            name: "ONNX Runtime library missing",
            env: vec![("LEPTON_ORT_LIB", "{dir}/no-such-libonnxruntime.so".into())],
            ..case("", "d.csv", &good, "y", "OnnxRuntimeUnavailable", &["LEPTON_ORT_LIB"])
        },
        case("a number spelled out", "d.csv", &stray_word, "y", "NonNumericValue", &["`x`", "zero", "row 2"]),
        Case {
            name: "output location that cannot be written",
            // `out` is a file, so `out/model.onnx` cannot be created.
            files: vec![("d.csv", good.clone().into_bytes()), ("out", b"a file, not a directory".to_vec())],
            ..case("", "d.csv", "", "y", "OutputWriteFailed", &["model.onnx"])
        },
    ]
}

fn run_case(c: &Case, extra_env: &[(&str, String)]) {
    let dir = TempDir::new("bad-data");
    let d = dir.0.display().to_string();
    for (name, bytes) in &c.files {
        std::fs::write(dir.path(name), bytes).unwrap();
    }
    let spec = format!(
        "spec:\n  data: {}\n{}",
        c.data.replace("{dir}", &d),
        c.extra
    );
    std::fs::write(dir.path("job.yaml"), &spec).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lepton-runner"));
    cmd.args(["train", "--spec"])
        .arg(dir.path("job.yaml"))
        .arg("--results")
        .arg(dir.path("results.json"))
        .arg("--termination-log")
        .arg(dir.path("termination.log"))
        .args(["--output", &dir.uri("out")])
        .env("LEPTON_ORT_LIB", ort_library())
        .env_remove("LEPTON_MAX_DATA_BYTES");
    for (k, v) in c.env.iter().chain(extra_env) {
        cmd.env(k, v.replace("{dir}", &d));
    }
    let output = cmd.output().expect("the runner starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}: exit status {:?}\n{stderr}",
        c.name,
        output.status
    );
    assert!(
        !stderr.contains("panicked"),
        "{}: panicked\n{stderr}",
        c.name
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("results.json")).unwrap())
            .unwrap_or_else(|e| panic!("{}: results file: {e}", c.name));
    assert_eq!(results["phase"], "Failed", "{}", c.name);
    assert_eq!(
        results["reason"], c.reason,
        "{}: {}",
        c.name, results["message"]
    );
    let message = results["message"].as_str().unwrap_or_default();
    for needle in &c.mentions {
        assert!(
            message.contains(needle),
            "{}: message does not mention {needle:?}: {message}",
            c.name
        );
    }
    assert!(
        stderr.contains(c.reason),
        "{}: stderr lacks the reason\n{stderr}",
        c.name
    );
    let termination: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("termination.log")).unwrap()).unwrap();
    assert_eq!(termination["reason"], c.reason, "{}", c.name);
    assert!(
        !dir.path("out/model.onnx").exists(),
        "{}: a failed run wrote a model",
        c.name
    );
}

#[test]
fn every_bad_input_fails_cleanly_with_a_named_reason() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for c in &cases {
        run_case(c, &[]);
    }
}

#[test]
fn a_bad_s3_credential_is_access_denied() {
    let moto = MotoServer::start();
    moto.require_authentication();
    let c = Case {
        name: "bad S3 credential",
        files: vec![],
        data: "{source: 's3://lepton-data/d.csv', target: y}".into(),
        ..case(
            "",
            "x",
            "",
            "y",
            "S3AccessDenied",
            &["s3://lepton-data/d.csv"],
        )
    };
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "wrong-secret".to_string()),
    ];
    run_case(&c, &env);
}

#[test]
fn a_bad_time_budget_is_a_usage_error_naming_the_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_lepton-runner"))
        .args(["train", "--time-budget", "soon"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("--time-budget takes a positive number of seconds")
    );
}

#[test]
fn a_missing_spec_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_lepton-runner"))
        .arg("train")
        .env_remove("LEPTON_TRAINING_JOB")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("LEPTON_TRAINING_JOB"));
}
