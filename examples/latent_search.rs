//! Latent-space optimisation with and without the LES penalty.
//!
//! A decoder maps latent codes `z ~ N(0, I_4)` to sentences of a toy
//! language (`examples/common/toy.rs`: 5 symbols `a..e`, 5 positions, a
//! sentence is grammatical when each step is `+1` or `+2` mod 5). Latent-space
//! optimisation (LSO) ascends an objective of the decoded output; here the
//! objective is the log-probability of the sentence `aaaaa`, which the
//! language never produces, standing for a mis-specified property model that
//! rewards unrealistic outputs. The ascent follows the reference's rule
//! (normalised gradients): `z += lr * (g_obj / |g_obj| + alpha * g_les / |g_les|)`,
//! with the exact LES gradient of [`cpwl::scales::les_grad`].
//!
//! Three strategies from the same training latents: the objective alone, the
//! objective with the LES penalty (`alpha = 1`), and the objective with a
//! standard-normal prior penalty (`-1/2 |z|^2`, same normalisation) instead.
//! The example prints one trajectory of each (objective, LES, `|z|`, the
//! decoded sentence), then a summary over 24 starting points, which also has
//! a weaker LES penalty (`alpha = 0.5`).
//!
//! Run with `cargo run --release --example latent_search`; a few seconds.
//!
//! # What it shows
//!
//! LES measures how much latent volume the decoder spends on its output: it
//! is high where many latents decode to the same confident sentence (the
//! decoder's support) and low where the output changes fast or is ambiguous.
//! Ascending the objective alone drives every run into such a low-LES spot
//! where the decoder emits a mixture of sentences: the objective gains, and
//! most decoded sentences become ungrammatical, although `|z|` stays moderate.
//! With the LES penalty (`alpha = 1`) every run keeps a high LES and a
//! grammatical sentence, at a lower objective; with `alpha = 0.5` the
//! normalised objective gradient wins wherever the two disagree, and most runs
//! end ungrammatical as without the penalty (the trade-off is sharp with
//! normalised gradients). The prior penalty alone keeps `|z|` small but pulls
//! the latents towards the origin, where this decoder is most ambiguous: a
//! small `|z|` is not the same as being in the decoder's distribution. Far
//! from the data, a ReLU decoder's logits grow linearly and its softmax
//! saturates, so LES grows there too (see `tour`): LES tells ambiguous from
//! confident outputs, not near from far.
mod common;

use common::mlp::{log_sum_exp, softmax};
use common::toy::{train_decoder, ToyLanguage};
use common::Rng;
use cpwl::scales::{les, les_grad, OutputShape};
use cpwl::Network;
use ndarray::{s, Array1, ArrayView1, Axis};

const SEQ_LEN: usize = 5;
const VOCAB: usize = 5;
const LATENT: usize = 4;
const SHAPE: OutputShape = OutputShape::Categorical {
    seq_len: SEQ_LEN,
    vocab: VOCAB,
};
const STEPS: usize = 200;
const LR: f64 = 0.05;
const STARTS: usize = 24;
/// The 99% quantile of `|z|` under `N(0, I_4)` (`sqrt` of the chi-square quantile 13.28).
const RADIUS_99: f64 = 3.644;

/// How a run combines the objective with a penalty.
#[derive(Clone, Copy, Debug)]
enum Strategy {
    ObjectiveOnly,
    Les { alpha: f64 },
    Prior { beta: f64 },
}

impl Strategy {
    fn name(self) -> String {
        match self {
            Strategy::ObjectiveOnly => "objective only".into(),
            Strategy::Les { alpha } => format!("objective + LES (alpha = {alpha})"),
            Strategy::Prior { beta } => format!("objective + N(0, I) prior (beta = {beta})"),
        }
    }
}

/// `log p(target | z)` and its exact gradient through the local affine map.
fn log_prob(decoder: &Network, z: ArrayView1<f64>, target: &[usize]) -> cpwl::Result<(f64, Array1<f64>)> {
    let map = decoder.local_affine(z)?;
    let logits = map.a.dot(&z) + &map.b;
    let mut value = 0.0;
    let mut grad = Array1::zeros(z.len());
    for (t, &y) in target.iter().enumerate() {
        let block = logits.slice(s![t * VOCAB..(t + 1) * VOCAB]);
        value += block[y] - log_sum_exp(block.iter().copied());
        for (v, p) in softmax(block.iter().copied()).into_iter().enumerate() {
            let indicator = if v == y { 1.0 } else { 0.0 };
            grad.scaled_add(indicator - p, &map.a.row(t * VOCAB + v));
        }
    }
    Ok((value, grad))
}

fn unit(g: Array1<f64>) -> Array1<f64> {
    let n = g.dot(&g).sqrt();
    if n > 0.0 && n.is_finite() {
        g / n
    } else {
        g * 0.0
    }
}

/// Where a run stands after a step.
struct State {
    objective: f64,
    les: f64,
    norm: f64,
    sentence: Vec<usize>,
}

struct Search<'a> {
    decoder: &'a Network,
    lang: &'a ToyLanguage,
    target: Vec<usize>,
}

impl Search<'_> {
    fn state(&self, z: ArrayView1<f64>) -> cpwl::Result<State> {
        Ok(State {
            objective: log_prob(self.decoder, z, &self.target)?.0,
            les: les(self.decoder, z.insert_axis(Axis(0)), SHAPE)?[0],
            norm: z.dot(&z).sqrt(),
            sentence: self.lang.decode(self.decoder.forward(z)?.view()),
        })
    }

    fn step_direction(&self, z: ArrayView1<f64>, strategy: Strategy) -> cpwl::Result<Array1<f64>> {
        let mut dir = unit(log_prob(self.decoder, z, &self.target)?.1);
        match strategy {
            Strategy::ObjectiveOnly => {}
            Strategy::Les { alpha } => {
                let g = les_grad(self.decoder, z.insert_axis(Axis(0)), SHAPE)?;
                dir.scaled_add(alpha, &unit(g.row(0).to_owned()));
            }
            Strategy::Prior { beta } => dir.scaled_add(-beta, &unit(z.to_owned())),
        }
        Ok(dir)
    }

    /// Runs the ascent from `z0`; prints every `print_every` steps when given.
    fn run(
        &self,
        z0: ArrayView1<f64>,
        strategy: Strategy,
        print_every: Option<usize>,
    ) -> cpwl::Result<State> {
        let mut z = z0.to_owned();
        for step in 0..STEPS {
            if print_every.is_some_and(|k| step % k == 0) {
                self.print(step, &self.state(z.view())?);
            }
            let dir = self.step_direction(z.view(), strategy)?;
            z.scaled_add(LR, &dir);
        }
        let last = self.state(z.view())?;
        if print_every.is_some() {
            self.print(STEPS, &last);
        }
        Ok(last)
    }

    fn print(&self, step: usize, st: &State) {
        println!(
            "    {step:4}  {:12.3}  {:8.2}  {:5.2}  {}  {}",
            st.objective,
            st.les,
            st.norm,
            self.lang.spell(&st.sentence),
            if self.lang.is_grammatical(&st.sentence) {
                "yes"
            } else {
                "no"
            }
        );
    }
}

fn quantiles(values: &[f64]) -> String {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    format!("q10 {:.2}, median {:.2}, q90 {:.2}", q(0.1), q(0.5), q(0.9))
}

fn main() -> cpwl::Result<()> {
    let mut rng = Rng::new(7);
    let lang = ToyLanguage::new(SEQ_LEN, VOCAB, LATENT, &mut rng);
    let (mlp, z_train) = train_decoder(&lang, &[64, 64], 4000, 3000, &mut rng);
    let decoder = mlp.to_network()?;
    describe_decoder(&decoder, &lang, &mut rng)?;

    let search = Search {
        decoder: &decoder,
        lang: &lang,
        target: vec![0; SEQ_LEN],
    };
    let traced = [
        Strategy::ObjectiveOnly,
        Strategy::Les { alpha: 1.0 },
        Strategy::Prior { beta: 1.0 },
    ];
    let z0 = z_train.row(0);
    println!(
        "\nobjective: log p({} | z); start: training latent 0 (|z| = {:.2}, decodes to {}); {STEPS} steps of {LR}",
        lang.spell(&search.target),
        z0.dot(&z0).sqrt(),
        lang.spell(&lang.sentence(z0))
    );
    for strategy in traced {
        println!("  {}:", strategy.name());
        println!("    step  log p(target)       LES    |z|  decoded  grammatical");
        search.run(z0, strategy, Some(STEPS / 10))?;
    }

    println!("\nsummary over {STARTS} starts (training latents), after {STEPS} steps:");
    println!("  strategy                                mean log p   grammatical   mean LES   mean |z|   |z| < {RADIUS_99}");
    let summarised = [traced[0], Strategy::Les { alpha: 0.5 }, traced[1], traced[2]];
    for strategy in summarised {
        let finals = (0..STARTS)
            .map(|i| search.run(z_train.row(i), strategy, None))
            .collect::<cpwl::Result<Vec<State>>>()?;
        let n = finals.len() as f64;
        let mean = |f: fn(&State) -> f64| finals.iter().map(f).sum::<f64>() / n;
        let grammatical = finals.iter().filter(|s| lang.is_grammatical(&s.sentence)).count();
        let inside = finals.iter().filter(|s| s.norm < RADIUS_99).count();
        let finite_les: Vec<f64> = finals.iter().map(|s| s.les).filter(|v| v.is_finite()).collect();
        println!(
            "  {:38} {:11.2}   {:>5} / {STARTS}   {:8.2}   {:8.2}   {:>4} / {STARTS}",
            strategy.name(),
            mean(|s| s.objective),
            grammatical,
            finite_les.iter().sum::<f64>() / finite_les.len().max(1) as f64,
            mean(|s| s.norm),
            inside
        );
    }
    Ok(())
}

/// How well the decoder learned the language, and LES where it is right or wrong.
fn describe_decoder(decoder: &Network, lang: &ToyLanguage, rng: &mut Rng) -> cpwl::Result<()> {
    let (z, _) = lang.samples(2000, rng);
    let logits = decoder.forward_batch(z.view())?;
    let scores = les(decoder, z.view(), SHAPE)?;
    let (mut exact, mut good, mut bad) = (0, Vec::new(), Vec::new());
    for ((zi, li), &s) in z.outer_iter().zip(logits.outer_iter()).zip(&scores) {
        let decoded = lang.decode(li);
        exact += usize::from(decoded == lang.sentence(zi));
        if s.is_finite() {
            if lang.is_grammatical(&decoded) {
                good.push(s)
            } else {
                bad.push(s)
            }
        }
    }
    println!(
        "decoder 4-64-64-25 (ReLU) trained on 4000 latents: on 2000 fresh z ~ N(0, I), {:.1}% decode to their sentence, {:.1}% to a grammatical one",
        100.0 * exact as f64 / z.nrows() as f64,
        100.0 * good.len() as f64 / (good.len() + bad.len()).max(1) as f64
    );
    println!(
        "  LES where the decoded sentence is grammatical:   {}",
        quantiles(&good)
    );
    if !bad.is_empty() {
        println!(
            "  LES where it is ungrammatical ({:3} latents):    {}",
            bad.len(),
            quantiles(&bad)
        );
    }
    Ok(())
}
