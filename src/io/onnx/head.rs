//! The end of the network in a graph: the graph output, or the logits that a
//! trailing `Softmax` or `LogSoftmax` reads (the head is dropped).

use super::graph::GraphIndex;
use super::node::Node;
use super::FileContext;
use crate::network::Head;
use crate::Result;

/// Where the walk stops, and the head node it leaves out.
pub(crate) struct End<'g> {
    /// The value whose data is the network's output.
    pub value: &'g str,
    /// The dropped head and its node index.
    pub head: Option<(Head, usize)>,
}

/// Finds the end of the network: a trailing `Softmax` or `LogSoftmax` over the
/// class axis is left out (or, with `strict`, refused).
///
/// # Errors
///
/// [`crate::Error::Unsupported`] for a head when `strict` is set, a head over
/// another axis, or logits that other nodes also read.
pub(crate) fn network_end<'g>(graph: &GraphIndex<'g>, strict: bool, ctx: &FileContext) -> Result<End<'g>> {
    let plain = End {
        value: graph.output,
        head: None,
    };
    let Some(index) = graph.producer(graph.output) else {
        return Ok(plain);
    };
    let node = Node::at(graph, index, ctx);
    let head = match (node.op(), node.proto.domain.as_deref()) {
        ("Softmax", None | Some("" | "ai.onnx")) => Head::Softmax,
        ("LogSoftmax", None | Some("" | "ai.onnx")) => Head::LogSoftmax,
        _ => return Ok(plain),
    };
    if strict {
        return Err(node.unsupported(
            "output head refused because OnnxOptions::strict_head is set; export the model without it \
             (its logits have the same regions and arg-max) or clear strict_head",
        ));
    }
    // The logits are (N, classes): axis 1 (opset < 13 default) or -1 (opset >= 13 default).
    let axis = node.int("axis", -1)?;
    if axis != 1 && axis != -1 {
        return Err(node.unsupported(format_args!(
            "over axis {axis}; only a head over the class axis of (batch, classes) logits is dropped"
        )));
    }
    let logits = node
        .input(0)
        .ok_or_else(|| node.unsupported("without an input"))?;
    if graph.consumers(logits) != [index] {
        return Err(
            node.unsupported("head whose logits other nodes also read; export the logits as the only output")
        );
    }
    Ok(End {
        value: logits,
        head: Some((head, index)),
    })
}
