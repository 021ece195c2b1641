//! Every layer type against a plain reference implementation written here,
//! and the exact local maps against forward passes and finite differences.

mod common;

use common::randn;
use cpwl::backend::{Backend, CpuBackend, Keep};
use cpwl::network::{BatchNorm, Conv2d, Pool2d, Skip};
use cpwl::Network;
use ndarray::{Array1, Array2, Array3, Array4};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn mat(rng: &mut StdRng, r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((r, c), || randn(rng) / (c as f64).sqrt())
}

fn vec(rng: &mut StdRng, n: usize) -> Array1<f64> {
    Array1::from_shape_simple_fn(n, || 0.3 * randn(rng))
}

// ---------- plain reference layers on C x H x W arrays ----------

fn ref_conv(x: &Array3<f64>, c: &Conv2d) -> Array3<f64> {
    let (cout, cin_g, kh, kw) = c.weight.dim();
    let (cin, h, w) = x.dim();
    let oh = (h + 2 * c.padding[0] - c.dilation[0] * (kh - 1) - 1) / c.stride[0] + 1;
    let ow = (w + 2 * c.padding[1] - c.dilation[1] * (kw - 1) - 1) / c.stride[1] + 1;
    let cout_g = cout / c.groups;
    let mut y = Array3::zeros((cout, oh, ow));
    for o in 0..cout {
        let g = o / cout_g;
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = c.bias.as_ref().map_or(0.0, |b| b[o]);
                for ci in 0..cin_g {
                    for a in 0..kh {
                        for b in 0..kw {
                            let yy = (i * c.stride[0] + a * c.dilation[0]) as isize - c.padding[0] as isize;
                            let xx = (j * c.stride[1] + b * c.dilation[1]) as isize - c.padding[1] as isize;
                            if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                                acc +=
                                    c.weight[[o, ci, a, b]] * x[[g * cin_g + ci, yy as usize, xx as usize]];
                            }
                        }
                    }
                }
                y[[o, i, j]] = acc;
            }
        }
    }
    assert_eq!(cin, cin_g * c.groups);
    y
}

fn ref_pool(x: &Array3<f64>, p: &Pool2d, max: bool) -> Array3<f64> {
    let (ch, h, w) = x.dim();
    let oh = (h + 2 * p.padding[0] - p.kernel[0]) / p.stride[0] + 1;
    let ow = (w + 2 * p.padding[1] - p.kernel[1]) / p.stride[1] + 1;
    Array3::from_shape_fn((ch, oh, ow), |(c, i, j)| {
        let mut vals = Vec::new();
        for a in 0..p.kernel[0] {
            for b in 0..p.kernel[1] {
                let yy = (i * p.stride[0] + a) as isize - p.padding[0] as isize;
                let xx = (j * p.stride[1] + b) as isize - p.padding[1] as isize;
                if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                    vals.push(x[[c, yy as usize, xx as usize]]);
                }
            }
        }
        if max {
            vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        } else if p.count_include_pad {
            vals.iter().sum::<f64>() / (p.kernel[0] * p.kernel[1]) as f64
        } else {
            vals.iter().sum::<f64>() / vals.len() as f64
        }
    })
}

fn ref_bn(x: &Array3<f64>, bn: &BatchNorm) -> Array3<f64> {
    Array3::from_shape_fn(x.dim(), |(c, i, j)| {
        bn.gamma[c] * (x[[c, i, j]] - bn.mean[c]) / (bn.var[c] + bn.eps).sqrt() + bn.beta[c]
    })
}

fn leaky(v: f64, a: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        a * v
    }
}

#[allow(clippy::too_many_arguments)]
fn random_conv(
    rng: &mut StdRng,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    groups: usize,
) -> Conv2d {
    let weight = Array4::from_shape_simple_fn((cout, cin / groups, k, k), || {
        randn(rng) / ((cin * k * k) as f64).sqrt()
    });
    Conv2d {
        weight,
        bias: Some(vec(rng, cout)),
        stride: [stride, stride],
        padding: [pad, pad],
        dilation: [dil, dil],
        groups,
    }
}

fn random_bn(rng: &mut StdRng, c: usize) -> BatchNorm {
    BatchNorm {
        gamma: vec(rng, c).mapv(|v| 1.0 + v),
        beta: vec(rng, c),
        mean: vec(rng, c),
        var: vec(rng, c).mapv(|v| 0.5 + v * v),
        eps: 1e-5,
    }
}

/// A CNN using every layer type, and the same computation written plainly.
fn cnn_case(seed: u64) -> (Network, impl Fn(&Array1<f64>) -> Array1<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let c1 = random_conv(&mut rng, 2, 4, 3, 1, 1, 1, 1);
    let bn1 = random_bn(&mut rng, 4);
    let mp = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
        count_include_pad: true,
    };
    let c2 = random_conv(&mut rng, 4, 4, 3, 1, 2, 2, 2);
    let ap = Pool2d {
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
        count_include_pad: false,
    };
    let bn2 = random_bn(&mut rng, 4);
    let proj = random_conv(&mut rng, 4, 6, 1, 1, 0, 1, 1);
    let c3 = random_conv(&mut rng, 4, 6, 3, 1, 1, 1, 1);
    let w_out = mat(&mut rng, 18, 24);
    let b_out = vec(&mut rng, 18);
    let w_last = mat(&mut rng, 2, 6);
    let b_last = vec(&mut rng, 2);
    let slope = 0.1 + rng.random::<f64>();

    let net = Network::builder_image(2, 6, 6)
        .conv2d(c1.clone())
        .unwrap()
        .batch_norm(bn1.clone())
        .unwrap()
        .leaky_relu(slope)
        .max_pool2d(mp)
        .unwrap()
        .conv2d(c2.clone())
        .unwrap()
        .abs()
        .avg_pool2d(ap)
        .unwrap()
        .batch_norm(bn2.clone())
        .unwrap()
        .residual_with(Skip::Conv(proj.clone()), |b| Ok(b.conv2d(c3.clone())?.relu()))
        .unwrap()
        .flatten()
        .dense(w_out.clone(), b_out.clone())
        .unwrap()
        .maxout(3)
        .dense(w_last.clone(), b_last.clone())
        .unwrap()
        .build()
        .unwrap();
    let reference = move |x: &Array1<f64>| {
        let img = x.clone().into_shape_with_order((2, 6, 6)).unwrap();
        let h = ref_bn(&ref_conv(&img, &c1), &bn1).mapv(|v| leaky(v, slope));
        let h = ref_pool(&h, &mp, true);
        let h = ref_conv(&h, &c2).mapv(f64::abs);
        let h = ref_bn(&ref_pool(&h, &ap, false), &bn2);
        let h = ref_conv(&h, &c3).mapv(|v| v.max(0.0)) + ref_conv(&h, &proj);
        let flat = Array1::from_iter(h.iter().cloned());
        let z = w_out.dot(&flat) + &b_out;
        let m = Array1::from_iter(
            z.as_slice()
                .unwrap()
                .chunks(3)
                .map(|c| c.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
        );
        w_last.dot(&m) + &b_last
    };
    (net, reference)
}

fn random_input(rng: &mut StdRng, n: usize) -> Array1<f64> {
    Array1::from_shape_simple_fn(n, || randn(rng))
}

fn close(a: &Array1<f64>, b: &Array1<f64>, tol: f64) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_layer_matches_reference(seed in 0u64..10_000) {
        let (net, reference) = cnn_case(seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xabc);
        for _ in 0..4 {
            let x = random_input(&mut rng, 72);
            let got = net.forward(x.view()).unwrap();
            prop_assert!(close(&got, &reference(&x), 1e-12), "{got} vs {}", reference(&x));
        }
    }

    #[test]
    fn local_affine_reproduces_forward_on_the_region(seed in 0u64..10_000) {
        let (net, _) = cnn_case(seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let x = random_input(&mut rng, 72);
        let pattern = net.pattern(x.view()).unwrap();
        let map = net.local_affine(x.view()).unwrap();
        let mut checked = 0;
        for k in 0..20 {
            let scale = 1e-2 / (1 << (k / 4)) as f64;
            let y = &x + &random_input(&mut rng, 72).mapv(|v| v * scale);
            if net.pattern(y.view()).unwrap() == pattern {
                checked += 1;
                prop_assert!(close(&map.apply(y.view()).unwrap(), &net.forward(y.view()).unwrap(), 1e-10));
            }
        }
        prop_assert!(checked > 0, "no nearby point shared the pattern");
    }

    #[test]
    fn jacobian_matches_central_differences(seed in 0u64..10_000) {
        let (net, _) = cnn_case(seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xd1ff);
        let x = random_input(&mut rng, 72);
        let map = net.local_affine(x.view()).unwrap();
        let region = net.region_at(x.view(), &cpwl::Domain::cube(72, -1e6, 1e6)).unwrap();
        let h = region.radius() / 2.0;
        prop_assume!(h > 1e-7);
        for i in (0..72).step_by(7) {
            let mut e = Array1::zeros(72);
            e[i] = h;
            let diff = (net.forward((&x + &e).view()).unwrap() - net.forward((&x - &e).view()).unwrap()) / (2.0 * h);
            prop_assert!(close(&diff, &map.a.column(i).to_owned(), 1e-6), "column {i}: {diff} vs {}", map.a.column(i));
        }
    }

    #[test]
    fn batch_serial_parallel_and_single_agree(seed in 0u64..10_000, n in 1usize..40, chunk in 1usize..9) {
        let (net, _) = cnn_case(seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xba7c);
        let x = Array2::from_shape_simple_fn((n, 72), || randn(&mut rng));
        let par = CpuBackend::default().with_chunk(chunk).jacobians(&net, x.view()).unwrap();
        let ser = CpuBackend::serial().jacobians(&net, x.view()).unwrap();
        prop_assert_eq!(&par.patterns, &ser.patterns);
        prop_assert!(par.jacobians.iter().zip(ser.jacobians.iter()).all(|(a, b)| (a - b).abs() <= 1e-12 * (1.0 + a.abs())));
        let fwd = CpuBackend::default().with_chunk(chunk).forward(&net, x.view(), Keep::Patterns).unwrap();
        prop_assert_eq!(fwd.patterns.as_ref().unwrap(), &par.patterns);
        for (i, row) in x.outer_iter().enumerate() {
            let single = net.forward(row).unwrap();
            prop_assert!(close(&single, &fwd.outputs.row(i).to_owned(), 1e-12));
            prop_assert_eq!(net.pattern(row).unwrap().to_values(), par.patterns.row(i).to_vec());
            let map = net.local_affine(row).unwrap();
            prop_assert!(map.a.iter().zip(par.jacobians.index_axis(ndarray::Axis(0), i).iter()).all(|(a, b)| (a - b).abs() <= 1e-10 * (1.0 + a.abs())));
        }
    }
}

#[test]
fn pattern_covers_every_nonlinearity() {
    let (net, _) = cnn_case(1);
    // leaky: 4*6*6, max pool: 4*3*3, abs: 4*3*3, relu (residual body): 6*2*2, maxout: 6.
    assert_eq!(net.unit_count(), 144 + 36 + 36 + 24 + 6);
    let x = random_input(&mut StdRng::seed_from_u64(3), 72);
    let text = net.pattern(x.view()).unwrap().to_string();
    assert!(
        text[144..180].chars().all(|c| ('0'..='3').contains(&c)),
        "max-pool units hold window indices"
    );
    assert!(
        text[244..].chars().all(|c| ('0'..='2').contains(&c)),
        "maxout units hold piece indices"
    );
}

/// Shapes too large for the candidate indices (u32) or for `usize` are
/// errors, never overflow panics or silently wrapped indices.
#[test]
fn oversized_shapes_are_errors() {
    let huge = usize::MAX / 2;
    assert!(Network::builder_image(huge, huge, 4)
        .flatten()
        .relu()
        .build()
        .is_err());
    assert!(Network::builder_image(1, 1 << 17, 1 << 17)
        .max_pool2d(Pool2d::square(2))
        .is_err());
    assert!(Network::builder(1 << 33).maxout(2).build().is_err());
    let wide = Conv2d {
        padding: [1 << 31, 1 << 31],
        ..Conv2d::new(Array4::ones((1, 1, 1, 1)), None)
    };
    assert!(Network::builder_image(1, 1, 1).conv2d(wide).is_err());
}
