//! Property tests driven by `cpwl::strategies` (feature `proptest`): the
//! exact local maps, regions and partitions of random networks on random
//! domains.
#![cfg(feature = "proptest")]

use cpwl::regions::{enumerate, EnumOptions};
use cpwl::strategies::{domains, mlps, networks, points_in, slices, HiddenActivation, NetworkParams};
use cpwl::{Domain, Network};
use ndarray::Array1;
use proptest::prelude::*;

fn close(a: &Array1<f64>, b: &Array1<f64>) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())))
}

/// A network with a point of its input space.
fn net_and_input() -> impl Strategy<Value = (Network, Array1<f64>)> {
    networks(NetworkParams::default()).prop_flat_map(|net| {
        let x = proptest::collection::vec(-2.0f64..2.0, net.input_dim()).prop_map(Array1::from);
        (Just(net), x)
    })
}

/// A small 2-D case: an MLP, a box, polytope or slice domain of its input
/// space, and a point of the domain.
fn planar_case() -> impl Strategy<Value = (Network, Domain, Array1<f64>)> {
    let act = proptest::sample::select(vec![
        HiddenActivation::Relu,
        HiddenActivation::LeakyRelu,
        HiddenActivation::Abs,
        HiddenActivation::Maxout,
    ]);
    (2usize..=3, act)
        .prop_flat_map(|(d, act)| {
            let domain = if d == 2 { domains(2) } else { slices(d) };
            (mlps(d, 1..=4, act), domain)
        })
        .prop_flat_map(|(net, domain)| {
            let y = points_in(&domain);
            (Just(net), Just(domain), y)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn local_affine_reproduces_forward((net, x) in net_and_input()) {
        let map = net.local_affine(x.view()).unwrap();
        prop_assert!(close(&map.apply(x.view()).unwrap(), &net.forward(x.view()).unwrap()));
    }

    #[test]
    fn region_at_holds_its_point_and_map((net, domain, y) in planar_case()) {
        let region = net.region_at(y.view(), &domain).unwrap();
        prop_assert!(region.polytope().contains(y.view(), 1e-9));
        let x = domain.to_input(y.view());
        prop_assert!(close(&region.affine().apply(y.view()).unwrap(), &net.forward(x.view()).unwrap()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn planar_partitions_tile_the_domain((net, domain, y) in planar_case()) {
        let part = enumerate(&net, &domain, &EnumOptions::default()).unwrap();
        prop_assert!(!part.is_empty());
        if let Some(area) = domain.volume() {
            prop_assert!((part.total_volume() - area).abs() <= 1e-8 * area);
        }
        let i = part.locate(y.view());
        prop_assert!(i.is_some());
        let region = &part.region(i.unwrap());
        let x = domain.to_input(y.view());
        prop_assert!(close(&region.affine().apply(y.view()).unwrap(), &net.forward(x.view()).unwrap()));
    }
}

#[cfg(feature = "serde")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn serde_round_trip_keeps_outputs((net, x) in net_and_input()) {
        let back: Network = serde_json::from_str(&serde_json::to_string(&net).unwrap()).unwrap();
        prop_assert_eq!(&back, &net);
        prop_assert_eq!(back.forward(x.view()).unwrap(), net.forward(x.view()).unwrap());
    }
}
