//! The regions meeting a Euclidean ball (issue 13, item 5): the exact local
//! complexity for round neighbourhoods, checked against closed-form distances
//! to polygons and boxes, against points sampled in the ball, and between the
//! box counts of the inscribed and circumscribed cubes (a second method: LPs).

mod common;

use common::random_relu_mlp;
use cpwl::regions::{enumerate, EnumOptions, Partition};
use cpwl::{Domain, Error, Network};
use ndarray::{array, Array1, ArrayView1};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn partition(seed: u64, d: usize, hidden: &[usize]) -> Partition {
    let net = random_relu_mlp(seed, d, hidden, 2);
    enumerate(&net, &Domain::cube(d, -1.0, 1.0), &EnumOptions::default()).unwrap()
}

fn norm(v: ArrayView1<f64>) -> f64 {
    v.dot(&v).sqrt()
}

/// The distance from `c` to the segment `[p, q]`, in closed form.
fn segment_distance(p: [f64; 2], q: [f64; 2], c: ArrayView1<f64>) -> f64 {
    let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
    let t = (((c[0] - p[0]) * dx + (c[1] - p[1]) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((p[0] + t * dx - c[0]).powi(2) + (p[1] + t * dy - c[1]).powi(2)).sqrt()
}

/// The distance from `c` to a convex polygon: 0 inside, else the nearest edge.
fn polygon_distance(polygon: &[[f64; 2]], c: ArrayView1<f64>) -> f64 {
    let n = polygon.len();
    let cross: Vec<f64> = (0..n)
        .map(|i| {
            let (p, q) = (polygon[i], polygon[(i + 1) % n]);
            (q[0] - p[0]) * (c[1] - p[1]) - (q[1] - p[1]) * (c[0] - p[0])
        })
        .collect();
    // Inside: on the same side of every edge, whichever the orientation.
    let inside = cross.iter().all(|&v| v >= 0.0) || cross.iter().all(|&v| v <= 0.0);
    if inside {
        return 0.0;
    }
    (0..n)
        .map(|i| segment_distance(polygon[i], polygon[(i + 1) % n], c))
        .fold(f64::INFINITY, f64::min)
}

/// A point uniform in the ball `B(c, r)` (rejection from the cube).
fn point_in_ball(rng: &mut StdRng, c: &Array1<f64>, r: f64) -> Array1<f64> {
    loop {
        let v: Array1<f64> = (0..c.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        if norm(v.view()) < 1.0 {
            return c + &(v * r);
        }
    }
}

#[test]
fn planar_counts_match_closed_form_distances_to_the_polygons() {
    let part = partition(11, 2, &[8, 6]);
    let mut rng = StdRng::seed_from_u64(11);
    let mut counted = 0;
    for _ in 0..12 {
        let c: Array1<f64> = (0..2).map(|_| rng.random_range(-1.2..1.2)).collect();
        let r = rng.random_range(0.02..0.6);
        let got = part.regions_meeting_ball(c.view(), r).unwrap();
        for (i, region) in part.regions().iter().enumerate() {
            let want = polygon_distance(region.polygon().unwrap(), c.view());
            let distance = region.distance(c.view()).unwrap();
            assert!(
                (distance - want).abs() < 1e-12,
                "region {i}: {distance} vs {want}"
            );
            // Regions within rounding of the sphere could go either way.
            if (want - r).abs() > 1e-9 {
                assert_eq!(got.contains(&i), want < r, "region {i} at {want}, radius {r}");
            }
        }
        counted += got.len();
    }
    assert!(counted > 12, "the balls should meet several regions each");
}

#[test]
fn every_sampled_point_lies_in_a_counted_region() {
    for (d, hidden, seed) in [(2usize, vec![8, 6], 3u64), (3, vec![6, 5], 5)] {
        let part = partition(seed, d, &hidden);
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..4 {
            let c: Array1<f64> = (0..d).map(|_| rng.random_range(-0.7..0.7)).collect();
            let r = rng.random_range(0.1..0.3);
            let got = part.regions_meeting_ball(c.view(), r).unwrap();
            for _ in 0..2000 {
                let y = point_in_ball(&mut rng, &c, r);
                let i = part.locate(y.view()).unwrap();
                assert!(got.contains(&i), "d = {d}: sampled region {i} not counted");
            }
            // Each counted region is really within reach (its distance is
            // certified below by the rows and above by the returned point).
            for &i in &got {
                assert!(part.region(i).distance(c.view()).unwrap() < r);
            }
        }
    }
}

#[test]
fn ball_counts_lie_between_the_inscribed_and_circumscribed_cubes() {
    for (d, hidden, seed) in [(3usize, vec![6, 5], 7u64), (4, vec![5, 4], 13)] {
        let part = partition(seed, d, &hidden);
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..3 {
            let c: Array1<f64> = (0..d).map(|_| rng.random_range(-0.6..0.6)).collect();
            let r = rng.random_range(0.15..0.35);
            let ball = part.regions_meeting_ball(c.view(), r).unwrap();
            let cube = |half: f64| {
                let window = Domain::boxed(&c - half, &c + half).constraints().unwrap();
                part.regions_meeting(&window).unwrap()
            };
            let inner = cube(r / (d as f64).sqrt());
            let outer = cube(r);
            assert!(
                inner.iter().all(|i| ball.contains(i)),
                "d = {d}: inner cube not in the ball's"
            );
            assert!(
                ball.iter().all(|i| outer.contains(i)),
                "d = {d}: ball's not in the outer cube"
            );
            assert!(
                inner.len() < outer.len(),
                "d = {d}: the test should separate the cubes"
            );
        }
    }
}

#[test]
fn distance_to_a_box_region_is_the_clamp() {
    // One unit whose hyperplane misses the cube: a single region, the cube.
    let net = Network::builder(3)
        .dense(array![[1.0, 1.0, 1.0]], array![10.0])
        .unwrap()
        .relu()
        .build()
        .unwrap();
    let part = enumerate(&net, &Domain::cube(3, -1.0, 1.0), &EnumOptions::default()).unwrap();
    assert_eq!(part.len(), 1);
    let region = &part.region(0);
    for y in [
        array![3.0, 0.0, 0.0],
        array![2.0, -3.0, 0.5],
        array![-4.0, 4.0, 4.0],
        array![0.1, 0.2, 0.3],
    ] {
        let clamp = y.mapv(|v: f64| v.clamp(-1.0, 1.0));
        let want = norm((&y - &clamp).view());
        assert!((region.distance(y.view()).unwrap() - want).abs() < 1e-13);
        // The ball meets the cube exactly when the radius exceeds that distance.
        assert_eq!(part.regions_meeting_ball(y.view(), want + 1e-6).unwrap(), vec![0]);
        if want > 0.0 {
            assert!(part
                .regions_meeting_ball(y.view(), want - 1e-6)
                .unwrap()
                .is_empty());
        }
    }
}

#[test]
fn a_ball_inside_a_region_meets_only_it_and_one_around_the_domain_meets_all() {
    for (d, hidden, seed) in [(2usize, vec![8, 6], 17u64), (3, vec![6, 5], 19)] {
        let part = partition(seed, d, &hidden);
        for (i, region) in part.regions().iter().enumerate().step_by(5) {
            let inside = part
                .regions_meeting_ball(region.center(), 0.5 * region.radius())
                .unwrap();
            assert_eq!(inside, vec![i], "d = {d}");
        }
        // The cube [-1, 1]^d lies in the ball of radius sqrt(d) + 0.1 around 0.
        let all = part
            .regions_meeting_ball(Array1::zeros(d).view(), (d as f64).sqrt() + 0.1)
            .unwrap();
        assert_eq!(all, (0..part.len()).collect::<Vec<_>>());
    }
}

#[test]
fn bad_balls_are_typed_errors() {
    let part = partition(1, 2, &[4]);
    let c = array![0.0, 0.0];
    assert!(matches!(
        part.regions_meeting_ball(array![0.0, 0.0, 0.0].view(), 0.5),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        part.regions_meeting_ball(array![0.0, f64::NAN].view(), 0.5),
        Err(Error::NonFinite { index: 1, .. })
    ));
    for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(part.regions_meeting_ball(c.view(), r), Err(Error::Invalid { .. })),
            "radius {r}"
        );
    }
    assert!(matches!(
        part.region(0).distance(array![0.0].view()),
        Err(Error::Shape { .. })
    ));
}
