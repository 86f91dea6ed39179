//! What a served model takes and gives, in the protocol's terms: names, datatypes and shapes
//! (`-1` for a dimension of any size), read from the ONNX graph.

use serde::Serialize;

use super::datatype::DataType;

/// One input or output tensor as the model metadata endpoint shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Protocol datatype.
    pub datatype: DataType,
    /// Dimensions; `-1` where any size is accepted.
    pub shape: Vec<i64>,
}

impl Serialize for DataType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// How the server reads an output from ONNX Runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputForm {
    /// A plain tensor.
    Tensor,
    /// A sequence of maps from class to score, one map per row (scikit-learn's `ZipMap`);
    /// served as an `FP32` tensor `[rows, classes]` with the classes in key order.
    ScoreMaps {
        /// Whether the map keys are strings (else 64-bit integers).
        string_keys: bool,
    },
}

/// A served output: its protocol form and how to read it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    /// Name, datatype and shape.
    pub tensor: TensorSpec,
    /// How ONNX Runtime returns it.
    pub form: OutputForm,
}

/// The model's inputs and outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// Inputs, in graph order; every one is required.
    pub inputs: Vec<TensorSpec>,
    /// Outputs the server can return, in graph order.
    pub outputs: Vec<OutputSpec>,
    /// Whether the first dimension of every input and output is a free batch dimension, so
    /// that requests can be concatenated along it (confirmed by the warm-up run).
    pub batchable: bool,
}

impl Signature {
    /// Builds the signature and works out whether it has a batch dimension.
    pub fn new(inputs: Vec<TensorSpec>, outputs: Vec<OutputSpec>) -> Signature {
        let batchable = !inputs.is_empty()
            && inputs
                .iter()
                .all(|t| t.shape.first().is_some_and(|d| *d < 0))
            && outputs.iter().all(|o| match o.form {
                OutputForm::ScoreMaps { .. } => true,
                OutputForm::Tensor => o.tensor.shape.first().is_some_and(|d| *d < 0),
            });
        Signature {
            inputs,
            outputs,
            batchable,
        }
    }

    /// Index of the input named `name`.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|t| t.name == name)
    }

    /// Index of the output named `name`.
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|o| o.tensor.name == name)
    }

    /// `a (FP64 [-1, 1]), b (BYTES [-1, 1])`: for messages that list what the model takes.
    pub fn describe_inputs(&self) -> String {
        describe(self.inputs.iter())
    }

    /// The outputs' names, for messages.
    pub fn describe_outputs(&self) -> String {
        describe(self.outputs.iter().map(|o| &o.tensor))
    }
}

/// `name (DATATYPE [d0, d1])`.
pub fn describe_one(t: &TensorSpec) -> String {
    let dims: Vec<String> = t.shape.iter().map(i64::to_string).collect();
    format!("{} ({} [{}])", t.name, t.datatype, dims.join(", "))
}

fn describe<'a>(tensors: impl Iterator<Item = &'a TensorSpec>) -> String {
    let all: Vec<String> = tensors.map(describe_one).collect();
    if all.is_empty() {
        "nothing".to_owned()
    } else {
        all.join(", ")
    }
}
