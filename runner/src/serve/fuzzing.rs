//! The entry point the fuzz target (`fuzz/`) and the corpus tests drive: arbitrary bytes
//! through request parsing, tensor building and response encoding, with the invariants a
//! parsed request must keep. Any panic here is a bug.

use super::datatype::DataType;
use super::request::parse_infer;
use super::response::encode_infer_response;
use super::session::ShapedTensor;
use super::signature::{OutputForm, OutputSpec, Signature, TensorSpec};
use super::v1::{encode_predictions, parse_predict};

/// Signatures the fuzzer parses against: a Lepton tabular model, a model with every datatype,
/// a dense network with a fixed feature dimension, and a model without a batch dimension.
pub fn signatures() -> Vec<Signature> {
    let t = |name: &str, datatype, shape: &[i64]| TensorSpec {
        name: name.to_owned(),
        datatype,
        shape: shape.to_vec(),
    };
    let out = |tensor| OutputSpec {
        tensor,
        form: OutputForm::Tensor,
    };
    let every: Vec<(&str, DataType)> = DataType::ALL
        .iter()
        .filter(|d| **d != DataType::Fp16)
        .map(|d| (d.name(), *d))
        .collect();
    vec![
        Signature::new(
            vec![
                t("student", DataType::Bytes, &[-1, 1]),
                t("balance", DataType::Fp64, &[-1, 1]),
                t("income", DataType::Fp64, &[-1, 1]),
            ],
            vec![
                out(t("label", DataType::Bytes, &[-1, 1])),
                out(t("probabilities", DataType::Fp32, &[-1, 2])),
            ],
        ),
        Signature::new(
            every.iter().map(|(n, d)| t(n, *d, &[-1, 2])).collect(),
            every
                .iter()
                .map(|(n, d)| out(t(&format!("out_{n}"), *d, &[-1, 2])))
                .collect(),
        ),
        Signature::new(
            vec![t("input", DataType::Fp32, &[-1, 4])],
            vec![out(t("output", DataType::Fp32, &[-1, 3]))],
        ),
        Signature::new(
            vec![t("image", DataType::Uint8, &[2, -1, 3])],
            vec![out(t("score", DataType::Fp32, &[]))],
        ),
    ]
}

/// Parses `data` as a request against one of [`signatures`] and checks what comes out. The
/// first byte picks the signature and protocol; with the binary extension the next two give
/// the JSON length.
pub fn check_request_bytes(data: &[u8], signatures: &[Signature]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let signature = &signatures[usize::from(selector) % signatures.len()];
    let parsed = match (selector / 16) % 3 {
        0 => parse_infer(rest, None, signature),
        1 => match rest.split_first_chunk::<2>() {
            Some((len, body)) => {
                parse_infer(body, Some(usize::from(u16::from_le_bytes(*len))), signature)
            }
            None => return,
        },
        _ => parse_predict(rest, signature),
    };
    let request = match parsed {
        Ok(request) => request,
        Err(e) => {
            assert!(
                (400..500).contains(&e.status),
                "parse errors are client errors: {e:?}"
            );
            assert!(serde_json::from_slice::<serde_json::Value>(&e.body()).is_ok());
            return;
        }
    };
    assert_eq!(request.inputs.len(), signature.inputs.len());
    for (spec, input) in signature.inputs.iter().zip(&request.inputs) {
        assert_eq!(input.data.datatype(), spec.datatype);
        assert_eq!(input.shape.len(), spec.shape.len());
        let count = input
            .shape
            .iter()
            .try_fold(1usize, |a, d| a.checked_mul(*d));
        assert_eq!(count, Some(input.data.len()), "{}", spec.name);
        for (got, want) in input.shape.iter().zip(&spec.shape) {
            assert!(*want < 0 || *got as i64 == *want);
        }
        if signature.batchable {
            assert_eq!(input.shape[0], request.rows);
        }
    }
    assert!(request.rows >= 1);
    // Encoding must cope with whatever outputs come back: echo the inputs as outputs.
    let echoed: Vec<ShapedTensor> = signature
        .outputs
        .iter()
        .enumerate()
        .map(|(i, _)| request.inputs[i % request.inputs.len()].clone())
        .collect();
    let encoded = encode_infer_response(
        "m",
        "1",
        request.id.as_deref(),
        signature,
        &request.outputs,
        &echoed,
    );
    let json = &encoded.body[..encoded.json_length.unwrap_or(encoded.body.len())];
    assert!(
        serde_json::from_slice::<serde_json::Value>(json).is_ok(),
        "the response is JSON"
    );
    let predictions = encode_predictions(signature, None, &echoed, request.rows);
    assert!(serde_json::from_slice::<serde_json::Value>(&predictions).is_ok());
}
