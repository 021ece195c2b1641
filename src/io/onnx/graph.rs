//! An index over an ONNX graph: who produces and who consumes each value,
//! which values are constants, where the data enters and leaves.

use std::collections::{HashMap, HashSet};

use super::proto::{DimensionValue, GraphProto, NodeProto, TensorProto};
use super::FileContext;
use crate::network::Shape;
use crate::{Error, Result};

/// The checked structure of a graph with one data input and one output.
///
/// # Invariants
///
/// Every node input names a value defined before the node (the graph input, a
/// constant, or an output of an earlier node) and every value is defined once,
/// so walking from producers to consumers always moves to higher node indices
/// and terminates.
pub(crate) struct GraphIndex<'g> {
    /// The nodes, in file order (topological).
    pub nodes: &'g [NodeProto],
    /// Initializers and the outputs of `Constant` nodes.
    constants: HashMap<&'g str, &'g TensorProto>,
    /// For each value, the distinct non-`Constant` nodes that read it, in index order.
    consumers: HashMap<&'g str, Vec<usize>>,
    /// For each value computed by a node, that node.
    producers: HashMap<&'g str, usize>,
    /// The data input's name.
    pub input: &'g str,
    /// The data input's per-sample shape.
    pub input_shape: Shape,
    /// The data input's batch size when the file fixes it (`None`: symbolic).
    pub fixed_batch: Option<usize>,
    /// The graph output's name.
    pub output: &'g str,
}

impl<'g> GraphIndex<'g> {
    /// Indexes `graph`, checking its structure.
    ///
    /// # Errors
    ///
    /// [`Error::File`] for undefined or twice-defined values and missing names;
    /// [`Error::Unsupported`] for several data inputs or outputs, inputs that
    /// are neither a flat vector nor a CHW image, and non-standard domains.
    pub(crate) fn new(graph: &'g GraphProto, ctx: &FileContext) -> Result<Self> {
        let mut constants: HashMap<&str, &TensorProto> = HashMap::new();
        for t in &graph.initializer {
            let name = t.name.as_deref().unwrap_or("");
            if name.is_empty() {
                return Err(ctx.error("an initializer has no name"));
            }
            constants.insert(name, t);
        }
        let (input, input_shape, fixed_batch) = data_input(graph, &constants, ctx)?;
        let output = single_output(graph, ctx)?;

        let mut defined: HashSet<&str> = constants.keys().copied().collect();
        defined.insert(input);
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut producers: HashMap<&str, usize> = HashMap::new();
        for (index, node) in graph.node.iter().enumerate() {
            for value in node.input.iter().filter(|v| !v.is_empty()) {
                if !defined.contains(value.as_str()) {
                    return Err(ctx.error(format!(
                        "{} reads {value}, which no earlier node, initializer or input defines",
                        node_label(node, index)
                    )));
                }
                let readers = consumers.entry(value.as_str()).or_default();
                if readers.last() != Some(&index) {
                    readers.push(index);
                }
            }
            if is_constant_node(node) {
                let value = constant_value(node, index)?;
                if let Some(name) = node.output.first() {
                    constants.insert(name.as_str(), value);
                }
            }
            for value in node.output.iter().filter(|v| !v.is_empty()) {
                if !defined.insert(value.as_str()) {
                    return Err(ctx.error(format!("value {value} is defined twice")));
                }
                producers.insert(value.as_str(), index);
            }
        }
        if !defined.contains(output) {
            return Err(ctx.error(format!("graph output {output} is never computed")));
        }
        Ok(GraphIndex {
            nodes: &graph.node,
            constants,
            consumers,
            producers,
            input,
            input_shape,
            fixed_batch,
            output,
        })
    }

    /// The constant tensor named `value`, if it is one.
    pub(crate) fn constant(&self, value: &str) -> Option<&'g TensorProto> {
        self.constants.get(value).copied()
    }

    /// The nodes that read `value`, in index order, each once.
    pub(crate) fn consumers(&self, value: &str) -> &[usize] {
        self.consumers.get(value).map_or(&[], Vec::as_slice)
    }

    /// The node that computes `value` (`None` for the input and constants).
    pub(crate) fn producer(&self, value: &str) -> Option<usize> {
        self.producers.get(value).copied()
    }

    /// Whether `value` leaves the graph or feeds a node.
    pub(crate) fn is_used(&self, value: &str) -> bool {
        value == self.output || !self.consumers(value).is_empty()
    }

    /// The first node reached by data flowing from both nodes `a` and `b`.
    ///
    /// The sweep relies on the topological order checked in [`GraphIndex::new`]:
    /// a node's marks are final once every earlier node has been visited.
    pub(crate) fn first_common_descendant(&self, a: usize, b: usize) -> Option<usize> {
        const FROM_A: u8 = 1;
        const FROM_B: u8 = 2;
        let mut marks: HashMap<&str, u8> = HashMap::new();
        for index in a.min(b)..self.nodes.len() {
            let node = &self.nodes[index];
            let mut mark = (node.input.iter())
                .filter_map(|v| marks.get(v.as_str()))
                .fold(0, |acc, m| acc | m);
            if index == a {
                mark |= FROM_A;
            }
            if index == b {
                mark |= FROM_B;
            }
            // A start node that the other branch also reaches (an identity skip
            // feeding the merge directly) is the merge itself.
            if mark == FROM_A | FROM_B {
                return Some(index);
            }
            if mark != 0 {
                for value in node.output.iter().filter(|v| !v.is_empty()) {
                    marks.insert(value.as_str(), mark);
                }
            }
        }
        None
    }
}

/// A node's name for messages: its own name, or its position and operator.
pub(crate) fn node_label(node: &NodeProto, index: usize) -> String {
    match node.name.as_deref() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => format!("node {index} ({})", node.op_type.as_deref().unwrap_or("?")),
    }
}

/// Whether a node is an ONNX `Constant`.
fn is_constant_node(node: &NodeProto) -> bool {
    node.op_type.as_deref() == Some("Constant") && node.input.is_empty()
}

/// The tensor a `Constant` node produces; other encodings (`value_float`, ...) are unsupported.
fn constant_value(node: &NodeProto, index: usize) -> Result<&TensorProto> {
    let attr = node.attribute.iter().find(|a| a.name.as_deref() == Some("value"));
    attr.and_then(|a| a.t.as_ref()).ok_or_else(|| Error::Unsupported {
        layer: node_label(node, index),
        op: "Constant without a tensor `value`".into(),
    })
}

/// The one graph input that is not an initializer, its per-sample shape and
/// its batch size if fixed.
fn data_input<'g>(
    graph: &'g GraphProto,
    constants: &HashMap<&str, &TensorProto>,
    ctx: &FileContext,
) -> Result<(&'g str, Shape, Option<usize>)> {
    let data: Vec<_> = (graph.input.iter())
        .filter(|v| !constants.contains_key(v.name.as_deref().unwrap_or("")))
        .collect();
    let [input] = data.as_slice() else {
        return Err(Error::Unsupported {
            layer: "graph".into(),
            op: format!("{} data inputs (exactly one is supported)", data.len()),
        });
    };
    let name = input.name.as_deref().unwrap_or("");
    if name.is_empty() {
        return Err(ctx.error("the graph input has no name"));
    }
    let dims = (input.r#type.as_ref())
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.as_slice())
        .ok_or_else(|| ctx.error(format!("graph input {name} has no tensor shape")))?;
    // The first dimension is the batch: any size, fixed or symbolic.
    let sizes = (dims.iter().skip(1))
        .map(|d| match d.value {
            Some(DimensionValue::DimValue(v)) if v > 0 => usize::try_from(v).ok(),
            _ => None,
        })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| {
            ctx.error(format!(
                "graph input {name} needs fixed positive sizes after the batch dimension"
            ))
        })?;
    if sizes
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .is_none()
    {
        return Err(ctx.error(format!("graph input {name} has more elements than memory")));
    }
    let shape = match sizes.as_slice() {
        [d] => Shape::Flat(*d),
        [c, h, w] => Shape::Image { c: *c, h: *h, w: *w },
        _ => {
            return Err(Error::Unsupported {
                layer: name.to_string(),
                op: format!(
                    "input of rank {} (a batch of vectors or of CHW images is supported)",
                    dims.len()
                ),
            })
        }
    };
    let fixed_batch = match dims.first().and_then(|d| d.value.as_ref()) {
        Some(DimensionValue::DimValue(v)) => usize::try_from(*v).ok().filter(|&n| n > 0),
        _ => None,
    };
    Ok((name, shape, fixed_batch))
}

/// The graph's only output.
fn single_output<'g>(graph: &'g GraphProto, ctx: &FileContext) -> Result<&'g str> {
    let [output] = graph.output.as_slice() else {
        return Err(Error::Unsupported {
            layer: "graph".into(),
            op: format!("{} outputs (exactly one is supported)", graph.output.len()),
        });
    };
    match output.name.as_deref() {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(ctx.error("the graph output has no name")),
    }
}
