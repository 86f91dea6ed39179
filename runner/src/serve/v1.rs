//! KServe's v1 protocol: `POST /v1/models/{m}:predict` with `{"instances": [...]}`.
//!
//! Tabular clients send each instance as a row object, `{"column": value, ...}`; models with a
//! single input also take each instance as that input's row (a scalar or nested array).
//! Predictions are one per instance: for Lepton classifiers `{"label": ..., "probabilities":
//! {class: p, ...}}`, for Lepton regressors `{"value": v}`; for other models the single
//! output's row (a scalar when it holds one value), or an object by output name.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::datatype::DataType;
use super::error::ApiError;
use super::request::{InferRequest, RequestedOutput, batch_rows};
use super::session::ShapedTensor;
use super::signature::Signature;
use super::tensor::TensorData;
use crate::artifact::ModelCard;

#[derive(Deserialize)]
struct WirePredict {
    instances: Vec<Value>,
}

/// Parses and validates a v1 predict body into an inference request over all outputs.
pub fn parse_predict(body: &[u8], signature: &Signature) -> Result<InferRequest, ApiError> {
    let wire: WirePredict = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "malformed predict request (expected {{\"instances\": [...]}}): {e}"
        ))
    })?;
    if wire.instances.is_empty() {
        return Err(ApiError::bad_request("`instances` is empty"));
    }
    if !signature.batchable && wire.instances.len() != 1 {
        return Err(ApiError::bad_request(format!(
            "the model has no batch dimension, so a request holds exactly one instance, not {}",
            wire.instances.len()
        )));
    }
    let inputs = if wire.instances.iter().all(Value::is_object) {
        from_row_objects(&wire.instances, signature)?
    } else {
        from_single_input_rows(&wire.instances, signature)?
    };
    let rows = batch_rows(signature, &inputs)?;
    Ok(InferRequest {
        id: None,
        inputs,
        rows,
        outputs: (0..signature.outputs.len())
            .map(|index| RequestedOutput {
                index,
                binary: false,
            })
            .collect(),
    })
}

fn from_row_objects(
    instances: &[Value],
    signature: &Signature,
) -> Result<Vec<ShapedTensor>, ApiError> {
    for spec in &signature.inputs {
        let per_row: i64 = spec.shape.iter().skip(1).product();
        if spec.shape.len() > 2 || per_row != 1 {
            return Err(ApiError::bad_request(format!(
                "instances given as row objects need one value per input and row, but input `{}` takes shape {:?}; send each instance as that input's array instead",
                spec.name, spec.shape
            )));
        }
    }
    let n = instances.len();
    let mut columns: Vec<TensorData> = signature
        .inputs
        .iter()
        .map(|s| {
            TensorData::with_capacity(s.datatype, n).ok_or_else(|| {
                ApiError::bad_request(format!("input `{}` has an unsupported datatype", s.name))
            })
        })
        .collect::<Result<_, _>>()?;
    for (row, instance) in instances.iter().enumerate() {
        let Some(object) = instance.as_object() else {
            continue;
        };
        check_keys(row, object, signature)?;
        for (spec, column) in signature.inputs.iter().zip(columns.iter_mut()) {
            let Some(value) = object.get(&spec.name) else {
                return Err(ApiError::bad_request(format!(
                    "instance {row} has no `{}` (send null for a missing value)",
                    spec.name
                )));
            };
            push_cell(column, value).map_err(|expected| {
                ApiError::bad_request(format!(
                    "instance {row}: `{}` is {}, expected {expected}",
                    spec.name,
                    short(value)
                ))
            })?;
        }
    }
    Ok(signature
        .inputs
        .iter()
        .zip(columns)
        .map(|(spec, data)| ShapedTensor {
            shape: if spec.shape.len() == 2 {
                vec![n, 1]
            } else {
                vec![n]
            },
            data,
        })
        .collect())
}

fn check_keys(
    row: usize,
    object: &Map<String, Value>,
    signature: &Signature,
) -> Result<(), ApiError> {
    for key in object.keys() {
        if signature.input_index(key).is_none() {
            return Err(ApiError::bad_request(format!(
                "instance {row} has `{key}`, which is not an input of the model; it takes {}",
                signature.describe_inputs()
            )));
        }
    }
    Ok(())
}

/// Row objects come from hand-written JSON and CSV exports, so cells are read leniently:
/// numeric strings for numbers, numbers and booleans as text for string inputs, null for
/// missing values. Returns what was expected on failure.
fn push_cell(column: &mut TensorData, value: &Value) -> Result<(), &'static str> {
    match column {
        TensorData::Fp64(v) => v.push(number(value).ok_or("a number or null")?),
        TensorData::Fp32(v) => v.push(number(value).ok_or("a number or null")? as f32),
        TensorData::Bytes(v) => v.push(match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err("a string, number, boolean or null"),
        }),
        TensorData::Bool(v) => v.push(value.as_bool().ok_or("true or false")?),
        other => {
            let datatype = other.datatype();
            let data = Value::Array(vec![value.clone()]);
            let parsed = TensorData::from_json(datatype, &data).map_err(|_| match datatype {
                DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => {
                    "an integer"
                }
                _ => "a non-negative integer",
            })?;
            other.append(&parsed);
        }
    }
    Ok(())
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Null => Some(f64::NAN),
        Value::String(s) if s.trim().is_empty() => Some(f64::NAN),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

fn from_single_input_rows(
    instances: &[Value],
    signature: &Signature,
) -> Result<Vec<ShapedTensor>, ApiError> {
    let [spec] = signature.inputs.as_slice() else {
        return Err(ApiError::bad_request(format!(
            "instances must be row objects ({{\"input\": value, ...}}) for a model with several inputs; it takes {}",
            signature.describe_inputs()
        )));
    };
    let mut data = TensorData::with_capacity(spec.datatype, instances.len()).ok_or_else(|| {
        ApiError::bad_request(format!("input `{}` has an unsupported datatype", spec.name))
    })?;
    let mut row_shape: Option<Vec<usize>> = None;
    for (row, instance) in instances.iter().enumerate() {
        let shape = nested_shape(instance);
        let expected_rank = spec
            .shape
            .len()
            .saturating_sub(usize::from(signature.batchable));
        let fits = shape.len() == expected_rank
            && shape
                .iter()
                .zip(spec.shape.iter().skip(usize::from(signature.batchable)))
                .all(|(g, want)| *want < 0 || *want as usize == *g);
        if !fits || row_shape.as_ref().is_some_and(|s| *s != shape) {
            return Err(ApiError::bad_request(format!(
                "instance {row} has shape {shape:?}, but each instance of input `{}` must have shape {:?} (-1: any size, the same in every instance)",
                spec.name,
                &spec.shape[usize::from(signature.batchable).min(spec.shape.len())..]
            )));
        }
        let values = TensorData::from_json(spec.datatype, instance)
            .map_err(|e| ApiError::bad_request(format!("instance {row}: {e}")))?;
        let count: usize = shape.iter().product();
        if values.len() != count {
            return Err(ApiError::bad_request(format!(
                "instance {row} is a ragged array: {} values where its shape {shape:?} needs {count}",
                values.len()
            )));
        }
        data.append(&values);
        row_shape = Some(shape);
    }
    let mut shape = row_shape.unwrap_or_default();
    if signature.batchable {
        shape.insert(0, instances.len());
    }
    Ok(vec![ShapedTensor { shape, data }])
}

fn nested_shape(value: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut at = value;
    while let Value::Array(items) = at {
        shape.push(items.len());
        match items.first() {
            Some(first) => at = first,
            None => break,
        }
    }
    shape
}

fn short(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// `{"predictions": [...]}` for `rows` instances.
pub fn encode_predictions(
    signature: &Signature,
    card: Option<&ModelCard>,
    outputs: &[ShapedTensor],
    rows: usize,
) -> Vec<u8> {
    let classes = card.map(|c| c.classes.as_slice()).unwrap_or_default();
    let mut predictions = Vec::with_capacity(rows);
    for row in 0..rows {
        let value = |index: usize| -> Value {
            outputs
                .get(index)
                .map(|t| row_value(t, row, rows))
                .unwrap_or(Value::Null)
        };
        let prediction = if signature.outputs.len() == 1 && card.is_none() {
            value(0)
        } else {
            let mut object = Map::new();
            for (index, spec) in signature.outputs.iter().enumerate() {
                let mut v = value(index);
                // Lepton classifiers: probabilities by class name, which says which is which.
                if card.is_some()
                    && spec.tensor.name == crate::onnx::OUTPUT_PROBABILITIES
                    && let Value::Array(ps) = &v
                    && ps.len() == classes.len()
                {
                    v = Value::Object(classes.iter().cloned().zip(ps.iter().cloned()).collect());
                }
                object.insert(spec.tensor.name.clone(), v);
            }
            Value::Object(object)
        };
        predictions.push(prediction);
    }
    serde_json::to_vec(&serde_json::json!({ "predictions": predictions })).unwrap_or_default()
}

/// Row `row` of `t` as JSON: a scalar when the row holds one value, else a nested array.
fn row_value(t: &ShapedTensor, row: usize, rows: usize) -> Value {
    let per_row: usize = t.shape.iter().skip(1).product();
    let batched = t.shape.first() == Some(&rows);
    let (start, inner) = if batched {
        (row * per_row, &t.shape[1..])
    } else {
        (0, &t.shape[..])
    };
    let len: usize = inner.iter().product();
    if len == 1 {
        return element(&t.data, start);
    }
    nest(&t.data, start, inner)
}

fn nest(data: &TensorData, start: usize, shape: &[usize]) -> Value {
    match shape {
        [] => element(data, start),
        [n] => Value::Array((0..*n).map(|i| element(data, start + i)).collect()),
        [n, rest @ ..] => {
            let step: usize = rest.iter().product();
            Value::Array(
                (0..*n)
                    .map(|i| nest(data, start + i * step, rest))
                    .collect(),
            )
        }
    }
}

fn element(data: &TensorData, i: usize) -> Value {
    match data {
        TensorData::Bool(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Uint8(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Uint16(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Uint32(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Uint64(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Int8(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Int16(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Int32(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Int64(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Fp32(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Fp64(v) => v.get(i).map(|x| Value::from(*x)),
        TensorData::Bytes(v) => v.get(i).map(|x| Value::from(x.as_str())),
    }
    .unwrap_or(Value::Null)
}
