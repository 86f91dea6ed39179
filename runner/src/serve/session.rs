//! ONNX Runtime sessions for serving: execution provider with CPU fallback, thread settings,
//! the graph's signature, and running tensors through the model.

use std::path::Path;

use lepton_crds::v1alpha1::ExecutionProvider;
use ort::ep::ExecutionProvider as _;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorElementType;
use ort::value::{DynValue, Tensor, TensorRef, ValueType};

use super::datatype::DataType;
use super::signature::{OutputForm, OutputSpec, Signature, TensorSpec};
use super::tensor::TensorData;
use crate::onnx_runtime::environment;

/// Thread and provider settings of a serving session.
#[derive(Clone, Debug, Default)]
pub struct SessionSettings {
    /// Requested execution provider.
    pub provider: ExecutionProvider,
    /// Threads inside one operator; 0 leaves the choice to ONNX Runtime (one per core).
    pub intra_op_threads: usize,
    /// Threads across independent operators; 0 is treated as 1.
    pub inter_op_threads: usize,
}

/// An open session and what it runs on.
pub struct ServingSession {
    /// The session.
    pub session: Session,
    /// The provider actually in use.
    pub provider: ExecutionProvider,
    /// Why the requested provider is not in use, when it is not.
    pub fallback_reason: Option<String>,
}

/// Opens `model` with `settings`; a CUDA request that cannot be met falls back to CPU with a
/// warning and the reason kept in [`ServingSession::fallback_reason`].
pub fn open(
    model: &[u8],
    settings: &SessionSettings,
    library: Option<&Path>,
) -> Result<ServingSession, String> {
    let env = environment(library).map_err(|e| e.0)?;
    let builder = || -> Result<ort::session::builder::SessionBuilder, String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot configure ONNX Runtime: {e}");
        let mut b = Session::builder(env).map_err(|e| fail(&e))?;
        if settings.intra_op_threads > 0 {
            b = b
                .with_intra_threads(settings.intra_op_threads)
                .map_err(|e| fail(&e))?;
        }
        // Spinning thread pools keep cores busy between requests, and the HTTP side needs them.
        b.with_inter_threads(settings.inter_op_threads.max(1))
            .map_err(|e| fail(&e))?
            .with_intra_op_spinning(false)
            .map_err(|e| fail(&e))?
            .with_inter_op_spinning(false)
            .map_err(|e| fail(&e))
    };
    let commit = |mut b: ort::session::builder::SessionBuilder| {
        b.commit_from_memory(model)
            .map_err(|e| format!("ONNX Runtime could not load the model: {e}"))
    };
    if settings.provider == ExecutionProvider::Cuda {
        let reason = match ort::ep::CUDA::is_available() {
            Ok(true) => {
                let attempt = builder()?
                    .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                    .map_err(|e| e.to_string())
                    .and_then(|mut b| b.commit_from_memory(model).map_err(|e| e.to_string()));
                match attempt {
                    Ok(session) => {
                        return Ok(ServingSession {
                            session,
                            provider: ExecutionProvider::Cuda,
                            fallback_reason: None,
                        });
                    }
                    Err(e) => format!("the CUDA execution provider failed to start: {e}"),
                }
            }
            Ok(false) => "this ONNX Runtime library has no CUDA execution provider (use the onnxruntime-gpu build and a GPU node)".to_owned(),
            Err(e) => format!("cannot list ONNX Runtime's execution providers: {e}"),
        };
        tracing::warn!(reason = %reason, "CUDA was requested but is not usable: serving on CPU");
        return Ok(ServingSession {
            session: commit(builder()?)?,
            provider: ExecutionProvider::Cpu,
            fallback_reason: Some(reason),
        });
    }
    Ok(ServingSession {
        session: commit(builder()?)?,
        provider: ExecutionProvider::Cpu,
        fallback_reason: None,
    })
}

/// Reads the graph's inputs and outputs. Inputs of a type the protocol cannot carry make the
/// model unservable; such outputs are left out with a warning.
pub fn signature(session: &Session) -> Result<Signature, String> {
    let mut inputs = Vec::new();
    for outlet in session.inputs() {
        match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => {
                let datatype = DataType::from_onnx(*ty)
                    .filter(|d| *d != DataType::Fp16)
                    .ok_or_else(|| {
                        format!(
                            "the model's input `{}` has element type {ty}, which this server cannot feed",
                            outlet.name()
                        )
                    })?;
                inputs.push(TensorSpec {
                    name: outlet.name().to_owned(),
                    datatype,
                    shape: shape.iter().map(|d| if *d < 0 { -1 } else { *d }).collect(),
                });
            }
            other => {
                return Err(format!(
                    "the model's input `{}` is a {other}, not a tensor; this server feeds tensors only",
                    outlet.name()
                ));
            }
        }
    }
    let mut outputs = Vec::new();
    for outlet in session.outputs() {
        let spec = match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => DataType::from_onnx(*ty)
                .filter(|d| *d != DataType::Fp16)
                .map(|datatype| OutputSpec {
                    tensor: TensorSpec {
                        name: outlet.name().to_owned(),
                        datatype,
                        shape: shape.iter().map(|d| if *d < 0 { -1 } else { *d }).collect(),
                    },
                    form: OutputForm::Tensor,
                }),
            ValueType::Sequence(inner) => match inner.as_ref() {
                ValueType::Map { key, value }
                    if *value == TensorElementType::Float32
                        && matches!(key, TensorElementType::Int64 | TensorElementType::String) =>
                {
                    Some(OutputSpec {
                        tensor: TensorSpec {
                            name: outlet.name().to_owned(),
                            datatype: DataType::Fp32,
                            shape: vec![-1, -1],
                        },
                        form: OutputForm::ScoreMaps {
                            string_keys: *key == TensorElementType::String,
                        },
                    })
                }
                _ => None,
            },
            _ => None,
        };
        match spec {
            Some(spec) => outputs.push(spec),
            None => tracing::warn!(
                output = outlet.name(),
                kind = %outlet.dtype(),
                "the model's output cannot be expressed in the Open Inference Protocol; it is not served"
            ),
        }
    }
    if outputs.is_empty() {
        return Err("the model has no output this server can return".to_owned());
    }
    Ok(Signature::new(inputs, outputs))
}

/// One tensor going into or coming out of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapedTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: TensorData,
}

/// Runs the model on `inputs` (in signature order); returns every served output in signature
/// order.
pub fn run(
    session: &mut Session,
    signature: &Signature,
    inputs: &[ShapedTensor],
) -> Result<Vec<ShapedTensor>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("ONNX Runtime failed: {e}");
    let mut feed: Vec<(&str, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
    for (spec, input) in signature.inputs.iter().zip(inputs) {
        let shape = input.shape.clone();
        macro_rules! view {
            ($v:expr) => {
                TensorRef::from_array_view((shape, $v.as_slice()))
                    .map_err(|e| fail(&e))?
                    .into()
            };
        }
        let value: SessionInputValue<'_> = match &input.data {
            TensorData::Bool(v) => view!(v),
            TensorData::Uint8(v) => view!(v),
            TensorData::Uint16(v) => view!(v),
            TensorData::Uint32(v) => view!(v),
            TensorData::Uint64(v) => view!(v),
            TensorData::Int8(v) => view!(v),
            TensorData::Int16(v) => view!(v),
            TensorData::Int32(v) => view!(v),
            TensorData::Int64(v) => view!(v),
            TensorData::Fp32(v) => view!(v),
            TensorData::Fp64(v) => view!(v),
            TensorData::Bytes(v) => Tensor::from_string_array((shape, v.as_slice()))
                .map_err(|e| fail(&e))?
                .into(),
        };
        feed.push((spec.name.as_str(), value));
    }
    let outputs = session.run(feed).map_err(|e| fail(&e))?;
    let mut out = Vec::with_capacity(signature.outputs.len());
    for spec in &signature.outputs {
        let value = outputs
            .get(&spec.tensor.name)
            .ok_or_else(|| format!("the model returned no output `{}`", spec.tensor.name))?;
        out.push(extract(value, spec).map_err(|e| fail(&e))?);
    }
    Ok(out)
}

fn extract(value: &DynValue, spec: &OutputSpec) -> Result<ShapedTensor, ort::Error> {
    if let OutputForm::ScoreMaps { string_keys } = spec.form {
        return extract_score_maps(value, string_keys);
    }
    macro_rules! tensor {
        ($t:ty, $variant:ident) => {{
            let (shape, data) = value.try_extract_tensor::<$t>()?;
            (shape_of(shape), TensorData::$variant(data.to_vec()))
        }};
    }
    let (shape, data) = match spec.tensor.datatype {
        DataType::Bool => tensor!(bool, Bool),
        DataType::Uint8 => tensor!(u8, Uint8),
        DataType::Uint16 => tensor!(u16, Uint16),
        DataType::Uint32 => tensor!(u32, Uint32),
        DataType::Uint64 => tensor!(u64, Uint64),
        DataType::Int8 => tensor!(i8, Int8),
        DataType::Int16 => tensor!(i16, Int16),
        DataType::Int32 => tensor!(i32, Int32),
        DataType::Int64 => tensor!(i64, Int64),
        DataType::Fp32 | DataType::Fp16 => tensor!(f32, Fp32),
        DataType::Fp64 => tensor!(f64, Fp64),
        DataType::Bytes => {
            let (shape, data) = value.try_extract_strings()?;
            (shape_of(shape), TensorData::Bytes(data))
        }
    };
    Ok(ShapedTensor { shape, data })
}

fn shape_of(shape: &[i64]) -> Vec<usize> {
    shape
        .iter()
        .map(|d| usize::try_from(*d).unwrap_or(0))
        .collect()
}

/// scikit-learn's per-row class-to-probability maps as a `[rows, classes]` matrix, classes in
/// key order (the order of the model's `classes_`).
fn extract_score_maps(value: &DynValue, string_keys: bool) -> Result<ShapedTensor, ort::Error> {
    let sequence = value
        .view()
        .downcast::<ort::value::DynSequenceValueType>()?;
    let maps = sequence.try_extract_sequence::<ort::value::DynMapValueType>()?;
    let mut data = Vec::new();
    let mut width = 0usize;
    for map in &maps {
        let mut row: Vec<f32> = if string_keys {
            let mut pairs: Vec<(String, f32)> = map.try_extract_key_values::<String, f32>()?;
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.into_iter().map(|(_, v)| v).collect()
        } else {
            let mut pairs: Vec<(i64, f32)> = map.try_extract_key_values::<i64, f32>()?;
            pairs.sort_by_key(|p| p.0);
            pairs.into_iter().map(|(_, v)| v).collect()
        };
        width = row.len();
        data.append(&mut row);
    }
    Ok(ShapedTensor {
        shape: vec![maps.len(), width],
        data: TensorData::Fp32(data),
    })
}
