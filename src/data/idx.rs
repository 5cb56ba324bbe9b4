//! The IDX file format of MNIST (and of every data set that copies its layout, such as
//! Fashion-MNIST), raw or gzip-compressed.
//!
//! An IDX file is a big-endian header followed by the data:
//!
//! ```text
//! bytes 0-1   0x00 0x00
//! byte  2     type code (0x08 = unsigned byte, the only type MNIST uses)
//! byte  3     number of dimensions d
//! 4 d bytes   the d sizes, each a big-endian u32
//! then        the product of the sizes, one byte per value, last index fastest
//! ```
//!
//! so the magic number (the first four bytes as a big-endian `u32`) is `0x00000803` for images
//! (`n x rows x cols`) and `0x00000801` for labels (`n`). A file is read as gzip when it starts with
//! the gzip signature `1f 8b`, whatever its name, and as raw IDX otherwise.
//!
//! The readers check everything the header promises: the magic number, that no size is zero (a
//! data set needs samples and an image needs pixels), that the product of the sizes is at most
//! [`MAX_VALUES`], that the data are exactly as long as the header says (neither truncated nor followed by extra bytes), and, for a pair of
//! files, that the counts agree and every label is below the number of classes. Every error names
//! the file and the rule that failed.

use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Largest number of values a file may declare (2^32: far above MNIST's 47 million pixels, and a
/// bound that keeps a corrupted header from asking for an absurd allocation).
pub const MAX_VALUES: u64 = 1 << 32;

/// Why an IDX file (or a pair of them) cannot be used.
#[derive(Debug, Error)]
pub enum IdxError {
    /// The file cannot be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The gzip stream is corrupt or cut short.
    #[error("{path}: corrupt or truncated gzip stream: {source}")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file ends before the header or the data it announces.
    #[error("{path}: truncated {part}: expected {expected} bytes, found {found}")]
    Truncated {
        path: PathBuf,
        /// `"header"` or `"data"`.
        part: &'static str,
        expected: u64,
        found: u64,
    },
    /// More bytes follow the data the header announces.
    #[error(
        "{path}: {extra} unexpected byte(s) after the {expected} data bytes the header announces"
    )]
    TrailingData {
        path: PathBuf,
        expected: u64,
        /// At least this many extra bytes (counting stops early).
        extra: u64,
    },
    /// The first four bytes are not the expected magic number.
    #[error("{path}: magic number 0x{found:08x}, expected 0x{expected:08x} ({what})")]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        /// What the expected magic means (`"unsigned bytes, 3 dimensions: images"`).
        what: &'static str,
    },
    /// A size in the header breaks a rule.
    #[error("{path}: invalid header: {rule}")]
    BadDimensions { path: PathBuf, rule: String },
    /// Images and labels of a pair do not have the same count.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        n_images: usize,
        n_labels: usize,
    },
    /// A label is not a class index.
    #[error("{path}: label {label} at index {index} is out of range (classes 0..{classes})")]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u8,
        classes: u8,
    },
    /// A data set folder lacks a file (neither the gzip nor the raw name exists).
    #[error("{dir}: no {name} (looked for {tried}); {hint}")]
    MissingFile {
        dir: PathBuf,
        name: String,
        tried: String,
        hint: String,
    },
    /// More samples were requested than a file holds.
    #[error("{path}: {requested} samples requested, the file holds {available}")]
    TooFewSamples {
        path: PathBuf,
        requested: usize,
        available: usize,
    },
}

/// Images of an IDX file: `n` images of `rows x cols` bytes, image after image, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    /// `n * rows * cols` bytes.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Pixels per image.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }
    /// Image `i` as a flat slice of `rows * cols` bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.pixels_per_image();
        &self.pixels[i * d..(i + 1) * d]
    }
}

/// Open `path`, reading through a gzip decoder when the file starts with `1f 8b`.
fn open(path: &Path) -> Result<(Box<dyn Read>, bool), IdxError> {
    let io = |source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let mut sig = [0u8; 2];
    let got = read_full(&mut file, &mut sig).map_err(io)?;
    let head = std::io::Cursor::new(sig[..got].to_vec());
    let chained = head.chain(file);
    if got == 2 && sig == [0x1f, 0x8b] {
        Ok((Box::new(GzDecoder::new(chained)), true))
    } else {
        Ok((Box::new(chained), false))
    }
}

/// Read until `buf` is full or the stream ends; the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A read error: from the gzip decoder (corrupt or truncated stream) or from the file.
fn read_error(path: &Path, gzip: bool, source: std::io::Error) -> IdxError {
    let path = path.to_path_buf();
    if gzip {
        IdxError::Gzip { path, source }
    } else {
        IdxError::Io { path, source }
    }
}

/// Read a whole IDX file of unsigned bytes with magic `expected` (whose number of dimensions is
/// its last byte): the sizes and the data, checked as the module docs say.
fn read_idx(
    path: &Path,
    expected: u32,
    what: &'static str,
) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    let (mut r, gzip) = open(path)?;
    let err = |source| read_error(path, gzip, source);
    let ndim = (expected & 0xff) as usize;
    let header_len = 4 + 4 * ndim;
    let mut header = vec![0u8; header_len];
    let got = read_full(&mut r, &mut header).map_err(err)?;
    if got < 4 {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: header_len as u64,
            found: got as u64,
        });
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != expected {
        return Err(IdxError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected,
            what,
        });
    }
    if got < header_len {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: header_len as u64,
            found: got as u64,
        });
    }
    let dims: Vec<usize> = header[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if let Some(k) = dims.iter().position(|&d| d == 0) {
        return Err(IdxError::BadDimensions {
            path: path.to_path_buf(),
            rule: format!("size {k} of {dims:?} is 0 (every size must be >= 1)"),
        });
    }
    let total = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let total = match total {
        Some(t) if t <= MAX_VALUES => t,
        _ => {
            return Err(IdxError::BadDimensions {
                path: path.to_path_buf(),
                rule: format!("the sizes {dims:?} announce more than {MAX_VALUES} values"),
            })
        }
    };
    // Read at most `total + 1` bytes: the extra one tells trailing data from an exact fit
    // without reading an unbounded tail. The buffer grows with the data actually present, so a
    // header announcing more than the file holds allocates no more than the file's size.
    let mut data = Vec::new();
    (&mut r)
        .take(total + 1)
        .read_to_end(&mut data)
        .map_err(err)?;
    let found = data.len() as u64;
    if found < total {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            part: "data",
            expected: total,
            found,
        });
    }
    if found > total {
        let mut rest = Vec::new();
        let extra = 1 + (&mut r).take(1 << 20).read_to_end(&mut rest).map_err(err)? as u64;
        return Err(IdxError::TrailingData {
            path: path.to_path_buf(),
            expected: total,
            extra,
        });
    }
    Ok((dims, data))
}

/// Read an IDX file of images (magic `0x00000803`: `n x rows x cols` unsigned bytes).
pub fn read_images(path: &Path) -> Result<IdxImages, IdxError> {
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC, "unsigned bytes, 3 dimensions: images")?;
    Ok(IdxImages {
        n: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Read an IDX file of labels (magic `0x00000801`: `n` unsigned bytes).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    let (_, labels) = read_idx(path, LABELS_MAGIC, "unsigned bytes, 1 dimension: labels")?;
    Ok(labels)
}

/// Images with their labels, checked to belong together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledImages {
    pub images: IdxImages,
    /// One label per image, each `< classes`.
    pub labels: Vec<u8>,
    pub classes: u8,
    /// Where the images came from (for error messages).
    pub images_path: PathBuf,
}

/// Read an images file and a labels file and check that they pair up: the same count, and every
/// label `< classes`.
pub fn read_labelled(
    images_path: &Path,
    labels_path: &Path,
    classes: u8,
) -> Result<LabelledImages, IdxError> {
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    if images.n != labels.len() {
        return Err(IdxError::CountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            n_images: images.n,
            n_labels: labels.len(),
        });
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(IdxError::LabelOutOfRange {
            path: labels_path.to_path_buf(),
            index,
            label,
            classes,
        });
    }
    Ok(LabelledImages {
        images,
        labels,
        classes,
        images_path: images_path.to_path_buf(),
    })
}
