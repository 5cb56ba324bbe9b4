//! The chain builder against the spec reader: one chain described as a spec file and given to
//! `ChainBuilder` directly (as the Python package does) gives identical notes and estimate bits.

use crate::common::npy::{col_major, npy_bytes, test_matrix, write};
use replica_core::replica::{solve, SolverOptions};
use replica_core::spec::load_spec_with_notes;

/// The same chain described as a spec file and given to the core's `ChainBuilder` directly (as
/// the Python package does): identical notes, identical estimate bits. Layers: a matrix, a
/// matrix stored transposed (noted), a spectrum file, Gaussian weights.
#[test]
fn spec_and_builder_build_the_same_chain() {
    use replica_core::builder::{ChainBuilder, LayerInput, MatrixInput, WeightsInput};
    use replica_core::replica::{Activation, Prior};
    use replica_core::weights::WeightMatrix;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let w1 = test_matrix(30, 20);
    // the second layer's W is 10 x 30, stored as its 30 x 10 transpose
    let w2 = test_matrix(10, 30);
    let w2t = col_major(10, 30, &w2);
    let le8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    write(
        dir.path(),
        "w1.npy",
        &npy_bytes("<f8", false, &[30, 20], &le8(&w1), 1),
    );
    write(
        dir.path(),
        "w2t.npy",
        &npy_bytes("<f8", false, &[30, 10], &le8(&w2t), 1),
    );
    let eigs = [2.0, 0.5, 0.0, 0.0];
    std::fs::write(dir.path().join("s.txt"), "eigenvalue\n2\n0.5\n0\n0\n").unwrap();
    let spec = "[prior]\nkind = \"gauss-bernoulli\"\np = 0.4\nvar = 1.5\n\
        [[layers]]\nactivation = \"relu\"\nnoise_var = 0\nweights = { kind = \"matrix\", file = \"w1.npy\" }\n\
        [[layers]]\nactivation = \"hardtanh\"\nthreshold = 0.8\nnoise_var = 1e-3\nweights = { kind = \"matrix\", file = \"w2t.npy\", scale = 0.5 }\n\
        [[layers]]\nalpha = 0.5\nactivation = \"leaky-relu\"\nslope = 0.2\nnoise_var = 0\nweights = { kind = \"spectrum\", file = \"s.txt\" }\n\
        [[layers]]\nalpha = 1.5\nactivation = \"linear\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", var = 2.0 }\n";
    let p = dir.path().join("spec.toml");
    std::fs::write(&p, spec).unwrap();
    let from_spec = load_spec_with_notes(&p).unwrap();

    let matrix = |rows, cols, data: &[f64], scale, file: &str| {
        WeightsInput::Matrix(MatrixInput {
            matrix: Arc::new(WeightMatrix::from_row_major(rows, cols, data.to_vec()).unwrap()),
            scale,
            source: Some(dir.path().join(file).display().to_string()),
            bias: None,
        })
    };
    let mut b = ChainBuilder::new(Prior::gauss_bernoulli(0.4, 0.0, 1.5).unwrap());
    b.push(LayerInput::new(
        Activation::Relu,
        0.0,
        matrix(30, 20, &w1, 1.0, "w1.npy"),
    ))
    .unwrap();
    b.push(LayerInput::new(
        Activation::Hardtanh { threshold: 0.8 },
        1e-3,
        matrix(30, 10, &w2t, 0.5, "w2t.npy"),
    ))
    .unwrap();
    let spectrum = WeightsInput::Spectrum {
        eigenvalues: eigs.to_vec(),
        scale: 1.0,
    };
    b.push(LayerInput::new(Activation::LeakyRelu { slope: 0.2 }, 0.0, spectrum).alpha(0.5))
        .unwrap();
    let gaussian = WeightsInput::Gaussian { var: 2.0 };
    b.push(LayerInput::new(Activation::Linear, 0.01, gaussian).alpha(1.5))
        .unwrap();
    let built = b.build().unwrap();

    assert_eq!(built.notes, from_spec.notes);
    assert_eq!(built.notes.len(), 2, "{:?}", built.notes);
    assert!(
        built.notes[0].starts_with("layers[1].weights: the stored 30 x 10 matrix from ")
            && built.notes[0].contains("w2t.npy is read as its transpose W (10 x 30"),
        "{}",
        built.notes[0]
    );
    let opts = SolverOptions::default();
    let (a, b) = (
        solve(&from_spec.chain, &opts).unwrap(),
        solve(&built.chain, &opts).unwrap(),
    );
    println!(
        "spec: H = {:e}, I = {:?}; builder: H = {:e}",
        a.entropy, a.mutual_information, b.entropy
    );
    assert_eq!(a.entropy.to_bits(), b.entropy.to_bits());
    assert_eq!(
        a.mutual_information.map(f64::to_bits),
        b.mutual_information.map(f64::to_bits)
    );
    assert_eq!(a.mmse.to_bits(), b.mmse.to_bits());
}
