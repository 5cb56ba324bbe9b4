//! Weight matrices from files (`.npy`, `.npz`, `.safetensors`), and the spectrum of `W^T W` that
//! the replica formula needs from them.
//!
//! * **Orientation.** A layer's matrix is `n_l x n_{l-1}` (rows = outputs, columns = inputs: the
//!   orientation of PyTorch's `Linear.weight` and of `z = W x`). A stored matrix is read as its
//!   transpose only when the shape leaves no doubt: the given orientation contradicts the layer's
//!   `alpha` or the width of the previous layer, and the transposed one fits both
//!   ([`orient`]; the caller is told, [`Oriented::transposed`]).
//! * **Spectrum.** The `n_{l-1}` eigenvalues of `W^T W` are the squared singular values of `W`
//!   (computed in `f64` by faer's SVD), padded with `n_{l-1} - min(n_l, n_{l-1})` exact zeros
//!   ([`WeightMatrix::wtw_eigenvalues`]).
//! * **Files.** `.npy` (format versions 1-3, header parsed here), `.npz` (a zip of `.npy`
//!   members, stored or deflated as by `numpy.savez_compressed`) and `.safetensors`; element
//!   types float16, bfloat16 (safetensors only), float32 and float64, either byte order, C or
//!   Fortran order; every value is converted exactly to `f64`. Non-finite entries, a rank other
//!   than 2 and empty matrices are errors.
//!
//! The replica formula holds for orthogonally invariant weights (`W = U S V^T` with Haar `U`,
//! `V` independent of the rest): only the spectrum enters. A matrix trained without that
//! structure is summarised by its spectrum alone, an approximation.

use crate::replica::DiscreteSpectrum;
use faer::Mat;
use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The note a chain carries when some of its layers are weight matrices (`fields`: the layers'
/// names, e.g. `layers[0].weights`): only their spectrum enters the formula, which treats their
/// singular vectors as Haar-random. That is exact for USV layers with frozen Haar `U`, `V` and for
/// i.i.d. Gaussian matrices, and an approximation for a matrix trained without that structure.
/// `None` when there is no such layer or when the caller has said the matrices are orthogonally
/// invariant (`assume_invariant`); every front end (spec files, Python, the command line) takes
/// its note from here.
pub fn invariance_note(fields: &[String], assume_invariant: bool) -> Option<String> {
    if fields.is_empty() || assume_invariant {
        return None;
    }
    let (which, verb) = if fields.len() == 1 {
        ("weight matrix", "is")
    } else {
        ("weight matrices", "are")
    };
    Some(format!(
        "{}: the {which} {verb} summarised by the spectrum of W^T W, its singular vectors treated as \
         Haar-random (orthogonally invariant W): exact for USV layers with frozen Haar U, V and \
         for i.i.d. Gaussian matrices, an approximation for a matrix trained without that \
         structure (say assume-invariant to silence this note)",
        fields.join(", ")
    ))
}

/// Everything that can be wrong with a weight file or a weight matrix.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WeightError {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Io(String),
    /// The file name does not end in a known extension.
    #[error("unknown file type (the name must end in .npy, .npz or .safetensors)")]
    UnknownFormat,
    /// The bytes are not a valid file of the format its extension claims.
    #[error("not a valid {format} file: {message}")]
    Format {
        /// `npy`, `npz` or `safetensors`.
        format: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The named tensor is not in the archive.
    #[error("no tensor \"{name}\" in the file; it holds: {available}")]
    MissingTensor {
        /// The requested name.
        name: String,
        /// The names present, comma-separated.
        available: String,
    },
    /// The archive holds several tensors and none was named.
    #[error("the file holds {count} tensors ({available}); name one with tensor = \"...\"")]
    TensorRequired {
        /// How many tensors.
        count: usize,
        /// Their names, comma-separated.
        available: String,
    },
    /// A `tensor` was named for a format that holds a single array.
    #[error("a .npy file holds a single array: tensor = \"{0}\" does not apply")]
    TensorNotApplicable(String),
    /// The element type is not a float type.
    #[error("element type {0} is not supported (float16, bfloat16, float32 or float64)")]
    Dtype(String),
    /// The array is not a matrix.
    #[error("the array has shape {shape:?} (rank {}); a weight matrix has rank 2 (n_l x n_(l-1))", shape.len())]
    Rank {
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A dimension is zero.
    #[error("the matrix is empty (shape {rows} x {cols})")]
    Empty {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A NaN or infinite entry (row and column in the stored orientation, 0-based).
    #[error("entry [{row}, {col}] = {value} is not finite")]
    NonFinite {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f64,
    },
    /// The shape contradicts the layer's `alpha` in both orientations.
    #[error("shape {rows} x {cols} contradicts alpha = {alpha}: the matrix is n_l x n_(l-1) with alpha = n_l / n_(l-1) = {ratio} (read as given), and its transpose would give {inv} (omit alpha to take it from the shape)", ratio = *rows as f64 / *cols as f64, inv = *cols as f64 / *rows as f64)]
    ShapeVsAlpha {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// The declared alpha.
        alpha: f64,
    },
    /// The shape contradicts the width of the previous layer in both orientations (or in the
    /// only orientation that fits `alpha`).
    #[error("shape {rows} x {cols} contradicts the previous layer: its output width is n_(l-1) = {n_prev}, which must be the number of columns (n_l x n_(l-1)){}", alpha.map(|a| format!(" with alpha = {a}")).unwrap_or_default())]
    ShapeVsPrevious {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// The previous layer's width (may be fractional when derived from ratios).
        n_prev: f64,
        /// The declared alpha, if any.
        alpha: Option<f64>,
    },
    /// The data length does not match the shape.
    #[error("{0}")]
    Length(String),
    /// The singular value decomposition failed.
    #[error("the singular value decomposition did not converge")]
    Svd,
    /// Every entry is zero (`W^T W` has no positive eigenvalue).
    #[error("every entry is zero (W^T W needs a positive eigenvalue)")]
    Zero,
    /// The spectrum of `W^T W` was rejected (e.g. an eigenvalue overflowing after `scale`).
    #[error("spectrum of W^T W: {0}")]
    Spectrum(String),
    /// `scale` is not finite and positive.
    #[error("scale = {0} must be finite and > 0")]
    Scale(f64),
}

/// A dense real matrix, row-major, every entry finite.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl WeightMatrix {
    /// A checked matrix from row-major data: `rows, cols >= 1`, `data.len() = rows cols`, every
    /// entry finite.
    pub fn from_row_major(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, WeightError> {
        if rows == 0 || cols == 0 {
            return Err(WeightError::Empty { rows, cols });
        }
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(WeightError::Length(format!(
                "{} values for a {rows} x {cols} matrix",
                data.len()
            )));
        }
        if let Some(k) = data.iter().position(|x| !x.is_finite()) {
            return Err(WeightError::NonFinite {
                row: k / cols,
                col: k % cols,
                value: data[k],
            });
        }
        Ok(WeightMatrix { rows, cols, data })
    }

    /// From column-major (Fortran-order) data.
    pub fn from_col_major(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, WeightError> {
        if rows == 0 || cols == 0 {
            return Err(WeightError::Empty { rows, cols });
        }
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(WeightError::Length(format!(
                "{} values for a {rows} x {cols} matrix",
                data.len()
            )));
        }
        let mut rm = vec![0.0; data.len()];
        for j in 0..cols {
            for i in 0..rows {
                rm[i * cols + j] = data[j * rows + i];
            }
        }
        Self::from_row_major(rows, cols, rm)
    }

    /// Number of rows as stored.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns as stored.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Entry `(i, j)` as stored.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }
    /// The row-major data.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The singular values, largest first (`min(rows, cols)` of them), from faer's SVD in `f64`.
    pub fn singular_values(&self) -> Result<Vec<f64>, WeightError> {
        let m = Mat::<f64>::from_fn(self.rows, self.cols, |i, j| self.get(i, j));
        let s = m.singular_values().map_err(|_| WeightError::Svd)?;
        // faer's product kernels leave the upper SIMD state dirty (see `simd`)
        crate::simd::clear_upper_simd_state();
        Ok(s)
    }

    /// The eigenvalues of `W^T W` (largest first, zeros included) where `W` is this matrix, or its
    /// transpose if `transposed`: the squared singular values, padded with exact zeros to the
    /// number of columns of `W` (`n_{l-1}`).
    pub fn wtw_eigenvalues(&self, transposed: bool) -> Result<Vec<f64>, WeightError> {
        let n_in = if transposed { self.rows } else { self.cols };
        let mut e: Vec<f64> = self.singular_values()?.iter().map(|s| s * s).collect();
        e.resize(n_in, 0.0);
        Ok(e)
    }
}

/// How a stored `rows x cols` matrix is read as a layer's `W` (`n_l x n_{l-1}`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Oriented {
    /// `n_l`.
    pub n_out: usize,
    /// `n_{l-1}`.
    pub n_in: usize,
    /// Whether `W` is the transpose of the stored matrix.
    pub transposed: bool,
}

impl Oriented {
    /// `alpha = n_l / n_{l-1}`, exactly as the shape gives it.
    pub fn alpha(&self) -> f64 {
        self.n_out as f64 / self.n_in as f64
    }
}

/// Whether the width `n` (possibly fractional when derived from ratios) names the integer `k`:
/// `n` rounds to `k`.
fn width_is(n: f64, k: usize) -> bool {
    (n - k as f64).abs() < 0.5
}

/// Read a stored `rows x cols` matrix as `W` (`n_l x n_{l-1}`) of a layer with the declared
/// `alpha` (if any) after a layer of width `n_prev` (if known).
///
/// An orientation fits when `alpha n_{l-1}` rounds to `n_l` (if `alpha` is given) and `n_prev`
/// rounds to `n_{l-1}` (if known). The stored orientation is used whenever it fits; the transpose
/// only when it fits and the stored orientation does not. Neither fitting is an error naming the
/// rule that fails.
pub fn orient(
    rows: usize,
    cols: usize,
    alpha: Option<f64>,
    n_prev: Option<f64>,
) -> Result<Oriented, WeightError> {
    let fits_alpha =
        |n_out: usize, n_in: usize| alpha.is_none_or(|a| width_is(a * n_in as f64, n_out));
    let fits_prev = |n_in: usize| n_prev.is_none_or(|n| width_is(n, n_in));
    if fits_alpha(rows, cols) && fits_prev(cols) {
        return Ok(Oriented {
            n_out: rows,
            n_in: cols,
            transposed: false,
        });
    }
    if rows != cols && fits_alpha(cols, rows) && fits_prev(rows) {
        return Ok(Oriented {
            n_out: cols,
            n_in: rows,
            transposed: true,
        });
    }
    if let Some(n) = n_prev {
        // alpha may fit one orientation; the previous layer decides against it
        if fits_alpha(rows, cols) || fits_alpha(cols, rows) {
            return Err(WeightError::ShapeVsPrevious {
                rows,
                cols,
                n_prev: n,
                alpha,
            });
        }
    }
    match alpha {
        Some(a) => Err(WeightError::ShapeVsAlpha {
            rows,
            cols,
            alpha: a,
        }),
        // no alpha: only the previous layer can have failed
        None => Err(WeightError::ShapeVsPrevious {
            rows,
            cols,
            n_prev: n_prev.unwrap_or(f64::NAN),
            alpha: None,
        }),
    }
}

/// A weight matrix resolved for one layer: its orientation and the spectrum of `W^T W`.
#[derive(Clone, Debug)]
pub struct MatrixLayer {
    /// How the stored matrix is read as `W`.
    pub oriented: Oriented,
    /// The `n_{l-1}` eigenvalues of `W^T W` (times `scale`), as a distribution.
    pub spectrum: DiscreteSpectrum,
}

/// Orient `m` for a layer with the declared `alpha` (if any) after a layer of width `n_prev`
/// (if known), see [`orient`], and take the spectrum of `W^T W` times `scale` (`scale` multiplies
/// every eigenvalue, i.e. `W` by `sqrt(scale)`).
pub fn matrix_layer(
    m: &WeightMatrix,
    alpha: Option<f64>,
    n_prev: Option<f64>,
    scale: f64,
) -> Result<MatrixLayer, WeightError> {
    let (oriented, spectrum) = crate::builder::resolve_matrix(m, alpha, n_prev, scale)?;
    Ok(MatrixLayer { oriented, spectrum })
}

// ---------------------------------------------------------------------------------------------
// Files

/// The file formats a weight file may have, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// A single numpy array.
    Npy,
    /// A zip archive of numpy arrays (`numpy.savez`, `numpy.savez_compressed`).
    Npz,
    /// A safetensors file.
    Safetensors,
}

impl WeightFormat {
    /// The format named by the extension of `path` (case-insensitive).
    pub fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "npy" => Some(WeightFormat::Npy),
            "npz" => Some(WeightFormat::Npz),
            "safetensors" => Some(WeightFormat::Safetensors),
            _ => None,
        }
    }
}

/// A matrix read from a file, with where it came from.
#[derive(Clone, Debug)]
pub struct LoadedMatrix {
    /// The matrix as stored (rows x cols).
    pub matrix: WeightMatrix,
    /// The file.
    pub path: PathBuf,
    /// The tensor it was taken from (archives only).
    pub tensor: Option<String>,
    /// The bias stored beside it in the same archive (`fc1.bias` for `fc1.weight`), which the
    /// formula has no place for (the chain builder notes that it is ignored).
    pub bias: Option<String>,
}

/// The bias beside the weight tensor `name` among `names`: `<p>.bias` for `<p>.weight` (PyTorch's
/// naming of a `Linear` layer's parameters).
fn bias_beside(names: &[String], name: &str) -> Option<String> {
    let bias = format!("{}.bias", name.strip_suffix(".weight")?);
    names.contains(&bias).then_some(bias)
}

/// Read a weight matrix from a `.npy`, `.npz` or `.safetensors` file. `tensor` names the array in
/// an archive; it may be omitted when the archive holds exactly one, and is an error for `.npy`.
pub fn read_matrix(path: &Path, tensor: Option<&str>) -> Result<LoadedMatrix, WeightError> {
    let format = WeightFormat::of_path(path).ok_or(WeightError::UnknownFormat)?;
    let bytes = std::fs::read(path).map_err(|e| WeightError::Io(e.to_string()))?;
    let (matrix, name, bias) = match format {
        WeightFormat::Npy => {
            if let Some(t) = tensor {
                return Err(WeightError::TensorNotApplicable(t.to_string()));
            }
            (parse_npy(&bytes)?, None, None)
        }
        WeightFormat::Npz => {
            let (m, n, names) = read_npz(&bytes, tensor)?;
            let bias = bias_beside(&names, &n);
            (m, Some(n), bias)
        }
        WeightFormat::Safetensors => {
            let (m, n, names) = read_safetensors(&bytes, tensor)?;
            let bias = bias_beside(&names, &n);
            (m, Some(n), bias)
        }
    };
    Ok(LoadedMatrix {
        matrix,
        path: path.to_path_buf(),
        tensor: name,
        bias,
    })
}

fn npy_err(message: impl Into<String>) -> WeightError {
    WeightError::Format {
        format: "npy",
        message: message.into(),
    }
}

/// Element types read from files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Elem {
    F16,
    Bf16,
    F32,
    F64,
}

impl Elem {
    fn size(self) -> usize {
        match self {
            Elem::F16 | Elem::Bf16 => 2,
            Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }
}

/// IEEE binary16 to f64 (exact).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let man = f64::from(h & 0x3ff);
    sign * match exp {
        0 => man * 2f64.powi(-24),
        31 if man == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + man / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Decode `n` elements of type `elem` from `bytes` (exactly `n * size` bytes).
fn decode(bytes: &[u8], elem: Elem, little: bool) -> Vec<f64> {
    let sz = elem.size();
    bytes
        .chunks_exact(sz)
        .map(|c| match elem {
            Elem::F16 | Elem::Bf16 => {
                let b = [c[0], c[1]];
                let u = if little {
                    u16::from_le_bytes(b)
                } else {
                    u16::from_be_bytes(b)
                };
                if elem == Elem::F16 {
                    f16_to_f64(u)
                } else {
                    f64::from(f32::from_bits(u32::from(u) << 16))
                }
            }
            Elem::F32 => {
                let b = [c[0], c[1], c[2], c[3]];
                f64::from(if little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                })
            }
            Elem::F64 => {
                let b: [u8; 8] = c.try_into().expect("chunk of 8");
                if little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                }
            }
        })
        .collect()
}

/// The value text after `'key':` in a numpy header dict.
fn header_value<'a>(header: &'a str, key: &str) -> Result<&'a str, WeightError> {
    let start = ["'", "\""]
        .iter()
        .find_map(|q| {
            header
                .find(&format!("{q}{key}{q}"))
                .map(|i| i + key.len() + 2)
        })
        .ok_or_else(|| npy_err(format!("the header has no '{key}' entry")))?;
    let rest = header[start..].trim_start();
    rest.strip_prefix(':')
        .map(str::trim_start)
        .ok_or_else(|| npy_err(format!("malformed '{key}' entry in the header")))
}

/// Parse a `.npy` file (format versions 1.0, 2.0, 3.0) holding a 2-D float array.
pub fn parse_npy(bytes: &[u8]) -> Result<WeightMatrix, WeightError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(npy_err("missing the \\x93NUMPY magic string"));
    }
    let major = bytes[6];
    let (hlen, hstart) = match major {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(npy_err("truncated header"));
            }
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        v => return Err(npy_err(format!("unsupported format version {v}"))),
    };
    let hend = hstart
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| npy_err("truncated header"))?;
    let header =
        std::str::from_utf8(&bytes[hstart..hend]).map_err(|_| npy_err("the header is not text"))?;

    let descr_v = header_value(header, "descr")?;
    let quote = descr_v
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| {
            WeightError::Dtype(format!(
                "{} (a structured type)",
                descr_v.split('}').next().unwrap_or(descr_v).trim()
            ))
        })?;
    let descr = descr_v[1..]
        .split(quote)
        .next()
        .ok_or_else(|| npy_err("malformed 'descr'"))?;
    let mut chars = descr.chars();
    let order = chars.next();
    let code = chars.as_str();
    let little = match order {
        Some('<') => true,
        Some('|' | '=') => cfg!(target_endian = "little"),
        Some('>') => false,
        _ => return Err(WeightError::Dtype(format!("'{descr}'"))),
    };
    let elem = match code {
        "f2" => Elem::F16,
        "f4" => Elem::F32,
        "f8" => Elem::F64,
        _ => return Err(WeightError::Dtype(format!("'{descr}'"))),
    };

    let fortran_v = header_value(header, "fortran_order")?;
    let fortran = if fortran_v.starts_with("True") {
        true
    } else if fortran_v.starts_with("False") {
        false
    } else {
        return Err(npy_err("'fortran_order' is neither True nor False"));
    };

    let shape_v = header_value(header, "shape")?;
    let inner = shape_v
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| npy_err("malformed 'shape'"))?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| npy_err(format!("bad dimension '{s}' in 'shape'")))
        })
        .collect::<Result<_, _>>()?;
    if shape.len() != 2 {
        return Err(WeightError::Rank { shape });
    }
    let (rows, cols) = (shape[0], shape[1]);
    if rows == 0 || cols == 0 {
        return Err(WeightError::Empty { rows, cols });
    }
    let need = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(elem.size()))
        .ok_or_else(|| npy_err("the shape overflows"))?;
    let data = &bytes[hend..];
    if data.len() < need {
        return Err(WeightError::Length(format!(
            "truncated data: {} bytes for a {rows} x {cols} {descr} array ({need} needed)",
            data.len()
        )));
    }
    let values = decode(&data[..need], elem, little);
    if fortran {
        WeightMatrix::from_col_major(rows, cols, values)
    } else {
        WeightMatrix::from_row_major(rows, cols, values)
    }
}

fn names_list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Pick the requested name out of `names`, or the only one.
fn pick(names: &[String], tensor: Option<&str>) -> Result<String, WeightError> {
    match tensor {
        Some(t) if names.iter().any(|n| n == t) => Ok(t.to_string()),
        Some(t) => Err(WeightError::MissingTensor {
            name: t.to_string(),
            available: names_list(names),
        }),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => Err(WeightError::TensorRequired {
            count: names.len(),
            available: names_list(names),
        }),
    }
}

/// An `.npz` archive: the member `<tensor>.npy`, stored or deflated (`numpy.savez`,
/// `numpy.savez_compressed`). The member is read raw from the zip and inflated here (flate2),
/// its size and CRC-32 checked against the archive's directory. Also every array's name.
type Picked = (WeightMatrix, String, Vec<String>);
fn read_npz(bytes: &[u8], tensor: Option<&str>) -> Result<Picked, WeightError> {
    let zerr = |message: String| WeightError::Format {
        format: "npz",
        message,
    };
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| zerr(e.to_string()))?;
    let members: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| zerr(e.to_string()))?;
    let names: Vec<String> = members
        .iter()
        .map(|m| m.strip_suffix(".npy").unwrap_or(m).to_string())
        .collect();
    let name = pick(&names, tensor)?;
    let index = names.iter().position(|n| *n == name).expect("picked");
    let member = &members[index];
    let mut f = zip
        .by_index_raw(index)
        .map_err(|e| zerr(format!("member {member}: {e}")))?;
    let (method, size, crc) = (f.compression(), f.size(), f.crc32());
    let mut raw = Vec::new();
    f.read_to_end(&mut raw)
        .map_err(|e| zerr(format!("member {member}: {e}")))?;
    // method 8 (deflate) under whatever variant the zip crate's enabled features map it to
    #[allow(deprecated)]
    let deflated = zip::CompressionMethod::from_u16(8);
    let buf = if method == zip::CompressionMethod::STORE {
        raw
    } else if method == deflated {
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 30));
        flate2::read::DeflateDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| zerr(format!("member {member}: inflating: {e}")))?;
        out
    } else {
        return Err(zerr(format!(
            "member {member}: compression {method:?} (only stored and deflated members are read)"
        )));
    };
    if buf.len() as u64 != size || crc32fast::hash(&buf) != crc {
        return Err(zerr(format!(
            "member {member}: size or CRC-32 does not match the archive directory (corrupt file)"
        )));
    }
    Ok((parse_npy(&buf)?, name, names))
}

/// A `.safetensors` file: the named tensor, and every tensor's name.
fn read_safetensors(bytes: &[u8], tensor: Option<&str>) -> Result<Picked, WeightError> {
    use safetensors::tensor::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| WeightError::Format {
        format: "safetensors",
        message: e.to_string(),
    })?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let name = pick(&names, tensor)?;
    let view = st.tensor(&name).map_err(|e| WeightError::Format {
        format: "safetensors",
        message: e.to_string(),
    })?;
    let elem = match view.dtype() {
        Dtype::F16 => Elem::F16,
        Dtype::BF16 => Elem::Bf16,
        Dtype::F32 => Elem::F32,
        Dtype::F64 => Elem::F64,
        other => return Err(WeightError::Dtype(format!("{other}"))),
    };
    let shape = view.shape().to_vec();
    if shape.len() != 2 {
        return Err(WeightError::Rank { shape });
    }
    let (rows, cols) = (shape[0], shape[1]);
    if rows == 0 || cols == 0 {
        return Err(WeightError::Empty { rows, cols });
    }
    let data = view.data();
    if data.len() != rows * cols * elem.size() {
        return Err(WeightError::Length(format!(
            "{} bytes for a {rows} x {cols} {:?} tensor",
            data.len(),
            elem
        )));
    }
    Ok((
        WeightMatrix::from_row_major(rows, cols, decode(data, elem, true))?,
        name,
        names,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_values() {
        for (bits, want) in [
            (0x3C00u16, 1.0),
            (0xC000, -2.0),
            (0x3800, 0.5),
            (0x0001, 2f64.powi(-24)),
            (0x7BFF, 65504.0),
            (0x0000, 0.0),
        ] {
            assert_eq!(f16_to_f64(bits).to_bits(), want.to_bits(), "{bits:#x}");
        }
        assert!(f16_to_f64(0x7C00).is_infinite());
        assert!(f16_to_f64(0x7E00).is_nan());
    }

    #[test]
    fn orientation_rules() {
        // (rows, cols, alpha, n_prev) -> Some(transposed) or None (error)
        type Row = (usize, usize, Option<f64>, Option<f64>, Option<bool>);
        let table: &[Row] = &[
            (30, 20, None, None, Some(false)),
            (30, 20, Some(1.5), None, Some(false)),
            (30, 20, Some(2.0 / 3.0), None, Some(true)),
            (30, 20, Some(1.0), None, None),
            (30, 20, None, Some(20.0), Some(false)),
            (30, 20, None, Some(30.0), Some(true)),
            (30, 20, None, Some(25.0), None),
            (20, 20, None, None, Some(false)),
            (20, 20, Some(1.0), Some(20.0), Some(false)),
            // alpha fits as given, the previous layer only the transpose: contradiction
            (30, 20, Some(1.5), Some(30.0), None),
            // 1/3 typed to 3 digits: alpha n_in = 99.9 rounds to 100
            (100, 300, Some(0.333), None, Some(false)),
            (100, 300, Some(0.33), None, None),
        ];
        for &(r, c, a, p, want) in table {
            let got = orient(r, c, a, p);
            assert_eq!(
                got.as_ref().ok().map(|o| o.transposed),
                want,
                "rows={r} cols={c} alpha={a:?} n_prev={p:?}: {got:?}"
            );
            if let Ok(o) = got {
                assert_eq!(
                    (o.n_out, o.n_in),
                    if o.transposed { (c, r) } else { (r, c) }
                );
            }
        }
        assert!(matches!(
            orient(30, 20, Some(1.0), None),
            Err(WeightError::ShapeVsAlpha { .. })
        ));
        assert!(matches!(
            orient(30, 20, Some(1.5), Some(30.0)),
            Err(WeightError::ShapeVsPrevious { .. })
        ));
        assert!(matches!(
            orient(30, 20, None, Some(25.0)),
            Err(WeightError::ShapeVsPrevious { .. })
        ));
    }

    #[test]
    fn eigenvalues_of_a_known_matrix() {
        // W = [[3, 0], [0, 4], [0, 0]] (3 x 2): W^T W = diag(9, 16); W W^T = diag(9, 16, 0)
        let m = WeightMatrix::from_row_major(3, 2, vec![3.0, 0.0, 0.0, 4.0, 0.0, 0.0]).unwrap();
        let e = m.wtw_eigenvalues(false).unwrap();
        assert_eq!(e.len(), 2);
        assert!(
            (e[0] - 16.0).abs() < 1e-12 && (e[1] - 9.0).abs() < 1e-12,
            "{e:?}"
        );
        let t = m.wtw_eigenvalues(true).unwrap();
        assert_eq!(t.len(), 3);
        assert!((t[0] - 16.0).abs() < 1e-12 && (t[1] - 9.0).abs() < 1e-12 && t[2] == 0.0);
    }

    #[test]
    fn fortran_order_is_transposed_storage() {
        let c = WeightMatrix::from_col_major(2, 3, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]).unwrap();
        assert_eq!(c.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn bad_matrices() {
        assert!(matches!(
            WeightMatrix::from_row_major(0, 3, vec![]),
            Err(WeightError::Empty { .. })
        ));
        assert!(matches!(
            WeightMatrix::from_row_major(2, 2, vec![1.0, 2.0, f64::NAN, 0.0]),
            Err(WeightError::NonFinite { row: 1, col: 0, .. })
        ));
        assert!(matches!(
            WeightMatrix::from_row_major(2, 2, vec![1.0]),
            Err(WeightError::Length(_))
        ));
    }
}
