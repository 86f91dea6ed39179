//! The exported graph: raw columns in, preprocessing, model, head; `label` and `probabilities`
//! (classification) or `value` (regression) out.

use lepton_crds::v1alpha1::Activation;
use prost::Message;

use super::graph::{Dim, GraphBuilder, ML_DOMAIN, floats, int, ints, string, strings};
use super::proto::{ModelProto, OperatorSetIdProto, StringStringEntryProto, data_type};
use super::{IR_VERSION, ML_OPSET, OPSET};
use crate::metrics::TaskKind;
use crate::models::dense::{DenseNetwork, gelu_constants};
use crate::models::gbdt::{Forest, Node};
use crate::models::{Head, Model};
use crate::preprocess::{InputEncoder, Preprocessor};

/// Output holding the predicted class (string, `[batch, 1]`).
pub const OUTPUT_LABEL: &str = "label";
/// Output holding class probabilities (float, `[batch, classes]`).
pub const OUTPUT_PROBABILITIES: &str = "probabilities";
/// Output holding the predicted value (float, `[batch, 1]`).
pub const OUTPUT_VALUE: &str = "value";

/// What the exporter records besides the graph.
pub struct ExportInfo<'a> {
    /// Class labels in index order (classification).
    pub classes: &'a [String],
    /// Target column name.
    pub target: &'a str,
    /// Producer version.
    pub version: &'a str,
}

/// Serialises `model` with its preprocessing and head as an ONNX model.
pub fn export_model(
    model: &Model,
    head: &Head,
    preprocessor: &Preprocessor,
    info: &ExportInfo,
) -> Vec<u8> {
    let mut g = GraphBuilder::default();
    let features = preprocessing(&mut g, preprocessor);
    let scores = match model {
        Model::Dense(network) => dense(&mut g, network, &features),
        Model::Gbdt(forest) => trees(&mut g, forest, &features, head.raw_width()),
    };
    outputs(&mut g, head, &scores, info.classes);
    let doc = format!(
        "Lepton model predicting `{}` from raw columns; preprocessing is part of the graph.",
        info.target
    );
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![
            OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            },
            OperatorSetIdProto {
                domain: ML_DOMAIN.into(),
                version: ML_OPSET,
            },
        ],
        producer_name: "lepton".into(),
        producer_version: info.version.into(),
        domain: "ai.lepton".into(),
        model_version: 1,
        doc_string: doc.clone(),
        graph: Some(g.finish("lepton", &doc)),
        metadata_props: vec![
            entry("lepton.target", info.target),
            entry("lepton.task", task_name(head.task)),
            entry(
                "lepton.classes",
                &serde_json::to_string(info.classes).unwrap_or_default(),
            ),
        ],
    };
    model.encode_to_vec()
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value: value.into(),
    }
}

fn task_name(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Binary => "binary",
        TaskKind::Multiclass { .. } => "multiclass",
        TaskKind::Regression => "regression",
    }
}

/// One input per raw column; returns the `[batch, features]` float matrix.
fn preprocessing(g: &mut GraphBuilder, p: &Preprocessor) -> String {
    let batch = || [Dim::Named("batch"), Dim::Fixed(1)];
    let mut parts = Vec::new();
    for input in &p.inputs {
        match input {
            InputEncoder::Numeric {
                name,
                fill,
                indicator,
                clip,
                scale,
            } => {
                g.input(
                    name,
                    data_type::DOUBLE,
                    &batch(),
                    "numeric column; NaN means missing",
                );
                let missing = g.op("IsNaN", &[name], vec![]);
                let fill = g.double_const("fill", &[], vec![*fill]);
                let mut v = g.op("Where", &[&missing, &fill, name], vec![]);
                if let Some((lo, hi)) = clip {
                    let lo = g.double_const("clip_lo", &[], vec![*lo]);
                    let hi = g.double_const("clip_hi", &[], vec![*hi]);
                    v = g.op("Clip", &[&v, &lo, &hi], vec![]);
                }
                if let Some((mean, std)) = scale {
                    let mean = g.double_const("mean", &[], vec![*mean]);
                    let std = g.double_const("std", &[], vec![*std]);
                    let centred = g.op("Sub", &[&v, &mean], vec![]);
                    v = g.op("Div", &[&centred, &std], vec![]);
                }
                parts.push(g.op("Cast", &[&v], vec![int("to", i64::from(data_type::FLOAT))]));
                if *indicator {
                    parts.push(g.op(
                        "Cast",
                        &[&missing],
                        vec![int("to", i64::from(data_type::FLOAT))],
                    ));
                }
            }
            InputEncoder::Boolean {
                name,
                negative,
                positive,
                fallback,
            } => {
                g.input(
                    name,
                    data_type::STRING,
                    &batch(),
                    &format!("\"{positive}\" or \"{negative}\""),
                );
                let (keys, values) = lookup(&[negative.as_str(), positive.as_str()], &[], 0);
                let index = g.op_in(
                    ML_DOMAIN,
                    "LabelEncoder",
                    &[name],
                    vec![
                        strings("keys_strings", &keys),
                        ints("values_int64s", values),
                        int("default_int64", i64::from(*fallback)),
                    ],
                );
                parts.push(g.op(
                    "Cast",
                    &[&index],
                    vec![int("to", i64::from(data_type::FLOAT))],
                ));
            }
            InputEncoder::Categorical {
                name,
                categories,
                missing_index,
            } => {
                g.input(
                    name,
                    data_type::STRING,
                    &batch(),
                    "categorical column; unknown values go to the other bucket",
                );
                let refs: Vec<&str> = categories.iter().map(String::as_str).collect();
                let mut nulls: Vec<&str> = vec![""];
                nulls.extend(p.null_values.iter().map(String::as_str));
                let (keys, values) = lookup(&refs, &nulls, *missing_index as i64);
                let index = g.op_in(
                    ML_DOMAIN,
                    "LabelEncoder",
                    &[name],
                    vec![
                        strings("keys_strings", &keys),
                        ints("values_int64s", values),
                        int("default_int64", categories.len() as i64),
                    ],
                );
                let width = categories.len() as i64 + 1;
                let range = g.int64_const("categories", &[1, width], (0..width).collect());
                let hot = g.op("Equal", &[&index, &range], vec![]);
                parts.push(g.op(
                    "Cast",
                    &[&hot],
                    vec![int("to", i64::from(data_type::FLOAT))],
                ));
            }
        }
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    g.op("Concat", &refs, vec![int("axis", 1)])
}

/// Keys and values of a string lookup: exact training values first, then the missing tokens,
/// then whitespace-trimmed training values not already present (the same precedence as
/// `preprocess::value_index`).
fn lookup(values: &[&str], missing: &[&str], missing_index: i64) -> (Vec<String>, Vec<i64>) {
    let mut keys: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut add = |key: &str, value: i64, keys: &mut Vec<String>| {
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
            out.push(value);
        }
    };
    for (i, v) in values.iter().enumerate() {
        add(v, i as i64, &mut keys);
    }
    for m in missing {
        add(m, missing_index, &mut keys);
    }
    for (i, v) in values.iter().enumerate() {
        add(v.trim(), i as i64, &mut keys);
    }
    (keys, out)
}

fn dense(g: &mut GraphBuilder, network: &DenseNetwork, features: &str) -> String {
    let mut x = features.to_string();
    let last = network.layers.len() - 1;
    for (i, layer) in network.layers.iter().enumerate() {
        let (rows, cols) = layer.weights.dim();
        let w = g.float_const(
            "weights",
            &[rows as i64, cols as i64],
            layer.weights.iter().copied().collect(),
        );
        let b = g.float_const("bias", &[rows as i64], layer.bias.to_vec());
        x = g.op("Gemm", &[&x, &w, &b], vec![int("transB", 1)]);
        if i < last {
            x = activation(g, network.activation, &x);
        }
    }
    x
}

fn activation(g: &mut GraphBuilder, activation: Activation, x: &str) -> String {
    match activation {
        Activation::Relu => g.op("Relu", &[x], vec![]),
        Activation::Tanh => g.op("Tanh", &[x], vec![]),
        Activation::Gelu => {
            // 0.5·x·(1 + tanh(c·(x + k·x·x·x))), multiplied in the order training uses.
            let (c, k) = gelu_constants();
            let c = g.float_const("gelu_c", &[], vec![c]);
            let k = g.float_const("gelu_k", &[], vec![k]);
            let half = g.float_const("half", &[], vec![0.5]);
            let one = g.float_const("one", &[], vec![1.0]);
            let kx = g.op("Mul", &[&k, x], vec![]);
            let kxx = g.op("Mul", &[&kx, x], vec![]);
            let kxxx = g.op("Mul", &[&kxx, x], vec![]);
            let inner = g.op("Add", &[x, &kxxx], vec![]);
            let scaled = g.op("Mul", &[&c, &inner], vec![]);
            let t = g.op("Tanh", &[&scaled], vec![]);
            let half_x = g.op("Mul", &[&half, x], vec![]);
            let one_plus = g.op("Add", &[&one, &t], vec![]);
            g.op("Mul", &[&half_x, &one_plus], vec![])
        }
    }
}

fn trees(g: &mut GraphBuilder, forest: &Forest, features: &str, width: usize) -> String {
    let (mut tree_ids, mut node_ids, mut feature_ids, mut modes) = (vec![], vec![], vec![], vec![]);
    let (mut values, mut true_ids, mut false_ids) = (vec![], vec![], vec![]);
    let (mut target_tree, mut target_node, mut target_id, mut target_weight) =
        (vec![], vec![], vec![], vec![]);
    for (t, tree) in forest.trees.iter().enumerate() {
        for (n, node) in tree.nodes.iter().enumerate() {
            tree_ids.push(t as i64);
            node_ids.push(n as i64);
            match node {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    feature_ids.push(*feature as i64);
                    modes.push("BRANCH_LEQ");
                    values.push(*threshold);
                    true_ids.push(*left as i64);
                    false_ids.push(*right as i64);
                }
                Node::Leaf { value } => {
                    feature_ids.push(0);
                    modes.push("LEAF");
                    values.push(0.0);
                    true_ids.push(0);
                    false_ids.push(0);
                    target_tree.push(t as i64);
                    target_node.push(n as i64);
                    target_id.push(tree.output as i64);
                    target_weight.push(*value);
                }
            }
        }
    }
    g.op_in(
        ML_DOMAIN,
        "TreeEnsembleRegressor",
        &[features],
        vec![
            int("n_targets", width as i64),
            ints("nodes_treeids", tree_ids),
            ints("nodes_nodeids", node_ids),
            ints("nodes_featureids", feature_ids),
            strings("nodes_modes", &modes),
            floats("nodes_values", values),
            ints("nodes_truenodeids", true_ids),
            ints("nodes_falsenodeids", false_ids),
            ints("target_treeids", target_tree),
            ints("target_nodeids", target_node),
            ints("target_ids", target_id),
            floats("target_weights", target_weight),
            floats("base_values", forest.base_scores.clone()),
            string("aggregate_function", "SUM"),
            string("post_transform", "NONE"),
        ],
    )
}

fn outputs(g: &mut GraphBuilder, head: &Head, scores: &str, classes: &[String]) {
    let float_t = data_type::FLOAT;
    match head.task {
        TaskKind::Regression => {
            let std = g.float_const("target_std", &[], vec![head.target_std]);
            let mean = g.float_const("target_mean", &[], vec![head.target_mean]);
            let scaled = g.op("Mul", &[scores, &std], vec![]);
            g.op_named("", "Add", &[&scaled, &mean], OUTPUT_VALUE, vec![]);
            g.output(
                OUTPUT_VALUE,
                float_t,
                &[Dim::Named("batch"), Dim::Fixed(1)],
                "predicted value",
            );
            return;
        }
        TaskKind::Binary => {
            let p = g.op("Sigmoid", &[scores], vec![]);
            let one = g.float_const("one", &[], vec![1.0]);
            let q = g.op("Sub", &[&one, &p], vec![]);
            g.op_named(
                "",
                "Concat",
                &[&q, &p],
                OUTPUT_PROBABILITIES,
                vec![int("axis", 1)],
            );
        }
        TaskKind::Multiclass { .. } => {
            g.op_named(
                "",
                "Softmax",
                &[scores],
                OUTPUT_PROBABILITIES,
                vec![int("axis", 1)],
            );
        }
    }
    let index = g.op(
        "ArgMax",
        &[OUTPUT_PROBABILITIES],
        vec![int("axis", 1), int("keepdims", 1)],
    );
    let names = g.string_const("classes", &[classes.len() as i64], classes);
    g.op_named(
        "",
        "Gather",
        &[&names, &index],
        OUTPUT_LABEL,
        vec![int("axis", 0)],
    );
    g.output(
        OUTPUT_LABEL,
        data_type::STRING,
        &[Dim::Named("batch"), Dim::Fixed(1)],
        "predicted class",
    );
    g.output(
        OUTPUT_PROBABILITIES,
        float_t,
        &[Dim::Named("batch"), Dim::Fixed(classes.len() as i64)],
        &format!(
            "probability of each class, in the order {}",
            classes.join(", ")
        ),
    );
}
