//! The guide's LES cross-check (docs/guide.md, section 5): PyTorch's autograd
//! LES of a small decoder (`scripts/export_fixtures.py`, `les_reference`)
//! equals cpwl's exact LES.

mod common;

use common::pytorch_fixture;
use cpwl::scales::{les, OutputShape};
use cpwl::Network;

/// Autograd's Jacobian and cpwl's exact one differ only by rounding.
const RTOL: f64 = 1e-9;

/// The numbers the guide prints, as PyTorch 2.15 printed them.
const GUIDE_LES: [f64; 3] = [6.156273693418, 6.613548558627, 6.090764304020];

#[test]
fn les_equals_pytorch_autograd() {
    let decoder = Network::from_npz(pytorch_fixture("les_decoder.npz")).unwrap();
    let io = cpwl::io::load_npz(pytorch_fixture("les_io.npz")).unwrap();
    let z = io["z"].clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let shape = OutputShape::Categorical { seq_len: 4, vocab: 5 };
    let ours = les(&decoder, z.view(), shape).unwrap();
    common::assert_close(
        "les",
        ours.as_slice().unwrap(),
        io["les"].as_slice().unwrap(),
        RTOL,
    );
    // The guide quotes the autograd values to 12 decimals.
    common::assert_close("guide", ours.as_slice().unwrap(), &GUIDE_LES, 1e-11);
}

#[test]
fn typed_npy_helpers_check_the_rank() {
    let dir = std::env::temp_dir().join(format!("cpwl-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v.npy");
    let data: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, common::npy_bytes("<f8", false, &[2], &data)).unwrap();
    let v = cpwl::io::load_npy1(&path);
    let m = cpwl::io::load_npy2(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(v.unwrap().to_vec(), vec![1.5, -2.0]);
    assert!(matches!(m, Err(cpwl::Error::Shape { .. })));
}
