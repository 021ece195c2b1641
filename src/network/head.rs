//! The output head an importer dropped: a trailing `Softmax` or `LogSoftmax`.

use super::Network;

/// A normalising output layer that an importer left out, so that the network
/// outputs the logits.
///
/// Both heads are strictly increasing in each logit once the others are fixed
/// and apply the same function to every input, so they keep the arg-max of
/// every input (the predicted class) and the linear regions: the regions and
/// decision boundaries that `cpwl` computes are those of the logits. They are
/// not piecewise linear, which is why the network stops before them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Head {
    /// `softmax(z)_i = exp(z_i) / sum_j exp(z_j)`, dropped.
    Softmax,
    /// `log_softmax(z)_i = z_i - log sum_j exp(z_j)`, dropped.
    LogSoftmax,
}

impl Network {
    /// The output head an importer dropped, if any: the network outputs the
    /// logits that fed it.
    ///
    /// `Network::from_onnx` drops a trailing `Softmax` or `LogSoftmax` (unless
    /// `OnnxOptions::strict_head` is set); see [`Head`] for why the regions and
    /// the arg-max are unchanged. Networks built in Rust or loaded from `.npz`
    /// or safetensors have none.
    ///
    /// # Examples
    ///
    /// ```
    /// let net = cpwl::Network::builder(2).dense(ndarray::array![[1.0, -1.0]], ndarray::array![0.0])?.build()?;
    /// assert_eq!(net.dropped_head(), None);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn dropped_head(&self) -> Option<Head> {
        self.head
    }

    /// The same network, recording that `head` was dropped after its output.
    #[cfg_attr(not(any(feature = "onnx", feature = "serde")), allow(dead_code))]
    pub(crate) fn with_dropped_head(mut self, head: Head) -> Network {
        self.head = Some(head);
        self
    }
}
