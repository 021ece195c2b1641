//! One graph node with typed access to its attributes and constant inputs.

use ndarray::{Array1, Array2, Array4};

use super::graph::{node_label, GraphIndex};
use super::proto::{AttributeProto, NodeProto, TensorProto};
use super::tensor::{decode_float, decode_ints, Tensor};
use super::FileContext;
use crate::{Error, Result};

/// A node of an indexed graph, with the context its error messages need.
pub(crate) struct Node<'g, 'c> {
    /// The node itself.
    pub proto: &'g NodeProto,
    /// Its position in the graph.
    pub index: usize,
    /// The graph it belongs to.
    pub graph: &'c GraphIndex<'g>,
    /// The file, for error messages.
    pub ctx: &'c FileContext<'c>,
}

impl<'g, 'c> Node<'g, 'c> {
    /// The node at `index` of `graph`.
    pub(crate) fn at(graph: &'c GraphIndex<'g>, index: usize, ctx: &'c FileContext<'c>) -> Self {
        Node {
            proto: &graph.nodes[index],
            index,
            graph,
            ctx,
        }
    }

    /// The operator name.
    pub(crate) fn op(&self) -> &'g str {
        self.proto.op_type.as_deref().unwrap_or("")
    }

    /// The node's name for messages.
    pub(crate) fn label(&self) -> String {
        node_label(self.proto, self.index)
    }

    /// The node's first output, the one the importer follows.
    pub(crate) fn output(&self) -> Result<&'g str> {
        match self.proto.output.first() {
            Some(name) if !name.is_empty() => Ok(name),
            _ => Err(self.ctx.error(format!("{} has no output", self.label()))),
        }
    }

    /// The name of input `pos`, `None` when absent or omitted.
    pub(crate) fn input(&self, pos: usize) -> Option<&'g str> {
        self.proto
            .input
            .get(pos)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// An [`Error::Unsupported`] naming this node and `detail`.
    pub(crate) fn unsupported(&self, detail: impl std::fmt::Display) -> Error {
        Error::Unsupported {
            layer: self.label(),
            op: format!("{} ({detail})", self.op()),
        }
    }

    /// An [`Error::Shape`] naming this node.
    pub(crate) fn shape_error(
        &self,
        what: &str,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Error {
        Error::shape(format!("{} of {}", what, self.label()), expected, got)
    }

    /// Rejects the node when an output other than the first is used (a
    /// `Dropout` mask, `MaxPool` indices, training-mode batch statistics).
    pub(crate) fn check_extra_outputs_unused(&self) -> Result<()> {
        match (self.proto.output.iter().skip(1)).find(|v| !v.is_empty() && self.graph.is_used(v)) {
            Some(value) => Err(self.unsupported(format_args!("its output {value} is used"))),
            None => Ok(()),
        }
    }

    fn attribute(&self, name: &str) -> Result<Option<&'g AttributeProto>> {
        let Some(attr) = (self.proto.attribute.iter()).find(|a| a.name.as_deref() == Some(name)) else {
            return Ok(None);
        };
        if attr.ref_attr_name.is_some() {
            return Err(self.unsupported(format_args!("attribute {name} refers to a function's")));
        }
        Ok(Some(attr))
    }

    fn attribute_error(&self, name: &str, kind: &str) -> Error {
        self.ctx
            .error(format!("attribute {name} of {} is not {kind}", self.label()))
    }

    /// An integer attribute, or `default`.
    pub(crate) fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.attribute(name)? {
            None => Ok(default),
            Some(a) => a.i.ok_or_else(|| self.attribute_error(name, "an integer")),
        }
    }

    /// A float attribute widened to `f64`, or `default`.
    ///
    /// ONNX stores float attributes as binary32, so PyTorch's `eps = 1e-5` and
    /// `negative_slope = 0.1` arrive as the nearest binary32 values. Widening
    /// through the shortest decimal that round-trips the binary32 recovers the
    /// value the user wrote (`0.1`, not `0.10000000149011612`), which is what
    /// the exporting framework computed with in double precision.
    pub(crate) fn float(&self, name: &str, default: f64) -> Result<f64> {
        match self.attribute(name)? {
            None => Ok(default),
            Some(a) => {
                a.f.map(widen_decimal)
                    .ok_or_else(|| self.attribute_error(name, "a float"))
            }
        }
    }

    /// A list-of-integers attribute, `None` when absent.
    pub(crate) fn ints(&self, name: &str) -> Result<Option<&'g [i64]>> {
        Ok(self.attribute(name)?.map(|a| a.ints.as_slice()))
    }

    /// A string attribute, or `default`.
    pub(crate) fn string(&self, name: &str, default: &'g str) -> Result<&'g str> {
        match self.attribute(name)? {
            None => Ok(default),
            Some(a) => (a.s.as_deref())
                .and_then(|s| std::str::from_utf8(s).ok())
                .ok_or_else(|| self.attribute_error(name, "a UTF-8 string")),
        }
    }

    /// The constant tensor at input `pos`.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when the input is absent, [`Error::Unsupported`] when it
    /// is computed by the graph rather than stored.
    pub(crate) fn constant(&self, pos: usize, what: &str) -> Result<Tensor> {
        let (name, proto) = self.constant_proto(pos, what)?;
        decode_float(proto, name, self.ctx)
    }

    /// The name and stored tensor of input `pos`.
    fn constant_proto(&self, pos: usize, what: &str) -> Result<(&'g str, &'g TensorProto)> {
        let name = self.input(pos).ok_or_else(|| {
            self.ctx
                .error(format!("{} lacks its {what} (input {pos})", self.label()))
        })?;
        let proto = (self.graph.constant(name))
            .ok_or_else(|| self.unsupported(format_args!("its {what} {name} is computed, not stored")))?;
        Ok((name, proto))
    }

    /// The constant integer tensor at input `pos` (a shape).
    pub(crate) fn constant_ints(&self, pos: usize, what: &str) -> Result<Vec<i64>> {
        let (name, proto) = self.constant_proto(pos, what)?;
        decode_ints(proto, name, self.ctx)
    }

    /// The constant at input `pos` as a matrix.
    pub(crate) fn matrix(&self, pos: usize, what: &str) -> Result<Array2<f64>> {
        let t = self.constant(pos, what)?;
        match t.dims.as_slice() {
            &[rows, cols] => Ok(
                Array2::from_shape_vec((rows, cols), t.data).map_err(|e| self.ctx.error(e.to_string()))?
            ),
            dims => Err(self.shape_error(what, "a matrix", format_args!("shape {dims:?}"))),
        }
    }

    /// The constant at input `pos` as a 4-tensor.
    pub(crate) fn tensor4(&self, pos: usize, what: &str) -> Result<Array4<f64>> {
        let t = self.constant(pos, what)?;
        match t.dims.as_slice() {
            &[a, b, c, d] => Ok(
                Array4::from_shape_vec((a, b, c, d), t.data).map_err(|e| self.ctx.error(e.to_string()))?
            ),
            dims => Err(self.shape_error(what, "a 4-tensor", format_args!("shape {dims:?}"))),
        }
    }

    /// The constant at input `pos` as a vector of length `len`, broadcasting a single element.
    ///
    /// Accepts the shapes that broadcast against a batch of `len`-vectors or
    /// against the channels of a batch of images: `[len]`, `[1, len]`,
    /// `[len, 1, 1]`, `[1, len, 1, 1]` and one-element tensors.
    pub(crate) fn vector(&self, pos: usize, what: &str, len: usize) -> Result<Array1<f64>> {
        let t = self.constant(pos, what)?;
        broadcast_vector(t, len).map_err(|dims| {
            self.shape_error(
                what,
                format_args!("{len} elements"),
                format_args!("shape {dims:?}"),
            )
        })
    }
}

/// A tensor broadcast to a vector of `len` elements; the tensor's shape when it cannot be.
fn broadcast_vector(t: Tensor, len: usize) -> std::result::Result<Array1<f64>, Vec<usize>> {
    let non_unit: Vec<usize> = t.dims.iter().copied().filter(|&d| d != 1).collect();
    match (t.data.len(), non_unit.as_slice()) {
        (1, _) => Ok(Array1::from_elem(len, t.data[0])),
        (n, [_]) if n == len => Ok(Array1::from_vec(t.data)),
        _ => Err(t.dims),
    }
}

/// Widens a binary32 through its shortest round-tripping decimal (see [`Node::float`]).
pub(crate) fn widen_decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widen_decimal_recovers_the_written_value() {
        assert_eq!(widen_decimal(0.1), 0.1);
        assert_eq!(widen_decimal(1e-5), 1e-5);
        assert_eq!(widen_decimal(0.01), 0.01);
        assert_eq!(widen_decimal(-2.5), -2.5);
    }

    #[test]
    fn broadcast_vector_accepts_bias_shapes() {
        let t = |dims: Vec<usize>, data: Vec<f64>| Tensor { dims, data };
        assert_eq!(
            broadcast_vector(t(vec![3], vec![1., 2., 3.]), 3)
                .unwrap()
                .to_vec(),
            vec![1., 2., 3.]
        );
        assert_eq!(
            broadcast_vector(t(vec![1, 3], vec![1., 2., 3.]), 3)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            broadcast_vector(t(vec![1, 3, 1, 1], vec![1., 2., 3.]), 3)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            broadcast_vector(t(vec![], vec![4.]), 2).unwrap().to_vec(),
            vec![4., 4.]
        );
        assert!(broadcast_vector(t(vec![2], vec![1., 2.]), 3).is_err());
        assert!(broadcast_vector(t(vec![3, 3], vec![0.; 9]), 3).is_err());
    }
}
