//! The walk from the graph input to its output, turning nodes into builder calls.
//!
//! The walk follows data: a value read by one node continues the chain; a
//! value read by two nodes opens a residual block, whose two branches must
//! rejoin in an `Add`. One branch becomes the block's body (any chain of
//! layers, nested blocks included) and the other its skip: nothing (the
//! identity), a dense layer, or a convolution with an optional batch norm.

use ndarray::Array1;

use super::graph::GraphIndex;
use super::head;
use super::layers;
use super::node::Node;
use super::FileContext;
use crate::network::{Network, NetworkBuilder, Shape, Skip};
use crate::{Error, Result};

/// Residual blocks nested deeper than this are rejected (it bounds the recursion).
pub(crate) const MAX_RESIDUAL_DEPTH: usize = 64;

/// The most nodes a skip branch may have (a layer, its bias or batch norm, no-ops).
const MAX_SKIP_NODES: usize = 8;

/// What an unsupported-operator error tells the user to do.
pub(crate) const SUPPORTED_OPS_HINT: &str = "the importer reads Gemm, MatMul+Add, Conv, \
BatchNormalization, Relu, LeakyRelu, Abs, MaxPool, AveragePool, GlobalAveragePool, Flatten, \
Reshape (flattening), Identity, Dropout, a residual Add and a final Softmax or LogSoftmax \
(dropped); export the network up to its logits with piecewise-linear activations only";

/// Translates an indexed graph into a network; a trailing `Softmax` or
/// `LogSoftmax` is dropped and recorded (refused when `strict_head`).
pub(crate) fn translate(graph: &GraphIndex, ctx: &FileContext, strict_head: bool) -> Result<Network> {
    let end = head::network_end(graph, strict_head, ctx)?;
    let builder = match graph.input_shape {
        Shape::Flat(d) => Network::builder(d),
        Shape::Image { c, h, w } => Network::builder_image(c, h, w),
    };
    let mut walk = Walk {
        graph,
        ctx,
        claimed: vec![false; graph.nodes.len()],
        depth: 0,
    };
    let builder = walk.chain(builder, graph.input, end.value)?;
    let Some((dropped, index)) = end.head else {
        walk.check_all_data_flow_claimed()?;
        return builder.build();
    };
    walk.claim(index)?;
    if !matches!(builder.shape(), Shape::Flat(_)) {
        return Err(walk
            .node(index)
            .unsupported("head on images; flatten the logits first"));
    }
    walk.check_all_data_flow_claimed()?;
    Ok(builder.build()?.with_dropped_head(dropped))
}

/// The state of one translation: which nodes are already part of the network.
struct Walk<'g, 'c> {
    graph: &'c GraphIndex<'g>,
    ctx: &'c FileContext<'c>,
    claimed: Vec<bool>,
    depth: usize,
}

/// One branch of a residual block: its first node and the value it ends in.
#[derive(Clone, Copy)]
struct Branch<'g> {
    first: usize,
    end: &'g str,
}

impl<'g, 'c> Walk<'g, 'c> {
    fn node(&self, index: usize) -> Node<'g, 'c> {
        Node::at(self.graph, index, self.ctx)
    }

    /// Marks a node as translated; a node is never translated twice.
    fn claim(&mut self, index: usize) -> Result<()> {
        if std::mem::replace(&mut self.claimed[index], true) {
            return Err(self
                .ctx
                .error(format!("{} is reached twice", self.node(index).label())));
        }
        Ok(())
    }

    /// Translates the layers from `value` up to `stop`.
    fn chain(&mut self, mut b: NetworkBuilder, mut value: &'g str, stop: &'g str) -> Result<NetworkBuilder> {
        while value != stop {
            (b, value) = match *self.graph.consumers(value) {
                [] => {
                    return Err(self.ctx.error(format!(
                        "value {value} is never read, so {stop} cannot be reached"
                    )))
                }
                [next] => self.step(b, next, value)?,
                [first, second] => self.residual(b, value, first, second)?,
                ref many => {
                    return Err(Error::Unsupported {
                        layer: value.to_string(),
                        op: format!(
                            "value read by {} nodes (at most two: a residual block)",
                            many.len()
                        ),
                    })
                }
            };
        }
        Ok(b)
    }

    /// Translates node `index`, which reads the current value `value`; returns the value after it.
    fn step(&mut self, b: NetworkBuilder, index: usize, value: &'g str) -> Result<(NetworkBuilder, &'g str)> {
        self.claim(index)?;
        let node = self.node(index);
        check_standard_domain(&node)?;
        if node.op() == "Add" {
            return Err(node.unsupported(
                "a sum of two values that do not branch from one value, or a bias without a layer",
            ));
        }
        if node.input(0) != Some(value) {
            return Err(node.unsupported(format_args!("the data {value} is not its first input")));
        }
        node.check_extra_outputs_unused()?;
        let out = node.output()?;
        let b = match node.op() {
            "Gemm" | "MatMul" => {
                let (w, bias) = layers::dense(&node, b.shape())?;
                let (bias, out) = self.absorb_bias(out, bias)?;
                return Ok((b.dense(w, bias)?, out));
            }
            "Conv" => {
                let conv = layers::conv(&node, b.shape())?;
                b.conv2d(conv)?
            }
            "BatchNormalization" => {
                let bn = layers::batch_norm(&node, layers::channels(b.shape()))?;
                b.batch_norm(bn)?
            }
            "Relu" => b.relu(),
            "LeakyRelu" => b.leaky_relu(node.float("alpha", 0.01)?),
            "Abs" => b.abs(),
            "MaxPool" => {
                let pool = layers::pool(&node, b.shape())?;
                b.max_pool2d(pool)?
            }
            "AveragePool" => {
                let pool = layers::pool(&node, b.shape())?;
                b.avg_pool2d(pool)?
            }
            "GlobalAveragePool" => b.global_avg_pool()?,
            "Flatten" | "Reshape" => {
                layers::check_flattens(&node, b.shape())?;
                match b.shape() {
                    Shape::Image { .. } => b.flatten(),
                    Shape::Flat(_) => b,
                }
            }
            "Identity" | "Dropout" => b,
            "Softmax" | "LogSoftmax" => {
                return Err(node.unsupported(format_args!(
                    "before the end of the network; only a final one is dropped. {SUPPORTED_OPS_HINT}"
                )))
            }
            op => {
                return Err(Error::Unsupported {
                    layer: node.label(),
                    op: format!("{op} ({SUPPORTED_OPS_HINT})"),
                })
            }
        };
        Ok((b, out))
    }

    /// Folds an `Add` of a constant that directly follows a dense layer into its bias.
    fn absorb_bias(&mut self, out: &'g str, bias: Array1<f64>) -> Result<(Array1<f64>, &'g str)> {
        let Some(index) = self.bias_add_after(out) else {
            return Ok((bias, out));
        };
        self.claim(index)?;
        let add = self.node(index);
        let pos = if add.input(0) == Some(out) { 1 } else { 0 };
        let extra = add.vector(pos, "bias", bias.len())?;
        Ok((bias + extra, add.output()?))
    }

    /// The node that adds a constant to `value`, when it is `value`'s only reader.
    fn bias_add_after(&self, value: &str) -> Option<usize> {
        if value == self.graph.output {
            return None;
        }
        let &[index] = self.graph.consumers(value) else {
            return None;
        };
        let add = self.node(index);
        let is_bias = add.op() == "Add"
            && check_standard_domain(&add).is_ok()
            && add.proto.input.len() == 2
            && (add.proto.input.iter()).any(|v| v != value && self.graph.constant(v).is_some());
        is_bias.then_some(index)
    }

    /// Translates the residual block that opens at `value`, read by nodes `a` and `b_node`.
    fn residual(
        &mut self,
        b: NetworkBuilder,
        value: &'g str,
        a: usize,
        b_node: usize,
    ) -> Result<(NetworkBuilder, &'g str)> {
        if self.depth >= MAX_RESIDUAL_DEPTH {
            return Err(Error::Unsupported {
                layer: value.to_string(),
                op: format!("residual blocks nested deeper than {MAX_RESIDUAL_DEPTH}"),
            });
        }
        let merge_index =
            self.graph
                .first_common_descendant(a, b_node)
                .ok_or_else(|| Error::Unsupported {
                    layer: value.to_string(),
                    op: "two branches that never rejoin".into(),
                })?;
        let merge = self.node(merge_index);
        let (lhs, rhs) = match (merge.op(), merge.input(0), merge.input(1)) {
            ("Add", Some(lhs), Some(rhs)) if merge.proto.input.len() == 2 => (lhs, rhs),
            (op, ..) => {
                return Err(Error::Unsupported {
                    layer: merge.label(),
                    op: format!("{op} joining two branches (only a two-input Add is supported)"),
                })
            }
        };
        check_standard_domain(&merge)?;
        let out = merge.output()?;
        self.claim(merge_index)?;

        self.depth += 1;
        let result = if lhs == value || rhs == value {
            let body = Branch {
                first: if a == merge_index { b_node } else { a },
                end: if lhs == value { rhs } else { lhs },
            };
            b.residual(|inner| self.branch(inner, value, body))
        } else {
            let (skip_branch, body) = self.split_skip_and_body(value, [a, b_node], [lhs, rhs])?;
            let skip = self.skip(value, b.shape(), skip_branch)?;
            b.residual_with(skip, |inner| self.branch(inner, value, body))
        };
        self.depth -= 1;
        Ok((result?, out))
    }

    /// Translates one branch of a residual block into `b`.
    fn branch(&mut self, b: NetworkBuilder, value: &'g str, branch: Branch<'g>) -> Result<NetworkBuilder> {
        let (b, next) = self.step(b, branch.first, value)?;
        self.chain(b, next, branch.end)
    }

    /// Decides which branch is the skip: the one that is a single linear layer
    /// (the shorter one when both are).
    fn split_skip_and_body(
        &self,
        value: &'g str,
        starts: [usize; 2],
        ends: [&'g str; 2],
    ) -> Result<(Vec<usize>, Branch<'g>)> {
        let paths = starts.map(|s| {
            self.linear_path(s, ends)
                .filter(|(nodes, _)| self.is_skip_shaped(nodes))
        });
        let (skip_side, (skip_nodes, skip_end)) = match paths {
            [Some(p0), Some(p1)] if p1.0.len() < p0.0.len() => (1, p1),
            [Some(p0), _] => (0, p0),
            [None, Some(p1)] => (1, p1),
            [None, None] => {
                return Err(Error::Unsupported {
                    layer: value.to_string(),
                    op: "residual block whose skip branch is not a single dense or conv layer".into(),
                })
            }
        };
        let body_end = if skip_end == ends[0] { ends[1] } else { ends[0] };
        Ok((
            skip_nodes,
            Branch {
                first: starts[1 - skip_side],
                end: body_end,
            },
        ))
    }

    /// The nodes from `start` along single readers until one computes a value
    /// of `ends`; `None` when the path forks, dead-ends or grows long.
    fn linear_path(&self, start: usize, ends: [&'g str; 2]) -> Option<(Vec<usize>, &'g str)> {
        let mut path = vec![start];
        loop {
            let out = self.node(*path.last()?).output().ok()?;
            if ends.contains(&out) {
                return Some((path, out));
            }
            match *self.graph.consumers(out) {
                [next] if path.len() < MAX_SKIP_NODES => path.push(next),
                _ => return None,
            }
        }
    }

    /// Whether the nodes form a skip: no-ops around one dense layer (with an
    /// optional bias `Add`) or one conv (with an optional batch norm).
    fn is_skip_shaped(&self, nodes: &[usize]) -> bool {
        let ops: Vec<&str> = (nodes.iter())
            .map(|&i| self.node(i).op())
            .filter(|op| !matches!(*op, "Identity" | "Dropout"))
            .collect();
        matches!(
            ops.as_slice(),
            ["Gemm" | "MatMul"] | ["Gemm" | "MatMul", "Add"] | ["Conv"] | ["Conv", "BatchNormalization"]
        )
    }

    /// Builds the skip of a residual block from its nodes, which read `value` of shape `shape`.
    fn skip(&mut self, value: &'g str, shape: Shape, nodes: Vec<usize>) -> Result<Skip> {
        let mut skip = None;
        let mut data = value;
        for index in nodes {
            self.claim(index)?;
            let node = self.node(index);
            check_standard_domain(&node)?;
            if node.op() != "Add" && node.input(0) != Some(data) {
                return Err(node.unsupported(format_args!("the data {data} is not its first input")));
            }
            node.check_extra_outputs_unused()?;
            skip = match (node.op(), skip) {
                ("Identity" | "Dropout", s) => s,
                ("Gemm" | "MatMul", None) => {
                    let (w, b) = layers::dense(&node, shape)?;
                    Some(Skip::Dense { w, b })
                }
                ("Add", Some(Skip::Dense { w, b })) => {
                    let pos = if node.input(0) == Some(data) { 1 } else { 0 };
                    let extra = node.vector(pos, "bias", b.len())?;
                    Some(Skip::Dense { w, b: b + extra })
                }
                ("Conv", None) => Some(Skip::Conv(layers::conv(&node, shape)?)),
                ("BatchNormalization", Some(Skip::Conv(conv))) => {
                    let bn = layers::batch_norm(&node, conv.weight.dim().0)?;
                    Some(Skip::Conv(conv.fold_batch_norm(&bn)?))
                }
                _ => {
                    return Err(node.unsupported(
                        "in a skip branch, which may hold one Gemm/MatMul (+ Add) or one Conv (+ BatchNormalization)",
                    ))
                }
            };
            data = node.output()?;
        }
        skip.ok_or_else(|| self.ctx.error("a skip branch without a layer"))
    }

    /// Rejects a graph in which some node reads translated data but was never
    /// translated itself: the network would silently miss part of the graph.
    fn check_all_data_flow_claimed(&self) -> Result<()> {
        for (index, node) in self.graph.nodes.iter().enumerate() {
            if self.claimed[index] {
                continue;
            }
            let reads_data = (node.input.iter())
                .any(|v| v == self.graph.input || self.graph.producer(v).is_some_and(|p| self.claimed[p]));
            if reads_data {
                return Err(self
                    .node(index)
                    .unsupported("a branch that does not rejoin the network"));
            }
        }
        Ok(())
    }
}

/// Rejects operators from non-standard domains (`com.microsoft`, custom ops).
fn check_standard_domain(node: &Node) -> Result<()> {
    match node.proto.domain.as_deref() {
        None | Some("" | "ai.onnx") => Ok(()),
        Some(domain) => Err(Error::Unsupported {
            layer: node.label(),
            op: format!("{domain}::{} ({SUPPORTED_OPS_HINT})", node.op()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;
    use prost::Message;

    use super::super::proto::*;
    use crate::{Error, Network};

    fn double(name: &str, dims: &[i64], values: &[f64]) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(11),
            double_data: values.to_vec(),
            ..Default::default()
        }
    }

    fn ints(name: &str, values: &[i64]) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: vec![values.len() as i64],
            data_type: Some(7),
            int64_data: values.to_vec(),
            ..Default::default()
        }
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            name: Some(format!("{op}_{}", outputs[0])),
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn with_ints(mut n: NodeProto, name: &str, values: &[i64]) -> NodeProto {
        n.attribute.push(AttributeProto {
            name: Some(name.into()),
            ints: values.to_vec(),
            ..Default::default()
        });
        n
    }

    fn with_int(mut n: NodeProto, name: &str, value: i64) -> NodeProto {
        n.attribute.push(AttributeProto {
            name: Some(name.into()),
            i: Some(value),
            ..Default::default()
        });
        n
    }

    fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
        let dim = std::iter::once(DimensionValue::DimParam("batch".into()))
            .chain(dims.iter().map(|&d| DimensionValue::DimValue(d)))
            .map(|v| Dimension { value: Some(v) })
            .collect();
        ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: Some(11),
                    shape: Some(TensorShapeProto { dim }),
                }),
            }),
        }
    }

    /// A model from `x` (per-sample shape `input`) to `y`.
    fn load(input: &[i64], nodes: Vec<NodeProto>, inits: Vec<TensorProto>) -> crate::Result<Network> {
        let model = ModelProto {
            ir_version: Some(7),
            opset_import: vec![OperatorSetIdProto {
                domain: None,
                version: Some(13),
            }],
            graph: Some(GraphProto {
                node: nodes,
                name: Some("test".into()),
                initializer: inits,
                input: vec![value_info("x", input)],
                output: vec![value_info("y", &[])],
            }),
        };
        Network::from_onnx_bytes(&model.encode_to_vec())
    }

    fn unsupported_op(result: crate::Result<Network>) -> String {
        match result {
            Err(Error::Unsupported { op, .. }) => op,
            Err(other) => panic!("expected Unsupported, got {other}"),
            Ok(_) => panic!("expected Unsupported, got a network"),
        }
    }

    #[test]
    fn identity_residual_adds_the_body_to_its_input() {
        // y = x + relu(W x + c), W = [[1, 2], [0, -1]], c = (0, 1).
        let net = load(
            &[2],
            vec![
                node("MatMul", &["x", "wt"], &["h"]),
                node("Add", &["c", "h"], &["hb"]),
                node("Relu", &["hb"], &["r"]),
                node("Add", &["x", "r"], &["y"]),
            ],
            vec![
                double("wt", &[2, 2], &[1., 0., 2., -1.]),
                double("c", &[2], &[0., 1.]),
            ],
        )
        .unwrap();
        // x = (1, 1): W x + c = (3, 0) -> relu (3, 0) -> y = (4, 1).
        assert_eq!(net.forward(array![1.0, 1.0].view()).unwrap(), array![4.0, 1.0]);
    }

    #[test]
    fn residual_inside_a_body_translates() {
        // y = P h + W2 relu(h + relu(h)) with h = x: the body holds an identity block at `b0`.
        let net = load(
            &[1],
            vec![
                node("Gemm", &["x", "p"], &["s"]),
                node("Identity", &["x"], &["b0"]),
                node("Relu", &["b0"], &["b1"]),
                node("Add", &["b0", "b1"], &["b2"]),
                node("Gemm", &["b2", "w2"], &["body"]),
                node("Add", &["body", "s"], &["y"]),
            ],
            vec![double("p", &[1, 1], &[3.]), double("w2", &[1, 1], &[-1.])],
        )
        .unwrap();
        // x = 2: s = 6, b2 = 2 + 2 = 4, body = -4, y = 2; x = -1: s = -3, b2 = -1, y = -2.
        assert_eq!(net.forward(array![2.0].view()).unwrap(), array![2.0]);
        assert_eq!(net.forward(array![-1.0].view()).unwrap(), array![-2.0]);
    }

    #[test]
    fn value_read_three_times_is_unsupported() {
        let op = unsupported_op(load(
            &[1],
            vec![
                node("Relu", &["x"], &["a"]),
                node("Abs", &["x"], &["b"]),
                node("Add", &["a", "b"], &["c"]),
                node("Add", &["c", "x"], &["y"]),
            ],
            vec![],
        ));
        assert!(op.contains("3 nodes"), "{op}");
    }

    #[test]
    fn branches_joined_by_mul_are_unsupported() {
        let op = unsupported_op(load(
            &[1],
            vec![node("Relu", &["x"], &["a"]), node("Mul", &["x", "a"], &["y"])],
            vec![],
        ));
        assert!(op.starts_with("Mul joining"), "{op}");
    }

    #[test]
    fn two_nonlinear_branches_are_unsupported() {
        let op = unsupported_op(load(
            &[1],
            vec![
                node("Relu", &["x"], &["a"]),
                node("Abs", &["x"], &["b"]),
                node("Add", &["a", "b"], &["y"]),
            ],
            vec![],
        ));
        assert!(op.contains("skip branch"), "{op}");
    }

    #[test]
    fn a_branch_that_leaves_the_network_is_rejected() {
        // `side` reads x but never reaches the output.
        let op = unsupported_op(load(
            &[1],
            vec![node("Relu", &["x"], &["y"]), node("Abs", &["x"], &["side"])],
            vec![],
        ));
        assert!(op.contains("never rejoin"), "{op}");
    }

    #[test]
    fn reshape_by_a_constant_flattens_images() {
        let mut shape = node("Constant", &[], &["shape"]);
        shape.attribute.push(AttributeProto {
            name: Some("value".into()),
            t: Some(ints("", &[-1, 2])),
            ..Default::default()
        });
        let net = load(
            &[2, 2, 2],
            vec![
                node("GlobalAveragePool", &["x"], &["g"]),
                shape,
                node("Reshape", &["g", "shape"], &["y"]),
            ],
            vec![],
        )
        .unwrap();
        let x = array![1., 2., 3., 6., -1., -1., -1., -1.];
        assert_eq!(net.forward(x.view()).unwrap(), array![3.0, -1.0]);
    }

    #[test]
    fn reshape_that_mixes_samples_is_unsupported() {
        let op = unsupported_op(load(
            &[4],
            vec![node("Reshape", &["x", "shape"], &["y"])],
            vec![ints("shape", &[2, -1])],
        ));
        assert!(op.starts_with("Reshape"), "{op}");
    }

    #[test]
    fn asymmetric_conv_padding_is_unsupported() {
        let conv = with_ints(node("Conv", &["x", "w"], &["y"]), "pads", &[0, 0, 1, 1]);
        let op = unsupported_op(load(
            &[1, 3, 3],
            vec![conv],
            vec![double("w", &[1, 1, 2, 2], &[1.; 4])],
        ));
        assert!(op.contains("asymmetric"), "{op}");
    }

    #[test]
    fn same_padding_equals_explicit_padding() {
        let w = double("w", &[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        let mut same = node("Conv", &["x", "w"], &["y"]);
        same.attribute.push(AttributeProto {
            name: Some("auto_pad".into()),
            s: Some(b"SAME_UPPER".to_vec()),
            ..Default::default()
        });
        let explicit = with_ints(node("Conv", &["x", "w"], &["y"]), "pads", &[1, 1, 1, 1]);
        let a = load(&[1, 4, 4], vec![same], vec![w.clone()]).unwrap();
        let b = load(&[1, 4, 4], vec![explicit], vec![w]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ceil_mode_is_accepted_only_when_windows_tile() {
        let pool = |h| {
            let n = with_ints(node("MaxPool", &["x"], &["y"]), "kernel_shape", &[2, 2]);
            let n = with_ints(n, "strides", &[2, 2]);
            load(&[1, h, h], vec![with_int(n, "ceil_mode", 1)], vec![])
        };
        assert!(pool(4).is_ok());
        assert!(unsupported_op(pool(5)).contains("ceil_mode"));
    }

    #[test]
    fn nodes_out_of_order_are_a_file_error() {
        let err = load(
            &[1],
            vec![node("Abs", &["a"], &["y"]), node("Relu", &["x"], &["a"])],
            vec![],
        )
        .unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{err}");
    }

    #[test]
    fn values_defined_twice_are_a_file_error() {
        let err = load(
            &[1],
            vec![node("Relu", &["x"], &["y"]), node("Abs", &["x"], &["y"])],
            vec![],
        )
        .unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{err}");
    }

    #[test]
    fn used_dropout_mask_is_unsupported() {
        let op = unsupported_op(load(
            &[1],
            vec![
                node("Dropout", &["x"], &["d", "mask"]),
                node("Add", &["d", "mask"], &["y"]),
            ],
            vec![],
        ));
        assert!(op.contains("mask"), "{op}");
    }

    #[test]
    fn custom_domains_and_transposed_inputs_are_unsupported() {
        let mut custom = node("Relu", &["x"], &["y"]);
        custom.domain = Some("com.example".into());
        let op = unsupported_op(load(&[1], vec![custom], vec![]));
        assert!(op.starts_with("com.example::Relu ("), "{op}");
        let gemm = with_int(node("Gemm", &["x", "w"], &["y"]), "transA", 1);
        let op = unsupported_op(load(&[1], vec![gemm], vec![double("w", &[1, 1], &[1.])]));
        assert!(op.contains("transA"), "{op}");
    }

    #[test]
    fn overflowing_input_sizes_are_a_file_error() {
        let huge = 1 << 31;
        let err = load(&[huge, huge, huge], vec![node("Relu", &["x"], &["y"])], vec![]);
        assert!(matches!(err, Err(Error::File { .. })));
    }

    #[test]
    fn inputs_of_other_ranks_are_unsupported() {
        let op = unsupported_op(load(&[2, 3], vec![node("Relu", &["x"], &["y"])], vec![]));
        assert!(op.contains("rank 3"), "{op}");
    }
}
