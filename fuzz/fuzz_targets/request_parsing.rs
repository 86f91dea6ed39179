//! Arbitrary bytes as v2 JSON, v2 binary-extension and v1 request bodies, against several
//! model signatures: parsing, validation, tensor building and response encoding must never
//! panic, and what they accept must be consistent.

#![no_main]

use std::sync::OnceLock;

use lepton_runner::serve::fuzzing::{check_request_bytes, signatures};
use lepton_runner::serve::signature::Signature;
use libfuzzer_sys::fuzz_target;

static SIGNATURES: OnceLock<Vec<Signature>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    check_request_bytes(data, SIGNATURES.get_or_init(signatures));
});
