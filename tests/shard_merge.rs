//! Sharded enumeration: the merged partition of the shards equals one run on
//! the whole domain; shard jobs and results survive their binary form;
//! point-wise jobs split by ranges and concatenate to the whole job.

use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition, RowSource};
use cpwl::scales::{les, OutputShape};
use cpwl::shard::{
    concat_points, merge, missing_shards, plan, point_ranges, run_shard, PlanOptions, ShardJob, ShardResult,
};
use cpwl::{Domain, Error, Network, Plane, Window};
use ndarray::{array, s, Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A random ReLU (or maxout) MLP with Gaussian weights.
fn random_net(seed: u64, input: usize, hidden: &[usize], maxout: bool) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut gauss = move |scale: f64| {
        let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
        scale * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut b = Network::builder(input);
    let mut width = input;
    for &h in hidden {
        let rows = if maxout { 2 * h } else { h };
        let w = Array2::from_shape_simple_fn((rows, width), || gauss((2.0 / width as f64).sqrt()));
        let c = Array1::from_shape_simple_fn(rows, || gauss(0.3));
        b = b.dense(w, c).unwrap();
        b = if maxout { b.maxout(2) } else { b.relu() };
        width = h;
    }
    let w = Array2::from_shape_simple_fn((2, width), || gauss(1.0));
    b.dense(w, array![0.1, -0.2]).unwrap().build().unwrap()
}

/// Enumerates every shard and merges, each shard going through its binary
/// form as it would between machines.
fn sharded(net: &Network, domain: &Domain, shards: usize, method: Method) -> Partition {
    let opts = PlanOptions {
        enumerate: EnumOptions {
            method,
            ..Default::default()
        },
        ..Default::default()
    };
    let jobs = plan(net, domain, shards, &opts).unwrap();
    assert_eq!(jobs.len(), shards);
    let results = jobs
        .iter()
        .map(|job| {
            let job = ShardJob::from_bytes(&job.to_bytes()).unwrap();
            let r = run_shard(net, domain, &job, &opts.enumerate).unwrap();
            ShardResult::from_bytes(&r.to_bytes()).unwrap()
        })
        .collect();
    merge(net, domain, results).unwrap()
}

fn facets(p: &Partition, i: usize) -> Vec<RowSource> {
    let mut f = p.region(i).sources().to_vec();
    f.sort_by_key(|s| format!("{s:?}"));
    f
}

/// The merged partition has the one-run partition's patterns, facets,
/// neighbours and volumes.
fn assert_same(merged: &Partition, whole: &Partition, what: &str) {
    let patterns = |p: &Partition| {
        p.regions()
            .iter()
            .map(|r| r.pattern().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(patterns(merged), patterns(whole), "{what}: patterns");
    assert_eq!(merged.adjacency(), whole.adjacency(), "{what}: neighbours");
    let scale = whole.domain().volume().unwrap_or(1.0);
    for i in 0..whole.len() {
        assert_eq!(
            facets(merged, i),
            facets(whole, i),
            "{what}: facets of region {i}"
        );
        let (a, b) = (merged.region(i).volume(), whole.region(i).volume());
        assert!((a - b).abs() <= 1e-9 * scale, "{what}: volume {i}: {a} vs {b}");
        let r = &merged.region(i);
        // The centre is inside the whole region, not just a piece of it.
        assert!(r.polytope().contains(r.center(), 1e-9), "{what}: centre of {i}");
    }
}

#[test]
fn merged_2d_partitions_equal_one_run() {
    for seed in 0..4 {
        let net = random_net(seed, 2, &[8, 8], seed % 2 == 1);
        let domain = Domain::cube(2, -1.5, 1.5);
        for method in [Method::Lp, Method::PlaneSplit] {
            let whole = enumerate(
                &net,
                &domain,
                &EnumOptions {
                    method,
                    ..Default::default()
                },
            )
            .unwrap();
            for shards in [1, 2, 3, 5] {
                let merged = sharded(&net, &domain, shards, method);
                assert_same(
                    &merged,
                    &whole,
                    &format!("seed {seed}, {method:?}, {shards} shards"),
                );
                assert!((merged.total_volume() - 9.0).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn merged_3d_partitions_equal_one_run() {
    for seed in 10..13 {
        let net = random_net(seed, 3, &[7, 6], seed == 11);
        let domain = Domain::boxed(array![-1.0, -0.5, -1.0], array![1.0, 0.5, 0.5]);
        let whole = enumerate(&net, &domain, &EnumOptions::default()).unwrap();
        for shards in [2, 4] {
            let merged = sharded(&net, &domain, shards, Method::Auto);
            assert_same(&merged, &whole, &format!("seed {seed}, {shards} shards"));
        }
    }
}

#[test]
fn polytopes_and_slices_shard_too() {
    let net = random_net(21, 3, &[6, 6], false);
    // A simplex-like polytope of input space.
    let a = array![
        [-1.0, 0.0, 0.0],
        [0.0, -1.0, 0.0],
        [0.0, 0.0, -1.0],
        [1.0, 1.0, 1.0]
    ];
    let poly = Domain::polytope(a, array![1.0, 1.0, 1.0, 1.0]);
    let whole = enumerate(&net, &poly, &EnumOptions::default()).unwrap();
    assert_same(&sharded(&net, &poly, 3, Method::Auto), &whole, "polytope");
    // A 2-D slice through three points of input space.
    let plane = Plane::through(
        array![0.0, 0.0, 0.0].view(),
        array![1.0, 0.2, 0.0].view(),
        array![0.0, 1.0, 0.5].view(),
    )
    .unwrap();
    let slice = Domain::plane(plane, Window::square(1.0));
    for method in [Method::Lp, Method::PlaneSplit] {
        let whole = enumerate(
            &net,
            &slice,
            &EnumOptions {
                method,
                ..Default::default()
            },
        )
        .unwrap();
        assert_same(
            &sharded(&net, &slice, 3, method),
            &whole,
            &format!("slice {method:?}"),
        );
    }
}

#[test]
fn shards_are_balanced_by_the_estimate() {
    // Units crowd the left half: x1 = c for many c < 0 makes vertical lines.
    let cuts: Vec<f64> = (1..=12).map(|k| -f64::from(k) / 13.0).collect();
    let w = Array2::from_shape_fn((cuts.len(), 2), |(_, j)| if j == 0 { 1.0 } else { 0.0 });
    let c = Array1::from_iter(cuts.iter().map(|v| -v));
    let net = Network::builder(2).dense(w, c).unwrap().relu().build().unwrap();
    let domain = Domain::cube(2, -1.0, 1.0);
    let jobs = plan(&net, &domain, 2, &PlanOptions::default()).unwrap();
    assert_eq!(jobs[0].axis, 0);
    // 13 slabs of regions, all but one in x < 0: the halves of the work meet
    // well left of the middle.
    let cut = jobs[0].hi.unwrap();
    assert!(cut < -0.3, "cut at {cut}");
    let parts: Vec<usize> = jobs
        .iter()
        .map(|j| {
            run_shard(&net, &domain, j, &EnumOptions::default())
                .unwrap()
                .pieces
                .len()
        })
        .collect();
    assert!(parts[0].abs_diff(parts[1]) <= 3, "{parts:?}");
}

#[test]
fn missing_or_foreign_shards_are_named() {
    let net = random_net(3, 2, &[5], false);
    let domain = Domain::cube(2, -1.0, 1.0);
    let opts = PlanOptions::default();
    let jobs = plan(&net, &domain, 3, &opts).unwrap();
    let mut results: Vec<ShardResult> = jobs
        .iter()
        .map(|j| run_shard(&net, &domain, j, &opts.enumerate).unwrap())
        .collect();
    let lost = results.remove(1);
    assert_eq!(missing_shards(3, &results), vec![1]);
    match merge(&net, &domain, results.clone()) {
        Err(Error::Invalid { reason, .. }) => assert!(reason.contains("[1]"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let other = random_net(4, 2, &[6], false);
    results.push(lost);
    assert!(matches!(
        merge(&other, &domain, results.clone()),
        Err(Error::Invalid { .. })
    ));
    assert!(merge(&net, &domain, results).is_ok());
    assert!(matches!(
        plan(&net, &domain, 0, &opts),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn binary_forms_round_trip_and_reject_damage() {
    let net = random_net(5, 2, &[6, 6], true);
    let domain = Domain::cube(2, -1.0, 1.0);
    let opts = PlanOptions::default();
    let job = &plan(&net, &domain, 2, &opts).unwrap()[1];
    assert_eq!(&ShardJob::from_bytes(&job.to_bytes()).unwrap(), job);
    let r = run_shard(&net, &domain, job, &opts.enumerate).unwrap();
    let bytes = r.to_bytes();
    assert_eq!(ShardResult::from_bytes(&bytes).unwrap(), r);
    for cut in [0, 3, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(ShardResult::from_bytes(&bytes[..cut]), Err(Error::Invalid { .. })),
            "cut {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ShardResult::from_bytes(&longer).is_err());
    assert!(ShardJob::from_bytes(&bytes).is_err());
}

#[cfg(feature = "serde")]
#[test]
fn serde_forms_round_trip() {
    let net = random_net(6, 2, &[5], false);
    let domain = Domain::cube(2, -1.0, 1.0);
    let opts = PlanOptions::default();
    let job = plan(&net, &domain, 2, &opts).unwrap().remove(0);
    let text = serde_json::to_string(&job).unwrap();
    assert_eq!(serde_json::from_str::<ShardJob>(&text).unwrap(), job);
    let r = run_shard(&net, &domain, &job, &opts.enumerate).unwrap();
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<ShardResult>(&text).unwrap(), r);
}

#[test]
fn point_jobs_concatenate_to_the_whole_job() {
    let net = random_net(7, 3, &[8, 8], false);
    let mut rng = StdRng::seed_from_u64(1);
    let points = Array2::from_shape_simple_fn((23, 3), || rng.random_range(-1.0..1.0));
    let ranges = point_ranges(points.nrows(), 4).unwrap();
    assert_eq!(ranges.first().unwrap().start, 0);
    assert_eq!(ranges.last().unwrap().end, 23);
    assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));

    let lc = LcOptions::new(0.2, Directions::Seeded { count: 3, seed: 9 });
    let whole = local_complexity(&net, points.view(), &lc).unwrap();
    let parts: Vec<Array2<u32>> = ranges
        .iter()
        .map(|r| {
            local_complexity(&net, points.slice(s![r.clone(), ..]), &lc)
                .unwrap()
                .per_layer()
                .clone()
        })
        .collect();
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    assert_eq!(concat_points(&views).unwrap(), whole.per_layer());

    let dirs = Directions::Seeded { count: 2, seed: 4 }.resolve(3).unwrap();
    let few = points.slice(s![..6, ..]);
    let exact_opts = LcOptions::new(0.2, Directions::Given(dirs));
    let exact = exact_local_complexity(&net, few, &exact_opts)
        .unwrap()
        .points()
        .to_vec();
    let joined: Vec<_> = point_ranges(6, 4)
        .unwrap()
        .into_iter()
        .flat_map(|r| {
            exact_local_complexity(&net, few.slice(s![r, ..]), &exact_opts)
                .unwrap()
                .points()
                .to_vec()
        })
        .collect();
    assert_eq!(joined, exact);

    let les_whole = les(&net, points.view(), OutputShape::Continuous).unwrap();
    let les_parts: Vec<Array1<f64>> = ranges
        .iter()
        .map(|r| les(&net, points.slice(s![r.clone(), ..]), OutputShape::Continuous).unwrap())
        .collect();
    let views: Vec<_> = les_parts.iter().map(|p| p.view()).collect();
    assert_eq!(concat_points(&views).unwrap(), les_whole);

    assert!(point_ranges(5, 0).is_err());
    assert!(matches!(
        concat_points(&[array![[1.0, 2.0]].view(), array![[1.0]].view()]),
        Err(Error::Shape { .. })
    ));
}
