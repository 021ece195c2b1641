//! Proptest strategies for random networks, domains and points (feature
//! `proptest`), for property tests of code built on `cpwl`.
//!
//! Every strategy produces valid inputs only: finite parameters, shapes that
//! chain, bounded full-dimensional domains, points inside them. Weights are
//! drawn in `[-1, 1]` (scaled by `1 / sqrt(fan_in)`), so they shrink towards
//! zero, which is where degenerate cases (dead units, coinciding
//! hyperplanes) live.
//!
//! | strategy | produces |
//! |---|---|
//! | [`networks`] | dense MLPs (ReLU, leaky ReLU, abs, maxout) and small CNNs (convolution, batch norm, max and average pooling, residual blocks) |
//! | [`mlps`] | dense MLPs of a given input width and one activation |
//! | [`domains`] | boxes and polytopes of a given dimension |
//! | [`slices`] | 2-D slices (planes through three points, square or triangle windows) |
//! | [`points_in`] | points of a domain, in its own coordinates |
//!
//! # Examples
//!
//! In a downstream crate's tests (with `cpwl = { features = ["proptest"] }`
//! and `proptest` as dev-dependencies), strategies go where proptest expects
//! them: `proptest! { #[test] fn name(net in mlps(..)) { .. } }` in a test
//! file, or the closure form, which runs at once:
//!
//! ```
//! use cpwl::strategies::{mlps, HiddenActivation};
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(16), |(net in mlps(3, 1..=5, HiddenActivation::Relu))| {
//!     let y = net.forward(ndarray::array![0.5, -1.0, 2.0].view()).unwrap();
//!     prop_assert!(y.iter().all(|v| v.is_finite()));
//! });
//! ```
//!
//! Strategies compose with `prop_flat_map` when one value depends on another,
//! as a point depends on its domain:
//!
//! ```
//! use cpwl::strategies::{domains, networks, points_in, NetworkParams};
//! use proptest::prelude::*;
//!
//! let params = NetworkParams { input_dim: 2..=2, cnns: false, ..Default::default() };
//! let case = (networks(params), domains(2))
//!     .prop_flat_map(|(net, domain)| (Just(net), points_in(&domain), Just(domain)));
//! proptest!(ProptestConfig::with_cases(8), |((net, y, domain) in case)| {
//!     let region = net.region_at(y.view(), &domain).unwrap();
//!     let direct = net.forward(y.view()).unwrap();
//!     let mapped = region.affine().apply(y.view()).unwrap();
//!     for (a, b) in direct.iter().zip(&mapped) {
//!         prop_assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()));
//!     }
//! });
//! ```
#![allow(clippy::test_attr_in_doctest)] // the examples show downstream `proptest!` tests

use std::ops::RangeInclusive;

use ndarray::{Array1, Array2, Array4};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::lp::chebyshev_ball;
use crate::network::{BatchNorm, Conv2d, NetworkBuilder, Pool2d};
use crate::{Domain, Network, Plane, Polytope, Result, Window};

/// A hidden nonlinearity that [`networks`] and [`mlps`] may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HiddenActivation {
    /// ReLU.
    Relu,
    /// Leaky ReLU with a slope drawn in `[0.01, 0.5]`.
    LeakyRelu,
    /// Absolute value.
    Abs,
    /// Maxout over groups of 2 or 3 (the preceding dense layer is widened to match).
    Maxout,
}

/// The ranges [`networks`] draws from.
///
/// Empty ranges are widened to their start, and zero widths to 1, so every
/// setting gives valid networks.
///
/// # Examples
///
/// ```
/// use cpwl::strategies::{HiddenActivation, NetworkParams};
/// let params = NetworkParams { widths: 2..=8, activations: vec![HiddenActivation::Abs], ..Default::default() };
/// assert!(params.cnns);
/// ```
#[derive(Clone, Debug)]
pub struct NetworkParams {
    /// Input widths of the MLPs.
    pub input_dim: RangeInclusive<usize>,
    /// Hidden layers of the MLPs.
    pub hidden_layers: RangeInclusive<usize>,
    /// Widths of hidden layers (after maxout).
    pub widths: RangeInclusive<usize>,
    /// Output widths.
    pub output_dim: RangeInclusive<usize>,
    /// The nonlinearities to choose from, per layer (ReLU when empty).
    pub activations: Vec<HiddenActivation>,
    /// Also draw small CNNs (on `1..=2 x 4..=6 x 4..=6` images, whatever
    /// `input_dim` says), half of the time.
    pub cnns: bool,
    #[doc(hidden)]
    pub _private: crate::Private,
}

impl Default for NetworkParams {
    fn default() -> Self {
        NetworkParams {
            input_dim: 1..=4,
            hidden_layers: 1..=3,
            widths: 1..=6,
            output_dim: 1..=2,
            activations: vec![
                HiddenActivation::Relu,
                HiddenActivation::LeakyRelu,
                HiddenActivation::Abs,
                HiddenActivation::Maxout,
            ],
            cnns: true,
            _private: Default::default(),
        }
    }
}

/// Random networks: dense MLPs and, when [`NetworkParams::cnns`] is set,
/// small CNNs with convolutions, batch norm, pooling and residual blocks.
///
/// # Examples
///
/// ```
/// use cpwl::strategies::{networks, NetworkParams};
/// use proptest::prelude::*;
/// proptest!(ProptestConfig::with_cases(8), |(net in networks(NetworkParams::default()))| {
///     let x = ndarray::Array1::zeros(net.input_dim());
///     let map = net.local_affine(x.view()).unwrap();
///     prop_assert_eq!(map.a.dim(), (net.output_dim(), net.input_dim()));
/// });
/// ```
pub fn networks(params: NetworkParams) -> BoxedStrategy<Network> {
    let acts = hidden_choices(&params.activations);
    let mlp = mlp_plans(
        at_least(params.input_dim.clone(), 1),
        at_least(params.hidden_layers.clone(), 0),
        at_least(params.widths.clone(), 1),
        at_least(params.output_dim.clone(), 1),
        acts.clone(),
    )
    .prop_map(Plan::Mlp)
    .boxed();
    let plans = if params.cnns {
        let cnn = cnn_plans(acts, at_least(params.output_dim.clone(), 1)).prop_map(Plan::Cnn);
        prop_oneof![mlp, cnn].boxed()
    } else {
        mlp
    };
    with_parameters(plans)
}

/// Random dense MLPs on inputs of width `input_dim` (at least 1), with 1 to 3
/// hidden layers of widths drawn from `widths`, 1 or 2 outputs, and
/// `activation` after every hidden layer.
///
/// # Examples
///
/// ```
/// use cpwl::strategies::{mlps, HiddenActivation};
/// use proptest::prelude::*;
/// proptest!(ProptestConfig::with_cases(8), |(net in mlps(2, 3..=4, HiddenActivation::Maxout))| {
///     prop_assert_eq!(net.input_dim(), 2);
///     prop_assert!(net.unit_count() >= 3);
/// });
/// ```
pub fn mlps(
    input_dim: usize,
    widths: RangeInclusive<usize>,
    activation: HiddenActivation,
) -> BoxedStrategy<Network> {
    let d = input_dim.max(1);
    let plans = mlp_plans(
        d..=d,
        1..=3,
        at_least(widths, 1),
        1..=2,
        hidden_choices(&[activation]),
    )
    .prop_map(Plan::Mlp);
    with_parameters(plans.boxed())
}

/// Random bounded, full-dimensional domains of dimension `dim` (at least 1):
/// boxes, and boxes cut by one to three half-spaces through their interior
/// (given to [`Domain::polytope`]).
///
/// # Examples
///
/// ```
/// use cpwl::strategies::domains;
/// use proptest::prelude::*;
/// proptest!(ProptestConfig::with_cases(8), |(d in domains(3))| {
///     prop_assert!(d.validate().is_ok());
///     prop_assert_eq!(d.dim(), 3);
/// });
/// ```
pub fn domains(dim: usize) -> BoxedStrategy<Domain> {
    let dim = dim.max(1);
    prop_oneof![
        boxes(dim).prop_map(|(lo, hi)| Domain::boxed(lo, hi)),
        cut_boxes(dim),
    ]
    .boxed()
}

/// Random 2-D slices of an input space of dimension `input_dim`: planes
/// through three random points at least 0.1 apart (and 0.1 away from
/// collinear), with a square window of half-width 0.5 to 3 or the triangle of
/// the three points. Below 2 input dimensions, where no plane exists, this
/// gives [`domains`] instead.
///
/// # Examples
///
/// ```
/// use cpwl::strategies::slices;
/// use proptest::prelude::*;
/// proptest!(ProptestConfig::with_cases(8), |(d in slices(5))| {
///     prop_assert_eq!((d.dim(), d.input_dim()), (2, 5));
///     prop_assert!(d.validate().is_ok());
/// });
/// ```
pub fn slices(input_dim: usize) -> BoxedStrategy<Domain> {
    if input_dim < 2 {
        return domains(input_dim);
    }
    let point = || vec(-2.0f64..2.0, input_dim);
    let window = prop_oneof![(0.5f64..3.0).prop_map(Window::Square), Just(Window::Triangle)];
    (point(), point(), point(), window)
        .prop_filter_map("three points far from collinear", |(x0, x1, x2, window)| {
            let plane = Plane::through(
                Array1::from(x0).view(),
                Array1::from(x1).view(),
                Array1::from(x2).view(),
            )
            .ok()?;
            let [_, [n1, _], [_, n2]] = plane.anchors();
            (n1 >= 0.1 && n2 >= 0.1).then(|| Domain::plane(plane, window))
        })
        .boxed()
}

/// Random points of `domain`, in the domain's own coordinates (input
/// coordinates for boxes and polytopes, `(s, t)` for slices: lift them with
/// [`Domain::to_input`]).
///
/// A point is drawn uniformly in the domain's bounding box and, when it falls
/// outside, moved towards the domain's Chebyshev centre until it is inside,
/// so the whole domain is covered, its boundary included. An invalid domain
/// has no points: the strategy then rejects every value, and proptest reports
/// too many rejections.
pub fn points_in(domain: &Domain) -> BoxedStrategy<Array1<f64>> {
    match point_sampler(domain) {
        Ok(sampler) => {
            let ranges: Vec<_> = sampler.lo.iter().zip(&sampler.hi).map(|(&l, &h)| l..=h).collect();
            ranges
                .prop_map(move |p| sampler.pull_inside(Array1::from(p)))
                .boxed()
        }
        Err(_) => Just(Array1::zeros(domain.dim()))
            .prop_filter("the domain is invalid", |_| false)
            .boxed(),
    }
}

/// What [`points_in`] needs: the domain's rows, bounding box and an interior point.
struct PointSampler {
    constraints: Polytope,
    lo: Array1<f64>,
    hi: Array1<f64>,
    center: Array1<f64>,
}

fn point_sampler(domain: &Domain) -> Result<PointSampler> {
    let constraints = domain.constraints()?;
    let (center, _) = chebyshev_ball(&constraints, "random points")?
        .ok_or_else(|| crate::Error::invalid("domain", "empty"))?;
    let (lo, hi) = match domain.bounding_box() {
        Some(b) => b,
        None => crate::regions::setup::lp_bounding_box(&constraints, &mut Default::default())?,
    };
    Ok(PointSampler {
        constraints,
        lo,
        hi,
        center,
    })
}

impl PointSampler {
    /// `p` if it is inside, else the last point inside on the segment from the
    /// centre to `p`.
    fn pull_inside(&self, p: Array1<f64>) -> Array1<f64> {
        let dir = &p - &self.center;
        let slack = &self.constraints.b - &self.constraints.a.dot(&self.center);
        let rate = self.constraints.a.dot(&dir);
        let t = slack
            .iter()
            .zip(&rate)
            .filter(|(_, &r)| r > 0.0)
            .map(|(&s, &r)| (s.max(0.0) / r).min(1.0))
            .fold(1.0f64, f64::min);
        &self.center + &(dir * t)
    }
}

fn boxes(dim: usize) -> impl Strategy<Value = (Array1<f64>, Array1<f64>)> {
    vec((-2.0f64..1.0, 0.5f64..3.0), dim).prop_map(|sides| {
        let lo: Array1<f64> = sides.iter().map(|s| s.0).collect();
        let hi: Array1<f64> = sides.iter().map(|s| s.0 + s.1).collect();
        (lo, hi)
    })
}

/// A box cut by half-spaces whose boundaries pass at a positive distance from
/// the box's centre, which therefore stays inside.
fn cut_boxes(dim: usize) -> impl Strategy<Value = Domain> {
    let cut = (vec(-1.0f64..1.0, dim), 0.1f64..0.9);
    (boxes(dim), vec(cut, 1..=3)).prop_filter_map("non-zero cut normals", move |((lo, hi), cuts)| {
        let center = (&lo + &hi) / 2.0;
        let half_min = (&hi - &lo).fold(f64::INFINITY, |m, &w| m.min(w)) / 2.0;
        let mut a = Array2::zeros((2 * dim + cuts.len(), dim));
        let mut b = Array1::zeros(2 * dim + cuts.len());
        for i in 0..dim {
            a[[2 * i, i]] = 1.0;
            b[2 * i] = hi[i];
            a[[2 * i + 1, i]] = -1.0;
            b[2 * i + 1] = -lo[i];
        }
        for (k, (normal, depth)) in cuts.iter().enumerate() {
            let normal = Array1::from(normal.clone());
            let norm = normal.dot(&normal).sqrt();
            if norm < 0.1 {
                return None;
            }
            a.row_mut(2 * dim + k).assign(&normal);
            b[2 * dim + k] = normal.dot(&center) + depth * half_min * norm;
        }
        Some(Domain::polytope(a, b))
    })
}

fn at_least(r: RangeInclusive<usize>, min: usize) -> RangeInclusive<usize> {
    let lo = (*r.start()).max(min);
    lo..=(*r.end()).max(lo)
}

/// A hidden layer's nonlinearity with its drawn parameter.
#[derive(Clone, Copy, Debug)]
enum Hidden {
    Relu,
    Leaky(f64),
    Abs,
    Maxout(usize),
}

fn hidden_choices(acts: &[HiddenActivation]) -> BoxedStrategy<Hidden> {
    let acts = if acts.is_empty() {
        vec![HiddenActivation::Relu]
    } else {
        acts.to_vec()
    };
    proptest::sample::select(acts)
        .prop_flat_map(|a| match a {
            HiddenActivation::Relu => Just(Hidden::Relu).boxed(),
            HiddenActivation::LeakyRelu => (0.01f64..=0.5).prop_map(Hidden::Leaky).boxed(),
            HiddenActivation::Abs => Just(Hidden::Abs).boxed(),
            HiddenActivation::Maxout => (2usize..=3).prop_map(Hidden::Maxout).boxed(),
        })
        .boxed()
}

/// The architecture of a random network, before its parameters are drawn.
#[derive(Clone, Debug)]
enum Plan {
    Mlp(MlpPlan),
    Cnn(CnnPlan),
}

#[derive(Clone, Debug)]
struct MlpPlan {
    input: usize,
    hidden: Vec<(usize, Hidden)>,
    output: usize,
}

#[derive(Clone, Debug)]
struct CnnPlan {
    image: (usize, usize, usize),
    channels: usize,
    batch_norm: bool,
    act: Hidden,
    pool: Option<bool>,
    residual: bool,
    head: (usize, Hidden),
    output: usize,
}

fn mlp_plans(
    input: RangeInclusive<usize>,
    depth: RangeInclusive<usize>,
    widths: RangeInclusive<usize>,
    output: RangeInclusive<usize>,
    acts: BoxedStrategy<Hidden>,
) -> impl Strategy<Value = MlpPlan> {
    (input, vec((widths, acts), depth), output).prop_map(|(input, hidden, output)| MlpPlan {
        input,
        hidden,
        output,
    })
}

fn cnn_plans(acts: BoxedStrategy<Hidden>, output: RangeInclusive<usize>) -> impl Strategy<Value = CnnPlan> {
    let image = (1usize..=2, 4usize..=6, 4usize..=6);
    let pool = prop_oneof![Just(None), Just(Some(true)), Just(Some(false))];
    (
        image,
        1usize..=3,
        any::<bool>(),
        acts.clone(),
        pool,
        any::<bool>(),
        (1usize..=4, acts),
        output,
    )
        .prop_map(
            |(image, channels, batch_norm, act, pool, residual, head, output)| CnnPlan {
                image,
                channels,
                batch_norm,
                act,
                pool,
                residual,
                head,
                output,
            },
        )
}

/// Draws each plan's parameters (as many as a dry run of its build consumes)
/// and builds the network.
fn with_parameters(plans: BoxedStrategy<Plan>) -> BoxedStrategy<Network> {
    plans
        .prop_flat_map(|plan| {
            let mut dry = Draw::counting();
            let count = plan.build(&mut dry).map_or(0, |_| dry.used);
            (Just(plan), vec(-1.0f64..1.0, count))
        })
        .prop_filter_map("a network that builds", |(plan, values)| {
            plan.build(&mut Draw::reading(&values)).ok()
        })
        .boxed()
}

/// Hands out parameter values in order; in counting mode, only counts them.
struct Draw<'a> {
    values: Option<&'a [f64]>,
    used: usize,
}

impl<'a> Draw<'a> {
    fn counting() -> Self {
        Draw {
            values: None,
            used: 0,
        }
    }

    fn reading(values: &'a [f64]) -> Self {
        Draw {
            values: Some(values),
            used: 0,
        }
    }

    fn next(&mut self) -> f64 {
        let v = self.values.and_then(|v| v.get(self.used)).copied().unwrap_or(0.5);
        self.used += 1;
        v
    }

    fn vector(&mut self, n: usize, scale: f64) -> Array1<f64> {
        Array1::from_shape_simple_fn(n, || scale * self.next())
    }

    fn dense(&mut self, b: NetworkBuilder, out: usize) -> Result<NetworkBuilder> {
        let fan_in = b.shape().len();
        let scale = 1.0 / (fan_in.max(1) as f64).sqrt();
        let w = Array2::from_shape_simple_fn((out, fan_in), || scale * self.next());
        let bias = self.vector(out, 0.5);
        b.dense(w, bias)
    }

    fn conv3x3(&mut self, b: NetworkBuilder, cin: usize, cout: usize) -> Result<NetworkBuilder> {
        let scale = 1.0 / ((9 * cin) as f64).sqrt();
        let weight = Array4::from_shape_simple_fn((cout, cin, 3, 3), || scale * self.next());
        let conv = Conv2d {
            padding: [1, 1],
            ..Conv2d::new(weight, Some(self.vector(cout, 0.5)))
        };
        b.conv2d(conv)
    }

    fn batch_norm(&mut self, b: NetworkBuilder, c: usize) -> Result<NetworkBuilder> {
        let bn = BatchNorm {
            gamma: self.vector(c, 0.5).mapv(|v| 1.0 + v),
            beta: self.vector(c, 0.5),
            mean: self.vector(c, 0.5),
            var: self.vector(c, 1.0).mapv(|v| 0.5 + v * v),
            eps: crate::io::DEFAULT_BN_EPS,
        };
        b.batch_norm(bn)
    }

    /// A dense layer of `width` units followed by `act` (widened for maxout).
    fn hidden(&mut self, b: NetworkBuilder, width: usize, act: Hidden) -> Result<NetworkBuilder> {
        Ok(match act {
            Hidden::Maxout(k) => self.dense(b, width * k)?.maxout(k),
            other => apply(self.dense(b, width)?, other),
        })
    }
}

/// A two-piece activation on the builder (maxout falls back to ReLU, for
/// convolution outputs that have no groups).
fn apply(b: NetworkBuilder, act: Hidden) -> NetworkBuilder {
    match act {
        Hidden::Relu | Hidden::Maxout(_) => b.relu(),
        Hidden::Leaky(s) => b.leaky_relu(s),
        Hidden::Abs => b.abs(),
    }
}

impl Plan {
    fn build(&self, draw: &mut Draw<'_>) -> Result<Network> {
        match self {
            Plan::Mlp(p) => {
                let mut b = Network::builder(p.input);
                for &(width, act) in &p.hidden {
                    b = draw.hidden(b, width, act)?;
                }
                draw.dense(b, p.output)?.build()
            }
            Plan::Cnn(p) => {
                let (c, h, w) = p.image;
                let mut b = draw.conv3x3(Network::builder_image(c, h, w), c, p.channels)?;
                if p.batch_norm {
                    b = draw.batch_norm(b, p.channels)?;
                }
                b = apply(b, p.act);
                b = match p.pool {
                    Some(true) => b.max_pool2d(Pool2d::square(2))?,
                    Some(false) => b.avg_pool2d(Pool2d::square(2))?,
                    None => b,
                };
                if p.residual {
                    b = b.residual(|body| Ok(apply(draw.conv3x3(body, p.channels, p.channels)?, p.act)))?;
                }
                let (width, act) = p.head;
                let b = draw.hidden(b.flatten(), width, act)?;
                draw.dense(b, p.output)?.build()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    #[test]
    fn networks_cover_every_activation_and_cnns() {
        let mut runner = TestRunner::deterministic();
        let strategy = networks(NetworkParams::default());
        let (mut cnn, mut maxout) = (false, false);
        for _ in 0..64 {
            let net = strategy.new_tree(&mut runner).unwrap().current();
            cnn |= matches!(net.input_shape(), crate::network::Shape::Image { .. });
            maxout |= net
                .unit_layers()
                .iter()
                .any(|u| matches!(u.kind, crate::network::UnitKind::Max { pool: false, .. }));
        }
        assert!(cnn && maxout);
    }

    #[test]
    fn points_stay_in_their_domain() {
        let mut runner = TestRunner::deterministic();
        for dim in 1..=3 {
            for _ in 0..20 {
                let domain = domains(dim).new_tree(&mut runner).unwrap().current();
                let rows = domain.constraints().unwrap();
                let points = points_in(&domain);
                for _ in 0..10 {
                    let y = points.new_tree(&mut runner).unwrap().current();
                    assert!(rows.contains(y.view(), 1e-12), "{y} outside {domain:?}");
                }
            }
        }
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)]
    fn empty_ranges_still_give_networks() {
        let params = NetworkParams {
            input_dim: 3..=1,
            widths: 0..=0,
            activations: Vec::new(),
            cnns: false,
            ..Default::default()
        };
        let mut runner = TestRunner::deterministic();
        let net = networks(params).new_tree(&mut runner).unwrap().current();
        assert_eq!(net.input_dim(), 3);
    }
}
