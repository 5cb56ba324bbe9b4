//! Real data sets on disk: the IDX format of MNIST ([`idx`]) and folders in MNIST's layout
//! (MNIST itself, or Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it in
//! [`FASHION_MNIST_DIR`]), turned into the [`Dataset`] the training loop takes.
//!
//! A folder in MNIST's layout holds four files, each either gzip-compressed (`.gz`) or raw:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte` (60 000 training and 10 000 test images of 28 x 28 for both data
//! sets, ten classes).
//!
//! [`load_mnist_format`] takes the *first* `n_train` images of the training file and the first
//! `n_test` of the test file (no shuffling: the selection is fixed by the files alone), and scales
//! each pixel `p` in `0..=255` to `p / 255` in `[0, 1]`; no other normalisation (no centring, no
//! standardisation). Targets are one-hot over the ten classes, with the class indices beside them.

pub mod idx;

pub use idx::{read_images, read_labelled, read_labels, IdxError, IdxImages, LabelledImages};

use crate::synth::Dataset;
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Classes of MNIST and Fashion-MNIST.
pub const MNIST_CLASSES: u8 = 10;

/// How to get a data set in MNIST's layout, for error messages.
pub const HOW_TO_GET: &str =
    "install Debian's Fashion-MNIST (`apt-get install dataset-fashion-mnist`, \
into /usr/share/datasets/fashion-mnist; `make data-fashion-mnist` does it as root) or point \
--data-dir at a folder with the MNIST files (train-images-idx3-ubyte, train-labels-idx1-ubyte, \
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz)";

/// The four files of a folder in MNIST's layout.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MnistFiles {
    pub dir: PathBuf,
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

/// `<dir>/<name>.gz` if it exists, else `<dir>/<name>` if it exists, else an error naming both.
fn locate(dir: &Path, name: &str) -> Result<PathBuf, IdxError> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        Err(IdxError::MissingFile {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            tried: format!("{} and {}", gz.display(), raw.display()),
            hint: HOW_TO_GET.to_string(),
        })
    }
}

impl MnistFiles {
    /// Find the four files in `dir` (each `.gz` first, then raw).
    pub fn locate(dir: &Path) -> Result<Self, IdxError> {
        Ok(MnistFiles {
            dir: dir.to_path_buf(),
            train_images: locate(dir, "train-images-idx3-ubyte")?,
            train_labels: locate(dir, "train-labels-idx1-ubyte")?,
            test_images: locate(dir, "t10k-images-idx3-ubyte")?,
            test_labels: locate(dir, "t10k-labels-idx1-ubyte")?,
        })
    }
}

/// The first `n` samples of `data` as a [`Dataset`]: pixels `p / 255`, one-hot targets over
/// `data.classes`, class indices in `labels`. An error if the file holds fewer than `n` samples
/// or `n` is 0.
pub fn to_dataset(data: &LabelledImages, n: usize) -> Result<Dataset, IdxError> {
    if n == 0 || n > data.images.n {
        return Err(IdxError::TooFewSamples {
            path: data.images_path.clone(),
            requested: n,
            available: data.images.n,
        });
    }
    let d = data.images.pixels_per_image();
    let k = data.classes as usize;
    let x: Vec<f64> = data.images.pixels[..n * d]
        .iter()
        .map(|&p| f64::from(p) / 255.0)
        .collect();
    let mut y = vec![0.0; n * k];
    for (i, &c) in data.labels[..n].iter().enumerate() {
        y[i * k + c as usize] = 1.0;
    }
    Ok(Dataset {
        x,
        y,
        labels: Some(data.labels[..n].iter().map(|&c| u32::from(c)).collect()),
        n,
        n_in: d,
        n_out: k,
    })
}

/// Training and test sets of a folder in MNIST's layout: the first `n_train` / `n_test` images of
/// each file (see the module docs), ten classes.
pub fn load_mnist_format(
    files: &MnistFiles,
    n_train: usize,
    n_test: usize,
) -> Result<(Dataset, Dataset), IdxError> {
    let train = read_labelled(&files.train_images, &files.train_labels, MNIST_CLASSES)?;
    let train = to_dataset(&train, n_train)?;
    let test = read_labelled(&files.test_images, &files.test_labels, MNIST_CLASSES)?;
    let test = to_dataset(&test, n_test)?;
    if train.n_in != test.n_in {
        return Err(IdxError::BadDimensions {
            path: files.test_images.clone(),
            rule: format!(
                "test images have {} pixels, training images {}",
                test.n_in, train.n_in
            ),
        });
    }
    Ok((train, test))
}
