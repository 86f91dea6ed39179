//! Open Inference Protocol v2 inference responses, written straight to bytes (the response
//! is on every request's path), with the binary tensor extension for outputs that ask for it.

use super::request::RequestedOutput;
use super::session::ShapedTensor;
use super::signature::Signature;

/// A response body and, when some output is binary, the length of its JSON prefix (for the
/// `Inference-Header-Content-Length` header).
pub struct EncodedResponse {
    /// The body.
    pub body: Vec<u8>,
    /// Length of the JSON part when binary data follows it.
    pub json_length: Option<usize>,
}

/// Encodes the outputs of one request.
pub fn encode_infer_response(
    model_name: &str,
    model_version: &str,
    id: Option<&str>,
    signature: &Signature,
    requested: &[RequestedOutput],
    outputs: &[ShapedTensor],
) -> EncodedResponse {
    let mut body = Vec::with_capacity(256);
    let mut binary = Vec::new();
    body.extend_from_slice(b"{\"model_name\":");
    write_str(&mut body, model_name);
    body.extend_from_slice(b",\"model_version\":");
    write_str(&mut body, model_version);
    if let Some(id) = id {
        body.extend_from_slice(b",\"id\":");
        write_str(&mut body, id);
    }
    body.extend_from_slice(b",\"outputs\":[");
    for (i, r) in requested.iter().enumerate() {
        let (Some(spec), Some(tensor)) = (signature.outputs.get(r.index), outputs.get(r.index))
        else {
            continue;
        };
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"name\":");
        write_str(&mut body, &spec.tensor.name);
        body.extend_from_slice(b",\"datatype\":\"");
        body.extend_from_slice(tensor.data.datatype().name().as_bytes());
        body.extend_from_slice(b"\",\"shape\":");
        let _ = serde_json::to_writer(&mut body, &tensor.shape);
        if r.binary {
            let start = binary.len();
            tensor.data.write_le_bytes(&mut binary);
            body.extend_from_slice(b",\"parameters\":{\"binary_data_size\":");
            body.extend_from_slice((binary.len() - start).to_string().as_bytes());
            body.extend_from_slice(b"}}");
        } else {
            body.extend_from_slice(b",\"data\":");
            tensor.data.write_json(&mut body);
            body.push(b'}');
        }
    }
    body.extend_from_slice(b"]}");
    if requested.iter().any(|r| r.binary) {
        let json_length = body.len();
        body.extend_from_slice(&binary);
        EncodedResponse {
            body,
            json_length: Some(json_length),
        }
    } else {
        EncodedResponse {
            body,
            json_length: None,
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}
