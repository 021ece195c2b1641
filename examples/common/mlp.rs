//! A minimal multilayer perceptron trainer in plain Rust: dense layers with
//! ReLU or leaky ReLU, hand-written backpropagation, Adam / AdamW, seeded
//! PyTorch-style initialisation with an optional scale (the grokking papers
//! multiply every initial parameter by 8). A trained [`Mlp`] becomes a
//! [`cpwl::Network`] with [`Mlp::to_network`].

use cpwl::Network;
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

use super::Rng;

/// The hidden nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `x` for `x > 0`, `slope * x` otherwise.
    LeakyRelu(f64),
}

impl Activation {
    fn slope_below(self) -> f64 {
        match self {
            Activation::Relu => 0.0,
            Activation::LeakyRelu(a) => a,
        }
    }
}

/// The training loss (every variant is a mean over the batch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// Mean squared error over all entries (PyTorch's `MSELoss`), against one-hot targets.
    Mse,
    /// Softmax cross-entropy over the whole output.
    CrossEntropy,
    /// Softmax cross-entropy per position of a `seq_len x vocab` output, summed over positions.
    SeqCrossEntropy {
        /// Positions.
        seq_len: usize,
        /// Symbols per position.
        vocab: usize,
    },
}

/// A dense network `x -> W_1 x + b_1 -> act -> ... -> W_n h + b_n`.
#[derive(Clone, Debug)]
pub struct Mlp {
    /// Weights, `(out, in)` as in PyTorch.
    pub weights: Vec<Array2<f64>>,
    /// Biases.
    pub biases: Vec<Array1<f64>>,
    /// The hidden nonlinearity.
    pub activation: Activation,
}

/// Gradients (or Adam moments) shaped like an [`Mlp`]'s parameters.
#[derive(Clone, Debug)]
pub struct Params {
    weights: Vec<Array2<f64>>,
    biases: Vec<Array1<f64>>,
}

impl Params {
    fn zeros_like(mlp: &Mlp) -> Params {
        Params {
            weights: mlp.weights.iter().map(|w| Array2::zeros(w.raw_dim())).collect(),
            biases: mlp.biases.iter().map(|b| Array1::zeros(b.raw_dim())).collect(),
        }
    }
}

impl Mlp {
    /// A network with layer widths `sizes` (input first, output last), each
    /// weight and bias uniform on `[-1/sqrt(fan_in), 1/sqrt(fan_in)]` (PyTorch's
    /// `nn.Linear` default) times `init_scale`.
    pub fn new(sizes: &[usize], activation: Activation, init_scale: f64, rng: &mut Rng) -> Mlp {
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for pair in sizes.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = init_scale / (fan_in as f64).sqrt();
            weights.push(Array2::from_shape_simple_fn((fan_out, fan_in), || {
                rng.uniform_in(-bound, bound)
            }));
            biases.push(Array1::from_shape_simple_fn(fan_out, || {
                rng.uniform_in(-bound, bound)
            }));
        }
        Mlp {
            weights,
            biases,
            activation,
        }
    }

    /// The input width.
    pub fn input_dim(&self) -> usize {
        self.weights[0].ncols()
    }

    /// The number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.weights.iter().map(|w| w.len()).sum::<usize>()
            + self.biases.iter().map(|b| b.len()).sum::<usize>()
    }

    /// The same network as a [`cpwl::Network`].
    pub fn to_network(&self) -> cpwl::Result<Network> {
        let mut builder = Network::builder(self.input_dim());
        let last = self.weights.len() - 1;
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            builder = builder.dense(w.clone(), b.clone())?;
            if l < last {
                builder = match self.activation {
                    Activation::Relu => builder.relu(),
                    Activation::LeakyRelu(a) => builder.leaky_relu(a),
                };
            }
        }
        builder.build()
    }

    /// Pre-activations of every layer for a batch (rows); the last is the output.
    fn pre_activations(&self, x: ArrayView2<f64>) -> Vec<Array2<f64>> {
        let slope = self.activation.slope_below();
        let mut pre: Vec<Array2<f64>> = Vec::with_capacity(self.weights.len());
        for (w, b) in self.weights.iter().zip(&self.biases) {
            let z = match pre.last() {
                None => x.dot(&w.t()),
                Some(prev) => prev.mapv(|v| if v > 0.0 { v } else { slope * v }).dot(&w.t()),
            };
            pre.push(z + b);
        }
        pre
    }

    /// The outputs for a batch of inputs (rows).
    pub fn forward(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.pre_activations(x)
            .pop()
            .expect("an Mlp has at least one layer")
    }

    /// The arg-max class of every row.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<usize> {
        self.forward(x)
            .outer_iter()
            .map(|row| argmax(row.iter().copied()))
            .collect()
    }

    /// The fraction of rows whose arg-max output is the label.
    pub fn accuracy(&self, x: ArrayView2<f64>, labels: &[usize]) -> f64 {
        let hits = self.predict(x).iter().zip(labels).filter(|(p, y)| p == y).count();
        hits as f64 / labels.len().max(1) as f64
    }

    /// The loss on a batch and its gradient with respect to every parameter.
    pub fn loss_and_gradient(
        &self,
        x: ArrayView2<f64>,
        targets: ArrayView2<f64>,
        loss: Loss,
    ) -> (f64, Params) {
        let slope = self.activation.slope_below();
        let pre = self.pre_activations(x);
        let output = pre.last().expect("an Mlp has at least one layer");
        let (value, mut delta) = loss_and_output_gradient(output.view(), targets, loss);
        let mut grads = Params::zeros_like(self);
        for l in (0..self.weights.len()).rev() {
            let input = if l == 0 {
                x.to_owned()
            } else {
                pre[l - 1].mapv(|v| if v > 0.0 { v } else { slope * v })
            };
            grads.weights[l] = delta.t().dot(&input);
            grads.biases[l] = delta.sum_axis(Axis(0));
            if l > 0 {
                let mut back = delta.dot(&self.weights[l]);
                Zip::from(&mut back)
                    .and(&pre[l - 1])
                    .for_each(|d, &z| *d *= if z > 0.0 { 1.0 } else { slope });
                delta = back;
            }
        }
        (value, grads)
    }
}

/// The loss value and `d loss / d output` for a batch.
fn loss_and_output_gradient(
    out: ArrayView2<f64>,
    targets: ArrayView2<f64>,
    loss: Loss,
) -> (f64, Array2<f64>) {
    let batch = out.nrows().max(1) as f64;
    match loss {
        Loss::Mse => {
            let diff = &out - &targets;
            let n = diff.len().max(1) as f64;
            (diff.mapv(|d| d * d).sum() / n, diff * (2.0 / n))
        }
        Loss::CrossEntropy => softmax_cross_entropy(out, targets, out.ncols(), batch),
        Loss::SeqCrossEntropy { vocab, .. } => softmax_cross_entropy(out, targets, vocab, batch),
    }
}

/// Cross-entropy of consecutive blocks of `block` logits against target
/// probabilities, summed over blocks and averaged over rows.
fn softmax_cross_entropy(
    out: ArrayView2<f64>,
    targets: ArrayView2<f64>,
    block: usize,
    batch: f64,
) -> (f64, Array2<f64>) {
    let mut grad = Array2::zeros(out.raw_dim());
    let mut total = 0.0;
    for ((o, t), mut g) in out
        .outer_iter()
        .zip(targets.outer_iter())
        .zip(grad.outer_iter_mut())
    {
        for start in (0..o.len()).step_by(block) {
            let logits = o.slice(ndarray::s![start..start + block]);
            let target = t.slice(ndarray::s![start..start + block]);
            let probs = softmax(logits.iter().copied());
            let log_z = log_sum_exp(logits.iter().copied());
            let mass = target.sum(); // 1 for probability targets
            for (k, (&p, (&l, &y))) in probs.iter().zip(logits.iter().zip(target)).enumerate() {
                total -= y * (l - log_z);
                g[start + k] = (mass * p - y) / batch;
            }
        }
    }
    (total / batch, grad)
}

/// `log sum exp` computed stably.
pub fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = values.clone().fold(f64::NEG_INFINITY, f64::max);
    m + values.map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// The softmax of a vector, computed stably.
pub fn softmax(values: impl Iterator<Item = f64> + Clone) -> Vec<f64> {
    let log_z = log_sum_exp(values.clone());
    values.map(|v| (v - log_z).exp()).collect()
}

/// The index of the largest value (the first on ties).
pub fn argmax(values: impl Iterator<Item = f64>) -> usize {
    values
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |best, (i, v)| if v > best.1 { (i, v) } else { best },
        )
        .0
}

/// One-hot rows for labels in `0..classes`.
pub fn one_hot(labels: &[usize], classes: usize) -> Array2<f64> {
    let mut t = Array2::zeros((labels.len(), classes));
    for (i, &y) in labels.iter().enumerate() {
        t[[i, y]] = 1.0;
    }
    t
}

/// Settings of [`Adam`] and of the mini-batch loop.
#[derive(Clone, Copy, Debug)]
pub struct TrainOptions {
    /// The loss.
    pub loss: Loss,
    /// Mini-batch size (each epoch visits the points in a fresh random order).
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Decoupled weight decay (AdamW); 0 gives plain Adam.
    pub weight_decay: f64,
    /// Seed of the batch order.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            loss: Loss::CrossEntropy,
            batch: 64,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: 0,
        }
    }
}

/// Adam with decoupled weight decay (PyTorch's `AdamW`; `betas = (0.9, 0.999)`,
/// `eps = 1e-8`) over shuffled mini-batches of a fixed data set.
pub struct Adam {
    opts: TrainOptions,
    first: Params,
    second: Params,
    steps: i32,
    rng: Rng,
    order: Vec<usize>,
    cursor: usize,
}

impl Adam {
    /// An optimiser for `mlp` on `points` data points.
    pub fn new(mlp: &Mlp, points: usize, opts: TrainOptions) -> Adam {
        Adam {
            opts,
            first: Params::zeros_like(mlp),
            second: Params::zeros_like(mlp),
            steps: 0,
            rng: Rng::new(opts.seed),
            order: (0..points).collect(),
            cursor: points,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps as usize
    }

    fn next_batch(&mut self) -> Vec<usize> {
        if self.cursor >= self.order.len() {
            self.rng.shuffle(&mut self.order);
            self.cursor = 0;
        }
        let end = (self.cursor + self.opts.batch).min(self.order.len());
        let batch = self.order[self.cursor..end].to_vec();
        self.cursor = end;
        batch
    }

    /// One optimisation step on the next mini-batch of `(x, targets)`; returns the batch loss.
    pub fn step(&mut self, mlp: &mut Mlp, x: ArrayView2<f64>, targets: ArrayView2<f64>) -> f64 {
        let batch = self.next_batch();
        let xb = x.select(Axis(0), &batch);
        let tb = targets.select(Axis(0), &batch);
        let (loss, grads) = mlp.loss_and_gradient(xb.view(), tb.view(), self.opts.loss);
        self.steps += 1;
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let c1 = 1.0 - b1.powi(self.steps);
        let c2 = 1.0 - b2.powi(self.steps);
        let (lr, decay) = (self.opts.lr, 1.0 - self.opts.lr * self.opts.weight_decay);
        let update = |p: &mut f64, g: f64, m: &mut f64, v: &mut f64| {
            *p *= decay;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
        };
        for l in 0..mlp.weights.len() {
            Zip::from(&mut mlp.weights[l])
                .and(&grads.weights[l])
                .and(&mut self.first.weights[l])
                .and(&mut self.second.weights[l])
                .for_each(|p, &g, m, v| update(p, g, m, v));
            Zip::from(&mut mlp.biases[l])
                .and(&grads.biases[l])
                .and(&mut self.first.biases[l])
                .and(&mut self.second.biases[l])
                .for_each(|p, &g, m, v| update(p, g, m, v));
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    // Runs with `cargo test --examples`.
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Rng::new(3);
        for (activation, loss) in [
            (Activation::Relu, Loss::Mse),
            (Activation::LeakyRelu(0.1), Loss::CrossEntropy),
            (Activation::Relu, Loss::SeqCrossEntropy { seq_len: 2, vocab: 3 }),
        ] {
            let mlp = Mlp::new(&[4, 7, 5, 6], activation, 1.0, &mut rng);
            let x = Array2::from_shape_simple_fn((3, 4), || rng.normal());
            let t = Array2::from_shape_fn((3, 6), |(i, j)| if (i + j) % 3 == 0 { 1.0 } else { 0.0 } / 2.0);
            let (_, grads) = mlp.loss_and_gradient(x.view(), t.view(), loss);
            let h = 1e-6;
            for l in 0..3 {
                for idx in [(0, 0), (1, 2)] {
                    let mut plus = mlp.clone();
                    plus.weights[l][idx] += h;
                    let mut minus = mlp.clone();
                    minus.weights[l][idx] -= h;
                    let numeric = (plus.loss_and_gradient(x.view(), t.view(), loss).0
                        - minus.loss_and_gradient(x.view(), t.view(), loss).0)
                        / (2.0 * h);
                    assert!(
                        (numeric - grads.weights[l][idx]).abs() < 1e-6,
                        "{numeric} vs {}",
                        grads.weights[l][idx]
                    );
                }
            }
        }
    }
}
