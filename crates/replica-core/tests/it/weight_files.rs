//! Weight files: `.npy`, `.npz` and `.safetensors` written here byte by byte (or by the zip and
//! safetensors crates) and read back exactly; every bad case an error naming the file and the
//! rule; spec files with `kind = "matrix"` against the exact Gaussian log-determinant. Table
//! driven: failures print their parameters. (Files written by numpy itself, including
//! `savez_compressed`, are read in the Python tests, python/tests/test_weights.py.)

use faer::Mat;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_core::exact::{gaussian_chain_entropy, gaussian_matrix};
use replica_core::replica::{solve, SolverOptions};
use replica_core::spec::{load_spec_with_notes, load_spec_with_options, SpecError, SpecOptions};
use replica_core::weights::{read_matrix, WeightError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::common::npy::{col_major, npy_bytes, test_matrix, write};

#[test]
fn npy_variants_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (3, 5);
    let vals = test_matrix(r, c); // multiples of 1/64: exact in f16, f32 and f64
    let le8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let be8 = |v: &[f64]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let le4 = |v: &[f64]| {
        v.iter()
            .flat_map(|x| (*x as f32).to_le_bytes())
            .collect::<Vec<u8>>()
    };
    // f16 of k/64 with |k| <= 50: exact; build the bits from the f32 ones
    let le2 = |v: &[f64]| {
        v.iter()
            .flat_map(|x| {
                let b = (*x as f32).to_bits();
                let sign = ((b >> 16) & 0x8000) as u16;
                let h = if *x == 0.0 {
                    sign
                } else {
                    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
                    assert!(exp > 0, "normal f16 only in this test");
                    sign | ((exp as u16) << 10) | ((b >> 13) & 0x3ff) as u16
                };
                h.to_le_bytes()
            })
            .collect::<Vec<u8>>()
    };
    let cm = col_major(r, c, &vals);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("f8 C v1", npy_bytes("<f8", false, &[r, c], &le8(&vals), 1)),
        ("f8 C v2", npy_bytes("<f8", false, &[r, c], &le8(&vals), 2)),
        ("f8 C v3", npy_bytes("<f8", false, &[r, c], &le8(&vals), 3)),
        ("f8 Fortran", npy_bytes("<f8", true, &[r, c], &le8(&cm), 1)),
        (
            "f8 big-endian",
            npy_bytes(">f8", false, &[r, c], &be8(&vals), 1),
        ),
        ("f4 C", npy_bytes("<f4", false, &[r, c], &le4(&vals), 1)),
        ("f4 Fortran", npy_bytes("<f4", true, &[r, c], &le4(&cm), 1)),
        ("f2 C", npy_bytes("<f2", false, &[r, c], &le2(&vals), 1)),
    ];
    for (name, bytes) in cases {
        let p = write(dir.path(), "w.npy", &bytes);
        let m = read_matrix(&p, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .matrix;
        assert_eq!((m.rows(), m.cols()), (r, c), "{name}");
        assert_eq!(m.as_slice(), vals.as_slice(), "{name}");
    }
}

#[test]
fn npz_and_safetensors_read_back_exactly() {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let a = test_matrix(4, 6);
    let b = test_matrix(6, 2);
    let le8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let le4 = |v: &[f64]| {
        v.iter()
            .flat_map(|x| (*x as f32).to_le_bytes())
            .collect::<Vec<u8>>()
    };

    // npz (stored members, as numpy.savez writes them)
    let npz = dir.path().join("w.npz");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&npz).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("fc1.npy", opts).unwrap();
        z.write_all(&npy_bytes("<f8", false, &[4, 6], &le8(&a), 1))
            .unwrap();
        z.start_file("fc2.npy", opts).unwrap();
        z.write_all(&npy_bytes("<f4", false, &[6, 2], &le4(&b), 1))
            .unwrap();
        z.finish().unwrap();
    }
    let m = read_matrix(&npz, Some("fc1")).unwrap();
    assert_eq!(m.matrix.as_slice(), a.as_slice());
    assert_eq!(m.tensor.as_deref(), Some("fc1"));
    let m = read_matrix(&npz, Some("fc2")).unwrap();
    assert_eq!((m.matrix.rows(), m.matrix.cols()), (6, 2));
    assert_eq!(m.matrix.as_slice(), b.as_slice());

    // safetensors, f32 and f64
    let st = dir.path().join("w.safetensors");
    let (ba, bb) = (le8(&a), le4(&b));
    let tensors = vec![
        (
            "layer.0.weight".to_string(),
            TensorView::new(Dtype::F64, vec![4, 6], &ba).unwrap(),
        ),
        (
            "layer.1.weight".to_string(),
            TensorView::new(Dtype::F32, vec![6, 2], &bb).unwrap(),
        ),
    ];
    safetensors::tensor::serialize_to_file(tensors, None, &st).unwrap();
    let m = read_matrix(&st, Some("layer.0.weight")).unwrap();
    assert_eq!(m.matrix.as_slice(), a.as_slice());
    let m = read_matrix(&st, Some("layer.1.weight")).unwrap();
    assert_eq!(m.matrix.as_slice(), b.as_slice());
}

#[test]
fn bad_weight_files_are_errors_naming_the_rule() {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let le8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let good = npy_bytes("<f8", false, &[2, 2], &le8(&[1.0, 2.0, 3.0, 4.0]), 1);
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    let two = dir.path().join("two.npz");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&two).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for n in ["a.npy", "b.npy"] {
            z.start_file(n, opts).unwrap();
            z.write_all(&good).unwrap();
        }
        z.finish().unwrap();
    }
    let st = dir.path().join("i.safetensors");
    let ints = [1i32, 2, 3, 4]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect::<Vec<u8>>();
    safetensors::tensor::serialize_to_file(
        vec![("w", TensorView::new(Dtype::I32, vec![2, 2], &ints).unwrap())],
        None,
        &st,
    )
    .unwrap();

    type Check = fn(&WeightError) -> bool;
    let cases: Vec<(&str, PathBuf, Option<&str>, Check)> = vec![
        ("missing file", dir.path().join("nope.npy"), None, |e| {
            matches!(e, WeightError::Io(_))
        }),
        (
            "unknown extension",
            write(dir.path(), "w.pt", &good),
            None,
            |e| matches!(e, WeightError::UnknownFormat),
        ),
        (
            "not npy",
            write(dir.path(), "junk.npy", b"hello world, not numpy"),
            None,
            |e| matches!(e, WeightError::Format { format: "npy", .. }),
        ),
        (
            "truncated",
            write(dir.path(), "t.npy", &truncated),
            None,
            |e| matches!(e, WeightError::Length(_)),
        ),
        (
            "rank 1",
            write(
                dir.path(),
                "r1.npy",
                &npy_bytes("<f8", false, &[4], &le8(&[1.0; 4]), 1),
            ),
            None,
            |e| matches!(e, WeightError::Rank { shape } if shape == &[4]),
        ),
        (
            "rank 3",
            write(
                dir.path(),
                "r3.npy",
                &npy_bytes("<f8", false, &[1, 2, 2], &le8(&[1.0; 4]), 1),
            ),
            None,
            |e| matches!(e, WeightError::Rank { shape } if shape.len() == 3),
        ),
        (
            "NaN",
            write(
                dir.path(),
                "nan.npy",
                &npy_bytes("<f8", false, &[2, 2], &le8(&[1.0, 2.0, 3.0, f64::NAN]), 1),
            ),
            None,
            |e| matches!(e, WeightError::NonFinite { row: 1, col: 1, .. }),
        ),
        (
            "inf",
            write(
                dir.path(),
                "inf.npy",
                &npy_bytes(
                    "<f8",
                    false,
                    &[2, 2],
                    &le8(&[1.0, f64::INFINITY, 3.0, 4.0]),
                    1,
                ),
            ),
            None,
            |e| matches!(e, WeightError::NonFinite { row: 0, col: 1, .. }),
        ),
        (
            "integer dtype",
            write(
                dir.path(),
                "int.npy",
                &npy_bytes("<i8", false, &[2, 2], &[0u8; 32], 1),
            ),
            None,
            |e| matches!(e, WeightError::Dtype(_)),
        ),
        (
            "empty",
            write(
                dir.path(),
                "e.npy",
                &npy_bytes("<f8", false, &[0, 3], &[], 1),
            ),
            None,
            |e| matches!(e, WeightError::Empty { .. }),
        ),
        (
            "tensor on npy",
            write(dir.path(), "g.npy", &good),
            Some("w"),
            |e| matches!(e, WeightError::TensorNotApplicable(_)),
        ),
        ("npz: no tensor named", two.clone(), None, |e| {
            matches!(e, WeightError::TensorRequired { count: 2, .. })
        }),
        ("npz: missing tensor", two.clone(), Some("c"), |e| {
            matches!(e, WeightError::MissingTensor { .. })
        }),
        ("safetensors: integer", st.clone(), Some("w"), |e| {
            matches!(e, WeightError::Dtype(_))
        }),
        ("safetensors: missing tensor", st.clone(), Some("v"), |e| {
            matches!(e, WeightError::MissingTensor { .. })
        }),
        (
            "safetensors: garbage",
            write(
                dir.path(),
                "g.safetensors",
                b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}",
            ),
            None,
            |e| {
                matches!(
                    e,
                    WeightError::Format {
                        format: "safetensors",
                        ..
                    }
                )
            },
        ),
    ];
    for (name, path, tensor, check) in cases {
        match read_matrix(&path, tensor) {
            Ok(m) => panic!("{name}: read {} x {}", m.matrix.rows(), m.matrix.cols()),
            Err(e) => {
                assert!(check(&e), "{name}: wrong error {e:?}");
                assert!(!e.to_string().is_empty(), "{name}");
            }
        }
    }
}

fn write_npy_matrix(path: &Path, m: &Mat<f64>, fortran: bool) {
    let (r, c) = (m.nrows(), m.ncols());
    let vals: Vec<f64> = if fortran {
        (0..c)
            .flat_map(|j| (0..r).map(move |i| m[(i, j)]))
            .collect()
    } else {
        (0..r)
            .flat_map(|i| (0..c).map(move |j| m[(i, j)]))
            .collect()
    };
    let data: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, npy_bytes("<f8", fortran, &[r, c], &data, 1)).unwrap();
}

fn transpose(m: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(m.ncols(), m.nrows(), |i, j| m[(j, i)])
}

/// One linear layer from a weight file against `ln det(2 pi e Sigma)/(2 n_0)` of the very matrix:
/// for Gaussian input only the spectrum of `W^T W` enters the entropy of `W x + xi`, so the
/// replica value is exact at any size (tests/exact.rs measures 1e-10); 1e-8 leaves room for the
/// quadrature and the solver tolerance. The same file read with alpha given, alpha omitted, and
/// stored transposed (alpha given) must give the same chain.
#[test]
fn matrix_spec_equals_log_det_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for &(n_in, n_out, var, noise, prior_var) in &[
        (120usize, 180usize, 1.0, 0.01, 1.0),
        (200, 100, 2.0, 1e-3, 0.5),
        (150, 150, 0.5, 0.1, 2.0),
    ] {
        let w = gaussian_matrix(n_out, n_in, var, &mut rng);
        let exact = gaussian_chain_entropy(prior_var, std::slice::from_ref(&w), &[noise]).unwrap();
        let alpha = n_out as f64 / n_in as f64;
        write_npy_matrix(&dir.path().join("w.npy"), &w, false);
        write_npy_matrix(&dir.path().join("wf.npy"), &w, true);
        write_npy_matrix(&dir.path().join("wt.npy"), &transpose(&w), false);
        let variants: Vec<(&str, String, bool)> = vec![
            (
                "alpha given",
                format!("alpha = {alpha}\nweights = {{ kind = \"matrix\", file = \"w.npy\" }}"),
                false,
            ),
            (
                "alpha omitted",
                "weights = { kind = \"matrix\", file = \"w.npy\" }".into(),
                false,
            ),
            (
                "fortran order",
                "weights = { kind = \"matrix\", file = \"wf.npy\" }".into(),
                false,
            ),
            // a square matrix stored transposed cannot be detected: only non-square ones here
            (
                "stored transposed",
                format!("alpha = {alpha}\nweights = {{ kind = \"matrix\", file = \"wt.npy\" }}"),
                n_in != n_out,
            ),
        ];
        for (name, weights, expect_note) in variants {
            if name == "stored transposed" && n_in == n_out {
                continue;
            }
            let spec = format!(
                "[prior]\nkind = \"gaussian\"\nvar = {prior_var}\n[[layers]]\nactivation = \"linear\"\nnoise_var = {noise}\n{weights}\n"
            );
            let p = dir.path().join("spec.toml");
            std::fs::write(&p, &spec).unwrap();
            let loaded = load_spec_with_notes(&p)
                .unwrap_or_else(|e| panic!("n_in={n_in} n_out={n_out} {name}: {e}"));
            // (every matrix spec also carries the spectrum-only note; the transposition is ours)
            assert_eq!(
                loaded.notes.iter().any(|n| n.contains("transpose")),
                expect_note,
                "n_in={n_in} n_out={n_out} {name}: notes {:?}",
                loaded.notes
            );
            let c = &loaded.chain;
            assert_eq!(c.layers()[0].alpha(), alpha, "{name}");
            let est = solve(c, &SolverOptions::default()).unwrap();
            assert!(
                (est.entropy - exact).abs() < 1e-8,
                "n_in={n_in} n_out={n_out} var={var} noise={noise} prior_var={prior_var} {name}: replica {} exact {exact}",
                est.entropy
            );
        }
    }
}

/// Spec-level rules: every bad matrix layer is an error naming `layers[i].weights.file` (or the
/// field at fault), the file and the rule.
#[test]
fn matrix_spec_errors_name_field_file_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let le8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let m32 = test_matrix(30, 20);
    write(
        dir.path(),
        "w30x20.npy",
        &npy_bytes("<f8", false, &[30, 20], &le8(&m32), 1),
    );
    write(
        dir.path(),
        "w10x30.npy",
        &npy_bytes("<f8", false, &[10, 30], &le8(&test_matrix(10, 30)), 1),
    );
    write(
        dir.path(),
        "w10x25.npy",
        &npy_bytes("<f8", false, &[10, 25], &le8(&test_matrix(10, 25)), 1),
    );
    write(
        dir.path(),
        "zero.npy",
        &npy_bytes("<f8", false, &[2, 3], &le8(&[0.0; 6]), 1),
    );
    write(
        dir.path(),
        "vec.npy",
        &npy_bytes("<f8", false, &[5], &le8(&[1.0; 5]), 1),
    );
    let head = "[prior]\nkind = \"gaussian\"\nvar = 1\n";
    let layer = |w: &str, alpha: Option<f64>, noise: f64| {
        format!(
            "[[layers]]\n{}activation = \"relu\"\nnoise_var = {noise}\nweights = {w}\n",
            alpha.map(|a| format!("alpha = {a}\n")).unwrap_or_default()
        )
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        // (name, layers, field, a fragment of the message)
        (
            "shape vs alpha",
            layer(
                "{ kind = \"matrix\", file = \"w30x20.npy\" }",
                Some(1.0),
                0.1,
            ),
            "layers[0].weights.file",
            "contradicts alpha",
        ),
        (
            "missing file",
            layer("{ kind = \"matrix\", file = \"none.npy\" }", None, 0.1),
            "layers[0].weights.file",
            "cannot read",
        ),
        (
            "no file key",
            layer("{ kind = \"matrix\" }", None, 0.1),
            "layers[0].weights.file",
            "matrix weights need file",
        ),
        (
            "var on matrix",
            layer(
                "{ kind = \"matrix\", file = \"w30x20.npy\", var = 1.0 }",
                None,
                0.1,
            ),
            "layers[0].weights.var",
            "not a parameter",
        ),
        (
            "tensor on gaussian",
            layer(
                "{ kind = \"gaussian\", var = 1.0, tensor = \"x\" }",
                Some(1.0),
                0.1,
            ),
            "layers[0].weights.tensor",
            "not a parameter",
        ),
        (
            "tensor on npy",
            layer(
                "{ kind = \"matrix\", file = \"w30x20.npy\", tensor = \"x\" }",
                None,
                0.1,
            ),
            "layers[0].weights.file",
            "single array",
        ),
        (
            "rank 1",
            layer("{ kind = \"matrix\", file = \"vec.npy\" }", None, 0.1),
            "layers[0].weights.file",
            "rank 1",
        ),
        (
            "zero matrix",
            layer("{ kind = \"matrix\", file = \"zero.npy\" }", None, 0.1),
            "layers[0].weights.file",
            "every entry is zero",
        ),
        (
            "bad scale",
            layer(
                "{ kind = \"matrix\", file = \"w30x20.npy\", scale = -1.0 }",
                None,
                0.1,
            ),
            "layers[0].weights.scale",
            "> 0",
        ),
        (
            "shape vs previous layer",
            layer("{ kind = \"matrix\", file = \"w30x20.npy\" }", None, 0.0)
                + &layer("{ kind = \"matrix\", file = \"w10x25.npy\" }", None, 0.1),
            "layers[1].weights.file",
            "previous layer",
        ),
        (
            "previous width through an ensemble layer",
            layer("{ kind = \"matrix\", file = \"w30x20.npy\" }", None, 0.0)
                + &layer("{ kind = \"gaussian\", var = 1.0 }", Some(0.5), 0.0)
                + &layer("{ kind = \"matrix\", file = \"w10x30.npy\" }", None, 0.1),
            "layers[2].weights.file",
            "n_(l-1) = 15",
        ),
    ];
    for (name, layers, field, fragment) in cases {
        let p = dir.path().join("spec.toml");
        std::fs::write(&p, format!("{head}{layers}")).unwrap();
        match load_spec_with_notes(&p) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => {
                let msg = e.to_string();
                assert_eq!(e.field(), Some(field), "{name}: {msg}");
                assert!(msg.contains(fragment), "{name}: '{fragment}' not in: {msg}");
                if let SpecError::Weights { path, .. } = &e {
                    assert!(msg.contains(&path.display().to_string()), "{name}: {msg}");
                }
            }
        }
    }

    // a chain of matrices whose widths agree, one of them stored transposed: accepted, noted
    let p = dir.path().join("spec.toml");
    std::fs::write(
        &p,
        format!(
            "{head}{}{}",
            layer("{ kind = \"matrix\", file = \"w30x20.npy\" }", None, 0.0),
            layer("{ kind = \"matrix\", file = \"w10x30.npy\" }", None, 0.1)
        ),
    )
    .unwrap();
    let loaded = load_spec_with_notes(&p).unwrap();
    // the one note: the matrices stand for themselves through their spectrum; no transposition
    assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
    assert!(
        !loaded.notes[0].contains("transpose"),
        "{}",
        loaded.notes[0]
    );
    assert!(
        loaded.notes[0].starts_with("layers[0].weights, layers[1].weights: the weight matrices"),
        "{}",
        loaded.notes[0]
    );
    let quiet = load_spec_with_options(
        &p,
        SpecOptions {
            assume_invariant: true,
        },
    )
    .unwrap();
    assert!(quiet.notes.is_empty(), "{:?}", quiet.notes);
    assert_eq!(loaded.chain.layers()[1].alpha(), 10.0 / 30.0);
    let wt: Vec<f64> = {
        let m = test_matrix(10, 30);
        let m = &m;
        (0..30)
            .flat_map(|j| (0..10).map(move |i| m[i * 30 + j]))
            .collect()
    };
    write(
        dir.path(),
        "w30x10.npy",
        &npy_bytes("<f8", false, &[30, 10], &le8(&wt), 1),
    );
    std::fs::write(
        &p,
        format!(
            "{head}{}{}",
            layer("{ kind = \"matrix\", file = \"w30x20.npy\" }", None, 0.0),
            layer("{ kind = \"matrix\", file = \"w30x10.npy\" }", None, 0.1)
        ),
    )
    .unwrap();
    let loaded = load_spec_with_notes(&p).unwrap();
    // the transposition, then the spectrum-only note
    assert_eq!(loaded.notes.len(), 2, "{:?}", loaded.notes);
    assert!(loaded.notes[0].contains("transpose"), "{}", loaded.notes[0]);
    assert!(
        loaded.notes[1].contains("Haar-random"),
        "{}",
        loaded.notes[1]
    );
    assert_eq!(loaded.chain.layers()[1].alpha(), 10.0 / 30.0);
}

/// A safetensors file with a layer's bias beside its weight (`fc1.bias`, `fc1.weight`): the
/// chain's notes say the bias is ignored; the same file without the bias gives no such note.
#[test]
fn a_bias_beside_the_weight_is_noted_as_ignored() {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let le8 = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (w, b) = (le8(&test_matrix(4, 6)), le8(&[0.5; 4]));
    let notes_of = |with_bias: bool| {
        let name = ["nb.safetensors", "b.safetensors"][with_bias as usize];
        let mut tensors = vec![(
            "fc1.weight".to_string(),
            TensorView::new(Dtype::F64, vec![4, 6], &w).unwrap(),
        )];
        if with_bias {
            let view = TensorView::new(Dtype::F64, vec![4], &b).unwrap();
            tensors.push(("fc1.bias".to_string(), view));
        }
        safetensors::tensor::serialize_to_file(tensors, None, &dir.path().join(name)).unwrap();
        let spec = format!(
            "[prior]\nkind = \"gaussian\"\nvar = 1.0\n[[layers]]\nactivation = \"relu\"\n\
             noise_var = 0.01\nweights = {{ kind = \"matrix\", file = \"{name}\", tensor = \"fc1.weight\" }}\n"
        );
        let p = dir.path().join("spec.toml");
        std::fs::write(&p, spec).unwrap();
        let quiet = SpecOptions {
            assume_invariant: true,
        };
        load_spec_with_options(&p, quiet).unwrap().notes
    };
    let noted = notes_of(true);
    assert_eq!(noted.len(), 1, "{noted:?}");
    assert!(
        noted[0].starts_with("layers[0].weights: ")
            && noted[0].contains("(tensor \"fc1.weight\") also holds \"fc1.bias\"")
            && noted[0].contains("biases are ignored"),
        "{}",
        noted[0]
    );
    assert!(notes_of(false).is_empty());
}
