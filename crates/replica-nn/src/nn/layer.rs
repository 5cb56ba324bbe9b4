//! Layers: the USV layer (only singular values trained), a plain dense layer, activations.
//!
//! Batches are rows: an input `x` is `batch x n_in` and a layer computes `x W^T` (`batch x n_out`).

use super::NnError;
use candle_core::{DType, Device, Tensor, Var};
use faer::Mat;
use rand::Rng;

/// `(U, s, V)` of a thin SVD.
type ThinSvd = (Mat<f64>, Vec<f64>, Mat<f64>);

/// Thin SVD `g = U diag(s) V^T` (`U` is `m x k`, `V` is `n x k`, `k = min(m, n)`), computed on
/// the calling thread: faer's parallel SVD sums in an order that follows the global thread count,
/// and the initial weights of a seed must be the same bits on any number of threads.
fn thin_svd_sequential(g: &Mat<f64>) -> Result<ThinSvd, faer::linalg::svd::SvdError> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
    let (m, n) = g.shape();
    let k = m.min(n);
    let mut u = Mat::<f64>::zeros(m, k);
    let mut v = Mat::<f64>::zeros(n, k);
    let mut s = faer::diag::Diag::<f64>::zeros(k);
    let scratch = svd_scratch::<f64>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        faer::Par::Seq,
        Default::default(),
    );
    svd(
        g.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        faer::Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )?;
    let s = (0..k).map(|i| s[i]).collect();
    Ok((u, s, v))
}

/// An activation of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// `phi(x) = x`.
    Linear,
    /// `phi(x) = max(x, 0)`.
    Relu,
    /// `phi(x) = clamp(x, -1, 1)`.
    Hardtanh,
    /// `softmax` over the outputs of a row (last layer only; not a replica channel).
    Softmax,
}

impl Act {
    /// Apply elementwise (softmax: over the last dimension).
    pub fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Act::Linear => Ok(x.clone()),
            Act::Relu => x.relu(),
            Act::Hardtanh => x.clamp(-1.0, 1.0),
            Act::Softmax => candle_nn::ops::softmax_last_dim(x),
        }
    }

    /// The canonical name: the word in network descriptions, CSV columns and serde (the same
    /// word as the estimator's activation of that name: `linear`, `relu`, `hardtanh`; the bridge
    /// module converts).
    pub fn name(&self) -> &'static str {
        match self {
            Act::Linear => "linear",
            Act::Relu => "relu",
            Act::Hardtanh => "hardtanh",
            Act::Softmax => "softmax",
        }
    }
}

impl std::fmt::Display for Act {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Act {
    type Err = NnError;
    fn from_str(s: &str) -> Result<Self, NnError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "linear" | "lin" | "identity" => Ok(Act::Linear),
            "relu" => Ok(Act::Relu),
            "hardtanh" => Ok(Act::Hardtanh),
            "softmax" => Ok(Act::Softmax),
            other => Err(NnError::invalid(
                "activation",
                other,
                "expected linear, relu, hardtanh or softmax",
            )),
        }
    }
}

/// The spectrum of one layer's weight `W` (`n_out x n_in`): `alpha = n_out / n_in` and the `n_in`
/// eigenvalues of `W^T W`, plain numbers (what the estimator needs of a layer; the bridge
/// turns it into a replica layer).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LayerSpectrum {
    pub n_in: usize,
    pub n_out: usize,
    /// `n_out / n_in`.
    pub alpha: f64,
    /// The `n_in` eigenvalues of `W^T W` (any order).
    pub eigenvalues: Vec<f64>,
}

/// Row-major `f64` data of a matrix, as an `r x c` tensor of `dtype` on `device`.
fn tensor_from_fn(
    r: usize,
    c: usize,
    f: impl Fn(usize, usize) -> f64,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let mut data = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            data.push(f(i, j));
        }
    }
    Tensor::from_vec(data, (r, c), &Device::Cpu)?
        .to_dtype(dtype)?
        .to_device(device)
}

/// A 2-D tensor as an `f64` faer matrix.
fn tensor_to_mat(t: &Tensor) -> candle_core::Result<Mat<f64>> {
    let rows = t.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let (r, c) = (rows.len(), rows.first().map_or(0, Vec::len));
    Ok(Mat::from_fn(r, c, |i, j| rows[i][j]))
}

fn check_float(dtype: DType) -> Result<(), NnError> {
    match dtype {
        DType::F32 | DType::F64 => Ok(()),
        other => Err(NnError::invalid(
            "dtype",
            format!("{other:?}"),
            "layers are f32 or f64",
        )),
    }
}

/// A layer `W = U diag(s) V^T` (`n_out x n_in`) whose only parameters are the
/// `k = min(n_in, n_out)` singular values `s`; `U` and `V` are frozen.
///
/// With the thin SVD `G = U_k diag(s_0) V_k^T` of the initial draw (`U_k`: `n_out x k`, `V_k`:
/// `n_in x k`), the forward pass on a batch of rows is
/// `x W^T = ((x V_k) * s) U_k^T`: `(batch x n_in)(n_in x k)`, scaled column-wise by `s`, then
/// `(batch x k)(k x n_out)`; this costs `batch k (n_in + n_out)` instead of forming `W`. The full
/// SVD's remaining columns of `U` or `V` only ever meet zero singular values, so keeping the thin
/// factors is the same layer. No bias. `s` may change sign during training; nothing is normalised.
#[derive(Clone, Debug)]
pub struct UsvLayer {
    n_in: usize,
    n_out: usize,
    act: Act,
    /// `V_k`, `n_in x k`, frozen.
    v_k: Tensor,
    /// `U_k^T`, `k x n_out`, frozen.
    u_k_t: Tensor,
    /// `s`, `k`, trained.
    s: Var,
}

impl UsvLayer {
    /// Draw `G` (`n_out x n_in`, entries `N(0, coef^2 / n_in)`, via
    /// [`crate::draw::gaussian_matrix`] from `rng`) and factor it: at initialisation `W = G`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        n_in: usize,
        n_out: usize,
        coef: f64,
        act: Act,
        rng: &mut impl Rng,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, NnError> {
        if n_in == 0 || n_out == 0 {
            return Err(NnError::invalid(
                "usv.shape",
                format!("{n_out}x{n_in}"),
                "widths must be >= 1",
            ));
        }
        replica_params::positive("usv.coef".into(), coef)?;
        let g = crate::draw::gaussian_matrix(n_out, n_in, coef * coef, rng);
        Self::from_matrix(&g, act, dtype, device)
    }

    /// A USV layer equal to `g` (`n_out x n_in`): thin SVD `g = U_k diag(s) V_k^T` in `f64`.
    pub fn from_matrix(
        g: &Mat<f64>,
        act: Act,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, NnError> {
        check_float(dtype)?;
        if act == Act::Softmax {
            return Err(NnError::invalid(
                "usv.activation",
                act,
                "a USV layer is a replica channel: linear, relu or hardtanh",
            ));
        }
        let (n_out, n_in) = (g.nrows(), g.ncols());
        if n_in == 0 || n_out == 0 {
            return Err(NnError::invalid(
                "usv.shape",
                format!("{n_out}x{n_in}"),
                "widths must be >= 1",
            ));
        }
        let (u, s, v) = thin_svd_sequential(g)
            .map_err(|e| NnError::Linalg(format!("SVD of a {n_out}x{n_in} matrix: {e:?}")))?;
        let k = n_in.min(n_out);
        let v_k = tensor_from_fn(n_in, k, |i, j| v[(i, j)], dtype, device)?;
        let u_k_t = tensor_from_fn(k, n_out, |j, i| u[(i, j)], dtype, device)?;
        let s = Var::from_tensor(
            &Tensor::from_vec(s, k, &Device::Cpu)?
                .to_dtype(dtype)?
                .to_device(device)?,
        )?;
        Ok(UsvLayer {
            n_in,
            n_out,
            act,
            v_k,
            u_k_t,
            s,
        })
    }

    pub fn n_in(&self) -> usize {
        self.n_in
    }
    pub fn n_out(&self) -> usize {
        self.n_out
    }
    pub fn act(&self) -> Act {
        self.act
    }
    /// The trainable singular values.
    pub fn var(&self) -> &Var {
        &self.s
    }
    /// The frozen `V_k` (`n_in x k`).
    pub fn v_k(&self) -> &Tensor {
        &self.v_k
    }
    /// The frozen `U_k^T` (`k x n_out`).
    pub fn u_k_t(&self) -> &Tensor {
        &self.u_k_t
    }

    /// Pre-activation `x W^T = ((x V_k) * s) U_k^T`.
    pub fn linear(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.v_k)?
            .broadcast_mul(self.s.as_tensor())?
            .matmul(&self.u_k_t)
    }

    /// `phi(x W^T)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.act.apply(&self.linear(x)?)
    }

    /// The current singular values in `f64`.
    pub fn singular_values(&self) -> candle_core::Result<Vec<f64>> {
        self.s.as_tensor().to_dtype(DType::F64)?.to_vec1::<f64>()
    }

    /// Overwrite the singular values (length `min(n_in, n_out)`).
    pub fn set_singular_values(&self, s: &[f64]) -> candle_core::Result<()> {
        let t = Tensor::from_slice(s, s.len(), &Device::Cpu)?
            .to_dtype(self.s.dtype())?
            .to_device(self.s.device())?;
        self.s.set(&t)
    }

    /// `alpha = n_out / n_in` and the eigenvalues of `W^T W`: `s_i^2` (in `f64`) followed by
    /// `n_in - k` zeros. No decomposition.
    pub fn spectrum(&self) -> candle_core::Result<LayerSpectrum> {
        let mut eigenvalues: Vec<f64> = self.singular_values()?.iter().map(|s| s * s).collect();
        eigenvalues.resize(self.n_in, 0.0);
        Ok(LayerSpectrum {
            n_in: self.n_in,
            n_out: self.n_out,
            alpha: self.n_out as f64 / self.n_in as f64,
            eigenvalues,
        })
    }

    /// The explicit weight `W` (`n_out x n_in`, in `f64`), formed on the device from the frozen
    /// factors and the current `s` (the matrix the forward pass applies, up to rounding).
    pub fn weight(&self) -> candle_core::Result<Mat<f64>> {
        let w_t = self
            .v_k
            .broadcast_mul(self.s.as_tensor())?
            .matmul(&self.u_k_t)?;
        Ok(tensor_to_mat(&w_t)?.transpose().to_owned())
    }
}

/// An ordinary dense layer `x W^T` (entries of `W` drawn `N(0, 1/n_in)`), no bias; `W` is stored
/// transposed (`n_in x n_out`) so the forward pass is one matmul.
#[derive(Clone, Debug)]
pub struct Dense {
    n_in: usize,
    n_out: usize,
    act: Act,
    w_t: Var,
}

impl Dense {
    /// Draw `W` (`n_out x n_in`, entries `N(0, 1/n_in)`, via [`crate::draw::gaussian_matrix`]).
    pub fn new(
        n_in: usize,
        n_out: usize,
        act: Act,
        rng: &mut impl Rng,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, NnError> {
        if n_in == 0 || n_out == 0 {
            return Err(NnError::invalid(
                "dense.shape",
                format!("{n_out}x{n_in}"),
                "widths must be >= 1",
            ));
        }
        let w = crate::draw::gaussian_matrix(n_out, n_in, 1.0, rng);
        Self::from_matrix(&w, act, dtype, device)
    }

    /// A dense layer with weight `w` (`n_out x n_in`).
    pub fn from_matrix(
        w: &Mat<f64>,
        act: Act,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, NnError> {
        check_float(dtype)?;
        let (n_out, n_in) = (w.nrows(), w.ncols());
        let w_t = Var::from_tensor(&tensor_from_fn(
            n_in,
            n_out,
            |j, i| w[(i, j)],
            dtype,
            device,
        )?)?;
        Ok(Dense {
            n_in,
            n_out,
            act,
            w_t,
        })
    }

    pub fn n_in(&self) -> usize {
        self.n_in
    }
    pub fn n_out(&self) -> usize {
        self.n_out
    }
    pub fn act(&self) -> Act {
        self.act
    }
    pub fn var(&self) -> &Var {
        &self.w_t
    }

    /// Pre-activation `x W^T`.
    pub fn linear(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(self.w_t.as_tensor())
    }

    /// `phi(x W^T)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.act.apply(&self.linear(x)?)
    }

    /// `W` (`n_out x n_in`) in `f64`.
    pub fn weight(&self) -> candle_core::Result<Mat<f64>> {
        Ok(tensor_to_mat(self.w_t.as_tensor())?.transpose().to_owned())
    }
}
