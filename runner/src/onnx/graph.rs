//! A small builder for ONNX graphs: unique value names, constants as initializers, typed
//! attributes.

use super::proto::{
    AttributeProto, Dimension, GraphProto, NodeProto, TensorProto, TensorShapeProto,
    TensorTypeProto, TypeProto, ValueInfoProto, attribute_type, data_type,
};

/// Domain of the ONNX-ML operators.
pub const ML_DOMAIN: &str = "ai.onnx.ml";

/// Accumulates nodes, constants, inputs and outputs.
#[derive(Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    counter: usize,
}

/// A tensor dimension in a value's declared type.
pub enum Dim {
    /// Fixed size.
    Fixed(i64),
    /// Named, variable size.
    Named(&'static str),
}

impl GraphBuilder {
    /// A fresh value name starting with `hint`.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// Declares a graph input.
    pub fn input(&mut self, name: &str, elem_type: i32, dims: &[Dim], doc: &str) {
        self.graph
            .input
            .push(value_info(name, elem_type, dims, doc));
    }

    /// Declares a graph output.
    pub fn output(&mut self, name: &str, elem_type: i32, dims: &[Dim], doc: &str) {
        self.graph
            .output
            .push(value_info(name, elem_type, dims, doc));
    }

    /// A float constant of shape `dims`.
    pub fn float_const(&mut self, hint: &str, dims: &[i64], values: Vec<f32>) -> String {
        let name = self.fresh(hint);
        self.graph.initializer.push(TensorProto {
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            float_data: values,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    /// A double constant of shape `dims`.
    pub fn double_const(&mut self, hint: &str, dims: &[i64], values: Vec<f64>) -> String {
        let name = self.fresh(hint);
        self.graph.initializer.push(TensorProto {
            dims: dims.to_vec(),
            data_type: data_type::DOUBLE,
            double_data: values,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    /// An int64 constant of shape `dims`.
    pub fn int64_const(&mut self, hint: &str, dims: &[i64], values: Vec<i64>) -> String {
        let name = self.fresh(hint);
        self.graph.initializer.push(TensorProto {
            dims: dims.to_vec(),
            data_type: data_type::INT64,
            int64_data: values,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    /// A string constant of shape `dims`.
    pub fn string_const(&mut self, hint: &str, dims: &[i64], values: &[String]) -> String {
        let name = self.fresh(hint);
        self.graph.initializer.push(TensorProto {
            dims: dims.to_vec(),
            data_type: data_type::STRING,
            string_data: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    /// Adds a default-domain node with one output and returns the output's name.
    pub fn op(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.op_in("", op_type, inputs, attributes)
    }

    /// Adds a node of `domain` with one output and returns the output's name.
    pub fn op_in(
        &mut self,
        domain: &str,
        op_type: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        let output = self.fresh(&op_type.to_ascii_lowercase());
        self.op_named(domain, op_type, inputs, &output, attributes);
        output
    }

    /// Adds a node whose output has the given name (for graph outputs).
    pub fn op_named(
        &mut self,
        domain: &str,
        op_type: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<AttributeProto>,
    ) {
        let name = self.fresh(&format!("node_{op_type}"));
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name,
            op_type: op_type.to_string(),
            attribute: attributes,
            domain: domain.to_string(),
        });
    }

    /// The finished graph.
    pub fn finish(mut self, name: &str, doc: &str) -> GraphProto {
        self.graph.name = name.to_string();
        self.graph.doc_string = doc.to_string();
        self.graph
    }
}

fn value_info(name: &str, elem_type: i32, dims: &[Dim], doc: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| match d {
                            Dim::Fixed(v) => Dimension {
                                dim_value: Some(*v),
                                dim_param: None,
                            },
                            Dim::Named(n) => Dimension {
                                dim_value: None,
                                dim_param: Some((*n).to_string()),
                            },
                        })
                        .collect(),
                }),
            }),
        }),
        doc_string: doc.to_string(),
    }
}

/// An integer attribute.
pub fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: value,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

/// A string attribute.
pub fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: value.as_bytes().to_vec(),
        r#type: attribute_type::STRING,
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn ints(name: &str, values: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: values,
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

/// A float-list attribute.
pub fn floats(name: &str, values: Vec<f32>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        floats: values,
        r#type: attribute_type::FLOATS,
        ..Default::default()
    }
}

/// A string-list attribute.
pub fn strings<S: AsRef<str>>(name: &str, values: &[S]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        strings: values
            .iter()
            .map(|s| s.as_ref().as_bytes().to_vec())
            .collect(),
        r#type: attribute_type::STRINGS,
        ..Default::default()
    }
}
