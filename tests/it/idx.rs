//! The IDX reader (`replica_mi::data`) on small files written here byte by byte, raw and gzip:
//! values read back exactly, and every broken case is an error naming the file and the rule.

use flate2::write::GzEncoder;
use flate2::Compression;
use replica_mi::data::{
    idx::{read_images, read_labelled, read_labels, IdxError},
    load_mnist_format, to_dataset, MnistFiles,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An IDX file of unsigned bytes: magic `0x0000 08 <dims.len()>`, the sizes, then `data`.
fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Write `bytes` (gzip-compressed when `gz`) as `dir/name`.
fn write(dir: &Path, name: &str, bytes: &[u8], gz: bool) -> PathBuf {
    let p = dir.join(name);
    let content = if gz { gzip(bytes) } else { bytes.to_vec() };
    std::fs::write(&p, content).unwrap();
    p
}

/// 3 images of 2 x 4 pixels with distinct values, and their labels.
fn pixels() -> Vec<u8> {
    (0..24u8).map(|i| i * 11).collect()
}
const LABELS: [u8; 3] = [7, 0, 9];

#[test]
fn reads_images_and_labels_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let im = write(dir.path(), "im", &idx_bytes(&[3, 2, 4], &pixels()), gz);
        let lb = write(dir.path(), "lb", &idx_bytes(&[3], &LABELS), gz);
        let images = read_images(&im).unwrap();
        assert_eq!((images.n, images.rows, images.cols), (3, 2, 4), "gz = {gz}");
        assert_eq!(images.pixels, pixels(), "gz = {gz}");
        assert_eq!(images.image(1), &pixels()[8..16]);
        assert_eq!(read_labels(&lb).unwrap(), LABELS, "gz = {gz}");
        let pair = read_labelled(&im, &lb, 10).unwrap();
        assert_eq!((pair.images, pair.labels), (images, LABELS.to_vec()));
    }
}

/// The compression is recognised from the content, not the name.
#[test]
fn compression_is_detected_from_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let gz_named_raw = write(dir.path(), "a-idx1-ubyte", &idx_bytes(&[3], &LABELS), true);
    let raw_named_gz = write(
        dir.path(),
        "b-idx1-ubyte.gz",
        &idx_bytes(&[3], &LABELS),
        false,
    );
    assert_eq!(read_labels(&gz_named_raw).unwrap(), LABELS);
    assert_eq!(read_labels(&raw_named_gz).unwrap(), LABELS);
}

/// Every malformed single file, raw and gzip: the error's kind and message (path + rule).
#[test]
fn malformed_files_are_errors_naming_file_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut labels_as_images = idx_bytes(&[3], &LABELS);
    labels_as_images.truncate(8);
    let mut float_type = idx_bytes(&[3, 2, 4], &pixels());
    float_type[2] = 0x0D;
    let mut short = idx_bytes(&[3, 2, 4], &pixels());
    short.truncate(short.len() - 5);
    let mut long = idx_bytes(&[3, 2, 4], &pixels());
    long.extend_from_slice(&[1, 2, 3]);
    // (name, bytes, read as images?, expected message fragments, kind check)
    type Check = fn(&IdxError) -> bool;
    type Case<'a> = (&'a str, Vec<u8>, bool, Vec<&'a str>, Check);
    let cases: Vec<Case> = vec![
        (
            "empty",
            vec![],
            true,
            vec!["truncated header", "expected 16 bytes, found 0"],
            |e| {
                matches!(
                    e,
                    IdxError::Truncated {
                        part: "header",
                        found: 0,
                        ..
                    }
                )
            },
        ),
        (
            "short-header",
            idx_bytes(&[3, 2, 4], &[])[..9].to_vec(),
            true,
            vec!["truncated header", "expected 16 bytes, found 9"],
            |e| {
                matches!(
                    e,
                    IdxError::Truncated {
                        part: "header",
                        found: 9,
                        ..
                    }
                )
            },
        ),
        (
            "labels-read-as-images",
            labels_as_images,
            true,
            vec!["magic number 0x00000801, expected 0x00000803", "images"],
            |e| {
                matches!(
                    e,
                    IdxError::BadMagic {
                        found: 0x801,
                        expected: 0x803,
                        ..
                    }
                )
            },
        ),
        (
            "images-read-as-labels",
            idx_bytes(&[3, 2, 4], &pixels()),
            false,
            vec!["magic number 0x00000803, expected 0x00000801", "labels"],
            |e| {
                matches!(
                    e,
                    IdxError::BadMagic {
                        found: 0x803,
                        expected: 0x801,
                        ..
                    }
                )
            },
        ),
        (
            "float-type",
            float_type,
            true,
            vec!["magic number 0x00000d03"],
            |e| matches!(e, IdxError::BadMagic { found: 0xd03, .. }),
        ),
        (
            "zero-rows",
            idx_bytes(&[3, 0, 4], &[]),
            true,
            vec!["invalid header", "size 1", "is 0"],
            |e| matches!(e, IdxError::BadDimensions { .. }),
        ),
        (
            "zero-labels",
            idx_bytes(&[0], &[]),
            false,
            vec!["invalid header", "size 0", "is 0"],
            |e| matches!(e, IdxError::BadDimensions { .. }),
        ),
        (
            "absurd-size",
            idx_bytes(&[u32::MAX, u32::MAX, 2], &pixels()),
            true,
            vec!["invalid header", "more than 4294967296 values"],
            |e| matches!(e, IdxError::BadDimensions { .. }),
        ),
        (
            "truncated-data",
            short,
            true,
            vec!["truncated data", "expected 24 bytes, found 19"],
            |e| {
                matches!(
                    e,
                    IdxError::Truncated {
                        part: "data",
                        expected: 24,
                        found: 19,
                        ..
                    }
                )
            },
        ),
        (
            "truncated-labels",
            idx_bytes(&[4], &LABELS),
            false,
            vec!["truncated data", "expected 4 bytes, found 3"],
            |e| {
                matches!(
                    e,
                    IdxError::Truncated {
                        part: "data",
                        expected: 4,
                        found: 3,
                        ..
                    }
                )
            },
        ),
        (
            "trailing-data",
            long,
            true,
            vec!["3 unexpected byte(s) after the 24 data bytes"],
            |e| {
                matches!(
                    e,
                    IdxError::TrailingData {
                        expected: 24,
                        extra: 3,
                        ..
                    }
                )
            },
        ),
    ];
    for (name, bytes, images, fragments, kind) in &cases {
        for gz in [false, true] {
            let file = format!("{name}{}", if gz { ".gz" } else { "" });
            let path = write(dir.path(), &file, bytes, gz);
            let err = if *images {
                read_images(&path).map(|_| ())
            } else {
                read_labels(&path).map(|_| ())
            }
            .expect_err(&format!("{file} must be rejected"));
            let msg = err.to_string();
            assert!(kind(&err), "{file}: wrong kind {err:?}");
            assert!(msg.contains(&path.display().to_string()), "{file}: {msg}");
            for f in fragments {
                assert!(msg.contains(f), "{file}: {msg:?} lacks {f:?}");
            }
        }
    }
}

#[test]
fn broken_gzip_streams_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = gzip(&idx_bytes(&[3, 2, 4], &pixels()));
    // Cut inside the deflate stream, and garbage after a gzip signature.
    let cut = dir.path().join("cut.gz");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    let garbage = dir.path().join("garbage.gz");
    std::fs::write(
        &garbage,
        [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad],
    )
    .unwrap();
    for path in [cut, garbage] {
        let err = read_images(&path).expect_err("broken gzip must be rejected");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            matches!(err, IdxError::Gzip { .. } | IdxError::Truncated { .. }),
            "{path:?}: {err:?}"
        );
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = PathBuf::from("/nonexistent/replica-mi/train-images-idx3-ubyte");
    let err = read_images(&path).unwrap_err();
    assert!(matches!(err, IdxError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn pairs_must_match_in_count_and_label_range() {
    let dir = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let im = write(dir.path(), "im", &idx_bytes(&[3, 2, 4], &pixels()), gz);
        let two = write(dir.path(), "two", &idx_bytes(&[2], &LABELS[..2]), gz);
        let err = read_labelled(&im, &two, 10).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::CountMismatch {
                    n_images: 3,
                    n_labels: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("3 images") && msg.contains("2 labels"),
            "{msg}"
        );
        assert!(
            msg.contains(&im.display().to_string()) && msg.contains(&two.display().to_string())
        );

        let bad = write(dir.path(), "bad", &idx_bytes(&[3], &[7, 10, 9]), gz);
        let err = read_labelled(&im, &bad, 10).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::LabelOutOfRange {
                    index: 1,
                    label: 10,
                    classes: 10,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains(&bad.display().to_string()));
        // The same labels are fine with 11 classes.
        assert!(read_labelled(&im, &bad, 11).is_ok());
    }
}

/// A folder in MNIST's layout (mixed raw and gzip files) becomes the training and test sets:
/// pixels p / 255, one-hot targets, the first n images of each file.
#[test]
fn mnist_folder_loads_as_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The test file: pixel values 0, 51, 255 (0, 0.2, 1 after scaling).
    let test_px: Vec<u8> = (0..16).map(|i| [0u8, 51, 255, 102][i % 4]).collect();
    write(
        d,
        "train-images-idx3-ubyte.gz",
        &idx_bytes(&[3, 2, 4], &pixels()),
        true,
    );
    write(
        d,
        "train-labels-idx1-ubyte",
        &idx_bytes(&[3], &LABELS),
        false,
    );
    write(
        d,
        "t10k-images-idx3-ubyte",
        &idx_bytes(&[2, 2, 4], &test_px),
        false,
    );
    write(
        d,
        "t10k-labels-idx1-ubyte.gz",
        &idx_bytes(&[2], &[3, 3]),
        true,
    );
    let files = MnistFiles::locate(d).unwrap();
    assert!(files.train_images.ends_with("train-images-idx3-ubyte.gz"));
    assert!(files.test_images.ends_with("t10k-images-idx3-ubyte"));
    let (train, test) = load_mnist_format(&files, 2, 2).unwrap();
    assert_eq!((train.n, train.n_in, train.n_out), (2, 8, 10));
    assert_eq!(train.labels.as_deref(), Some(&[7u32, 0][..]));
    for (i, &c) in [7usize, 0].iter().enumerate() {
        let row = train.y_row(i);
        assert_eq!(row.iter().filter(|&&v| v == 1.0).count(), 1, "{row:?}");
        assert_eq!(row[c].to_bits(), 1f64.to_bits());
    }
    for (v, p) in train.x.iter().zip(pixels()) {
        assert_eq!(v.to_bits(), (f64::from(p) / 255.0).to_bits());
    }
    assert_eq!(&test.x[..4], &[0.0, 0.2, 1.0, 0.4]);
    // More images than a file holds.
    let err = load_mnist_format(&files, 4, 2).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::TooFewSamples {
                requested: 4,
                available: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("train-images-idx3-ubyte.gz"),
        "{err}"
    );
    let pair = replica_mi::data::read_labelled(&files.test_images, &files.test_labels, 10).unwrap();
    assert!(to_dataset(&pair, 0).is_err());
}

/// A folder without the files: the error names the folder, the file and how to get the data.
#[test]
fn missing_data_set_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "train-images-idx3-ubyte",
        &idx_bytes(&[3, 2, 4], &pixels()),
        false,
    );
    let err = MnistFiles::locate(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IdxError::MissingFile { .. }), "{err:?}");
    for f in [
        "train-labels-idx1-ubyte",
        "dataset-fashion-mnist",
        "--data-dir",
    ] {
        assert!(msg.contains(f), "{msg:?} lacks {f:?}");
    }
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
}
