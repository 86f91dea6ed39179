//! Open Inference Protocol v2 inference requests: parsing the JSON (and the binary tensor
//! extension's trailing bytes) and validating every input against the model's signature, so
//! that a request that reaches the batcher cannot fail for its own data.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::datatype::DataType;
use super::error::ApiError;
use super::session::ShapedTensor;
use super::signature::{Signature, TensorSpec, describe_one};
use super::tensor::TensorData;

/// Most dimensions an input may have.
pub const MAX_RANK: usize = 16;

/// A validated inference request, ready for the batcher.
#[derive(Clone, Debug, PartialEq)]
pub struct InferRequest {
    /// The client's `id`, echoed in the response.
    pub id: Option<String>,
    /// One tensor per model input, in signature order.
    pub inputs: Vec<ShapedTensor>,
    /// Rows along the batch dimension (1 for a model without one).
    pub rows: usize,
    /// Outputs to return, in the order asked (all, in signature order, when none were named).
    pub outputs: Vec<RequestedOutput>,
}

/// One output the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedOutput {
    /// Index into the signature's outputs.
    pub index: usize,
    /// Whether to return it in the binary tensor encoding.
    pub binary: bool,
}

#[derive(Deserialize)]
struct WireRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<WireInput>,
    #[serde(default)]
    outputs: Option<Vec<WireOutput>>,
}

#[derive(Deserialize)]
struct WireInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
struct WireOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// Parses and validates a v2 inference request body. `header_length` is the value of the
/// `Inference-Header-Content-Length` header: the JSON is then only that prefix of `body`, and
/// inputs with a `binary_data_size` parameter take their elements from the bytes after it.
pub fn parse_infer(
    body: &[u8],
    header_length: Option<usize>,
    signature: &Signature,
) -> Result<InferRequest, ApiError> {
    let (json, mut binary) = match header_length {
        Some(n) if n > body.len() => {
            return Err(ApiError::bad_request(format!(
                "Inference-Header-Content-Length is {n}, but the body has only {} bytes",
                body.len()
            )));
        }
        Some(n) => body.split_at(n),
        None => (body, &[][..]),
    };
    let wire: WireRequest = serde_json::from_slice(json)
        .map_err(|e| ApiError::bad_request(format!("malformed inference request: {e}")))?;
    let binary_outputs_default = wire
        .parameters
        .as_ref()
        .and_then(|p| p.get("binary_data_output"))
        .map(|v| {
            v.as_bool().ok_or_else(|| {
                ApiError::bad_request("parameter binary_data_output must be true or false")
            })
        })
        .transpose()?
        .unwrap_or(false);

    let mut slots: Vec<Option<ShapedTensor>> = vec![None; signature.inputs.len()];
    for input in wire.inputs {
        let Some(index) = signature.input_index(&input.name) else {
            return Err(ApiError::bad_request(format!(
                "unknown input `{}`: the model takes {}",
                input.name,
                signature.describe_inputs()
            )));
        };
        if slots[index].is_some() {
            return Err(ApiError::bad_request(format!(
                "input `{}` is given more than once",
                input.name
            )));
        }
        let spec = &signature.inputs[index];
        let binary_size = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "input `{}`: binary_data_size must be a byte count",
                            input.name
                        ))
                    })
            })
            .transpose()?;
        let data = match (binary_size, &input.data) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}` has both `data` and binary_data_size; send one",
                    input.name
                )));
            }
            (Some(size), None) => {
                if header_length.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "input `{}` has binary_data_size but the request has no Inference-Header-Content-Length header",
                        input.name
                    )));
                }
                if size > binary.len() {
                    return Err(ApiError::bad_request(format!(
                        "input `{}` has binary_data_size {size}, but only {} bytes of binary data remain",
                        input.name,
                        binary.len()
                    )));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                Source::Binary(mine)
            }
            (None, Some(data)) => Source::Json(data),
            (None, None) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}` has no `data`",
                    input.name
                )));
            }
        };
        slots[index] = Some(build_input(spec, &input.datatype, &input.shape, data)?);
    }
    if !binary.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{} bytes of binary data after the last input's binary_data_size are not claimed by any input",
            binary.len()
        )));
    }
    let inputs = complete(signature, slots)?;
    let rows = batch_rows(signature, &inputs)?;

    let outputs = match wire.outputs {
        None => (0..signature.outputs.len())
            .map(|index| RequestedOutput {
                index,
                binary: binary_outputs_default,
            })
            .collect(),
        Some(asked) => {
            let mut out: Vec<RequestedOutput> = Vec::with_capacity(asked.len());
            for o in asked {
                let index = signature.output_index(&o.name).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unknown output `{}`: the model gives {}",
                        o.name,
                        signature.describe_outputs()
                    ))
                })?;
                let binary = match o.parameters.as_ref().and_then(|p| p.get("binary_data")) {
                    None => binary_outputs_default,
                    Some(v) => v.as_bool().ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "output `{}`: parameter binary_data must be true or false",
                            o.name
                        ))
                    })?,
                };
                if !out.iter().any(|r| r.index == index) {
                    out.push(RequestedOutput { index, binary });
                }
            }
            out
        }
    };
    Ok(InferRequest {
        id: wire.id,
        inputs,
        rows,
        outputs,
    })
}

/// Where an input's elements are.
pub(crate) enum Source<'a> {
    /// JSON `data`, flat or nested.
    Json(&'a Value),
    /// Binary tensor encoding.
    Binary(&'a [u8]),
}

/// Checks one input's datatype and shape against `spec` and decodes its elements.
pub(crate) fn build_input(
    spec: &TensorSpec,
    datatype: &str,
    shape: &[i64],
    data: Source<'_>,
) -> Result<ShapedTensor, ApiError> {
    let name = &spec.name;
    let bad = |m: String| Err(ApiError::bad_request(m));
    let Some(given) = DataType::parse(datatype) else {
        return bad(format!(
            "input `{name}` has datatype `{datatype}`, which is not an Open Inference Protocol datatype; the model takes {}",
            spec.datatype
        ));
    };
    if given != spec.datatype {
        return bad(format!(
            "input `{name}` has datatype {given}, but the model takes {}",
            spec.datatype
        ));
    }
    let shown = |s: &[i64]| {
        let dims: Vec<String> = s.iter().map(i64::to_string).collect();
        format!("[{}]", dims.join(", "))
    };
    let expected = || format!("the model takes {}", describe_one(spec));
    if shape.len() > MAX_RANK {
        return bad(format!(
            "input `{name}` has {} dimensions; {}",
            shape.len(),
            expected()
        ));
    }
    if shape.len() != spec.shape.len()
        || shape
            .iter()
            .zip(&spec.shape)
            .any(|(g, want)| *g < 0 || (*want >= 0 && g != want))
    {
        return bad(format!(
            "input `{name}` has shape {}, but {} (-1: any size)",
            shown(shape),
            expected()
        ));
    }
    let dims: Vec<usize> = shape.iter().map(|d| *d as usize).collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| {
            ApiError::bad_request(format!("input `{name}` has a shape too large to hold"))
        })?;
    let elements = match data {
        Source::Json(value) => TensorData::from_json(given, value),
        Source::Binary(bytes) => TensorData::from_le_bytes(given, bytes),
    }
    .map_err(|e| ApiError::bad_request(format!("input `{name}`: {e}")))?;
    if elements.len() != count {
        return bad(format!(
            "input `{name}` has {} elements, but its shape {} needs {count}",
            elements.len(),
            shown(shape)
        ));
    }
    Ok(ShapedTensor {
        shape: dims,
        data: elements,
    })
}

/// Every input present, or a 400 naming the first missing one.
pub(crate) fn complete(
    signature: &Signature,
    slots: Vec<Option<ShapedTensor>>,
) -> Result<Vec<ShapedTensor>, ApiError> {
    let mut inputs = Vec::with_capacity(slots.len());
    for (spec, slot) in signature.inputs.iter().zip(slots) {
        match slot {
            Some(t) => inputs.push(t),
            None => {
                return Err(ApiError::bad_request(format!(
                    "missing input `{}`: the model takes {}",
                    spec.name,
                    signature.describe_inputs()
                )));
            }
        }
    }
    Ok(inputs)
}

/// The request's rows along the batch dimension; inputs must agree on it.
pub(crate) fn batch_rows(
    signature: &Signature,
    inputs: &[ShapedTensor],
) -> Result<usize, ApiError> {
    if !signature.batchable {
        return Ok(1);
    }
    let rows = inputs
        .first()
        .and_then(|t| t.shape.first().copied())
        .unwrap_or(0);
    for (spec, t) in signature.inputs.iter().zip(inputs) {
        let r = t.shape.first().copied().unwrap_or(0);
        if r != rows {
            return Err(ApiError::bad_request(format!(
                "inputs disagree on the batch size (first dimension): `{}` has {rows}, `{}` has {r}",
                signature.inputs[0].name, spec.name
            )));
        }
    }
    if rows == 0 {
        return Err(ApiError::bad_request(
            "the request has no rows: the first dimension of every input is 0",
        ));
    }
    Ok(rows)
}
