//! The CPU training engine: forward pass, hand-derived backward pass and SGD step of a
//! [`Network`] on host buffers, with the matrix products done by faer (its x86 kernels pick
//! AVX-512 at run time where the CPU has it).
//!
//! Why not candle's autograd on the CPU: its matmul backward computes the gradient of both
//! operands, so every USV layer would also pay for the gradients of the frozen `U_k^T` and `V_k`
//! (as many multiply-adds as the useful backward); gradient accumulators are zero-filled then
//! added to; every elementwise step allocates; and the SGD step of a dense layer allocates two
//! full-size tensors. Here every buffer is allocated once per [`HostEngine`], each product writes
//! its output directly (no zero-fill), the frozen factors get no gradient, and the updates are
//! in place.
//!
//! The arithmetic, per minibatch of `B` rows `x` (row-major, batches are rows):
//! * USV layer (`W = U_k diag(s) V_k^T`): `a = x V_k` (`B x k`), `z = (a * s) U_k^T`,
//!   `h = phi(z)`. Backward from `g_z = dL/dz`: `g_b = g_z U_k` (`B x k`),
//!   `dL/ds_j = sum_b a_bj g_b,bj`, and (not for the first layer, whose input is data)
//!   `dL/dx = (g_b * s) V_k^T`.
//! * Dense layer (`W^T` stored `n_in x n_out`): `z = x W^T`; `dL/dx = g_z W`;
//!   `W^T <- W^T - lr x^T g_z` as one product accumulated into `W^T` (after `dL/dx` is formed
//!   from the old weight).
//! * Activations: `phi'` is 1 (linear), `[z > 0]` (relu), `[-1 < z < 1]` (hardtanh).
//! * Losses: cross-entropy `l_b = logsumexp(z_b) - z_{b c_b}`, `dL/dz = (softmax(z) - e_c) / B`;
//!   MSE on `o` (`o = softmax(z)` for a softmax output, else `phi(z)`), `L = sum (o - y)^2 / (B m)`,
//!   `dL/do = 2 (o - y) / (B m)`, through the softmax `dL/dz_j = o_j (dL/do_j - sum_i dL/do_i o_i)`.
//! * SGD: `s <- s - lr dL/ds` after the layer's input gradient is formed.
//! * Fusion (optional, on by default): a linear USV layer followed by a USV layer skips its `z`;
//!   see [`HostEngine::new`].
//!
//! Every loop runs in a fixed order and every product is cut into column blocks by its shape
//! alone, each block one sequential faer call (see `mm`), so a seed gives the same bits on one
//! machine, and the same for 1 or 2 threads (a test checks it).

use super::layer::Act;
use super::network::NetLayerRef;
use super::network::Network;
use super::train::Loss;
use super::NnError;
use candle_core::{DType, Tensor, Var};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// The float types of the engine (`f32`, `f64`).
pub(crate) trait Real:
    faer::traits::ComplexField
    + candle_core::WithDType
    + Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Send
    + Sync
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn of(v: f64) -> Self;
    fn f64(self) -> f64;
    fn exp_(self) -> Self;
    fn ln_(self) -> Self;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp_(self) -> Self {
                self.exp()
            }
            #[inline(always)]
            fn ln_(self) -> Self {
                self.ln()
            }
        }
    };
}
real!(f32);
real!(f64);

/// Products with fewer multiply-adds than this run as one call; larger ones are cut in two.
const SPLIT_MACS: usize = 1 << 18;

/// The two blocks of a cut product run on two threads only from this many multiply-adds: below
/// it, handing a block to the other worker costs more than the block (at 100-200-100-50-20-2,
/// whose products have at most 2e6, two threads took 0.028 s per epoch against 0.025 s on one).
/// The blocks are the same either way, so the result does not change.
const PARALLEL_MACS: usize = 1 << 22;

/// `dst (m x n) = alpha a b` (`Accum::Replace`) or `dst += alpha a b`.
///
/// Products of at least [`SPLIT_MACS`] multiply-adds are cut into two column blocks of `dst`
/// (the second starting at a multiple of 16 columns), each computed by faer on one thread; with
/// more than one rayon thread the two blocks run in parallel (`rayon::join`), with one they run
/// one after the other. The cut depends on the shapes only, so every output element comes from
/// the same sequential kernel call whatever the thread count: a seed gives the same bits with 1
/// or 2 threads. (faer's own multi-threaded path changes the summation order of its kernel with
/// the thread count, hence this split instead of `Par::rayon`. On one thread the two halves are
/// also faster than one call: 0.50 s against 0.60 s per epoch at 500-1000-500-250-100-2; blocks
/// of 64 to 512 columns measured the same as halves.)
#[inline]
fn mm<T: Real>(
    dst: MatMut<'_, T>,
    accum: Accum,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
    threads: usize,
) {
    let (m, n, k) = (dst.nrows(), dst.ncols(), a.ncols());
    let half = (n / 2).div_ceil(16) * 16;
    if m * n * k < SPLIT_MACS || half == 0 || half >= n {
        matmul(dst, accum, a, b, alpha, Par::Seq);
        return;
    }
    let (d0, d1) = dst.split_at_col_mut(half);
    let (b0, b1) = b.split_at_col(half);
    if threads > 1 && m * n * k >= PARALLEL_MACS {
        rayon::join(
            || matmul(d0, accum, a, b0, alpha, Par::Seq),
            || matmul(d1, accum, a, b1, alpha, Par::Seq),
        );
    } else {
        matmul(d0, accum, a, b0, alpha, Par::Seq);
        matmul(d1, accum, a, b1, alpha, Par::Seq);
    }
}

fn rows<T>(s: &[T], r: usize, c: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(&s[..r * c], r, c)
}
fn rows_mut<T>(s: &mut [T], r: usize, c: usize) -> MatMut<'_, T> {
    MatMut::from_row_major_slice_mut(&mut s[..r * c], r, c)
}

/// The contents of a tensor as a flat host vector of `T`.
pub(crate) fn host_vec<T: Real>(t: &Tensor) -> candle_core::Result<Vec<T>> {
    t.to_dtype(T::DTYPE)?
        .to_device(&candle_core::Device::Cpu)?
        .flatten_all()?
        .to_vec1::<T>()
}

/// The row-major `c x r` transpose of the row-major `r x c` matrix `m`.
fn transposed<T: Copy>(m: &[T], r: usize, c: usize) -> Vec<T> {
    (0..c)
        .flat_map(|j| (0..r).map(move |i| m[i * c + j]))
        .collect()
}

/// One layer's parameters and buffers.
struct HostLayer<T> {
    n_in: usize,
    n_out: usize,
    act: Act,
    kind: Kind<T>,
    var: Var,
    /// Pre-activation `z`, `cap x n_out`; on the way back it holds `dL/dz`.
    z: Vec<T>,
    /// `phi(z)` (`cap x n_out`), empty for a linear layer and the last layer (which use `z`).
    h: Vec<T>,
    /// `dL/dh` of this layer's output, `cap x n_out` (written by the next layer's backward).
    g: Vec<T>,
}

// One per layer, a handful per network: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Kind<T> {
    Usv {
        k: usize,
        /// `V_k`, `n_in x k`, row-major.
        v: Vec<T>,
        /// `U_k^T`, `k x n_out`, row-major.
        ut: Vec<T>,
        /// The same factors transposed (`V_k^T`, `k x n_in`; `U_k`, `n_out x k`), so that every
        /// product reads its frozen operand in the layout the kernel streams without repacking.
        vt: Vec<T>,
        u: Vec<T>,
        s: Vec<T>,
        /// `x V_k`, `cap x k`.
        a: Vec<T>,
        /// `(x V_k) * s` on the way forward, `g_z U_k` on the way back, `cap x k`.
        b: Vec<T>,
        /// `dL/ds`.
        ds: Vec<T>,
        /// For a linear layer followed by a USV layer (with fusion on): `M = U_k^T V'_k`
        /// (`k x k'`, the next layer's `V'_k`) and `M^T`, row-major. The next layer then reads
        /// `a' = b M` (see [`HostEngine::new`]) and this layer's `z` is never formed.
        fused: Option<(Vec<T>, Vec<T>)>,
    },
    Dense {
        /// `W^T`, `n_in x n_out`, row-major.
        wt: Vec<T>,
    },
}

/// Loss sum (over rows, per-row loss) and number of correct argmax predictions.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BatchOut {
    pub loss_sum: f64,
    pub correct: usize,
}

/// The training state of one network on the CPU (see the module documentation).
pub(crate) struct HostEngine<T> {
    layers: Vec<HostLayer<T>>,
    /// Rows the buffers hold.
    cap: usize,
    n_in: usize,
    softmax_out: bool,
    /// Minibatch input, `cap x n_in`.
    x: Vec<T>,
}

impl<T: Real> HostEngine<T> {
    /// Copy the frozen factors of `net` and allocate buffers for `cap` rows.
    ///
    /// With `fuse`, every linear USV layer `i` followed by a USV layer is fused with it: the
    /// product of the frozen factors `M = U_i^T V_{i+1}` (`k_i x k_{i+1}`) is formed once, and the
    /// passes use `a_{i+1} = ((x V_i) * s_i) M` forward and `dL/db_i = (dL/da_{i+1}) M^T`
    /// backward, never forming `z_i = h_i` (`B x n_i`). The same function and gradient, by
    /// associativity; the multiply-adds of the pair drop from `B n_i (k_i + k_{i+1})` (twice, for
    /// forward and backward) to `B k_i k_{i+1}`: at 500-1000-500-250-100-2 with linear layers 1
    /// and 3, about half the work of a step. Rounding differs from the unfused order (as any
    /// change of summation order does), so it is a setting ([`super::TrainConfig::fuse_linear`]).
    pub(crate) fn new(net: &Network, cap: usize, fuse: bool) -> Result<Self, NnError> {
        let mut layers = Vec::with_capacity(net.layers().len());
        let last = net.layers().len() - 1;
        for (i, l) in net.layers().iter().enumerate() {
            let (n_in, n_out, act, var, kind) = match l.parts() {
                NetLayerRef::Usv {
                    n_in,
                    n_out,
                    act,
                    v_k,
                    u_k_t,
                    s,
                } => {
                    let k = n_in.min(n_out);
                    let (v, ut) = (host_vec(v_k)?, host_vec(u_k_t)?);
                    let kind = Kind::Usv {
                        k,
                        vt: transposed(&v, n_in, k),
                        u: transposed(&ut, k, n_out),
                        v,
                        ut,
                        s: host_vec(s.as_tensor())?,
                        a: vec![T::ZERO; cap * k],
                        b: vec![T::ZERO; cap * k],
                        ds: vec![T::ZERO; k],
                        fused: None,
                    };
                    (n_in, n_out, act, s.clone(), kind)
                }
                NetLayerRef::Dense {
                    n_in,
                    n_out,
                    act,
                    w_t,
                } => (
                    n_in,
                    n_out,
                    act,
                    w_t.clone(),
                    Kind::Dense {
                        wt: host_vec(w_t.as_tensor())?,
                    },
                ),
            };
            let needs_h = i != last && act != Act::Linear;
            layers.push(HostLayer {
                n_in,
                n_out,
                act,
                kind,
                var,
                z: vec![T::ZERO; cap * n_out],
                h: if needs_h {
                    vec![T::ZERO; cap * n_out]
                } else {
                    Vec::new()
                },
                g: if i != last {
                    vec![T::ZERO; cap * n_out]
                } else {
                    Vec::new()
                },
            });
        }
        if fuse {
            for i in 0..last {
                let (head, tail) = layers.split_at_mut(i + 1);
                let (l, next) = (&mut head[i], &tail[0]);
                let (Kind::Usv { k, ut, fused, .. }, Kind::Usv { k: k2, v: v2, .. }) =
                    (&mut l.kind, &next.kind)
                else {
                    continue;
                };
                if l.act != Act::Linear {
                    continue;
                }
                let (k, k2) = (*k, *k2);
                let mut mf = vec![T::ZERO; k * k2];
                matmul(
                    rows_mut(&mut mf, k, k2),
                    Accum::Replace,
                    rows(ut, k, l.n_out),
                    rows(v2, l.n_out, k2),
                    T::ONE,
                    Par::Seq,
                );
                let mt = transposed(&mf, k, k2);
                *fused = Some((mf, mt));
            }
        }
        Ok(HostEngine {
            layers,
            cap,
            n_in: net.spec().n_in,
            softmax_out: net.ends_in_softmax(),
            x: vec![T::ZERO; cap * net.spec().n_in],
        })
    }

    /// Rows per pass.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Read the trainable parameters from the network's variables (they may have been set from
    /// outside since the last step).
    pub(crate) fn load_params(&mut self) -> candle_core::Result<()> {
        for l in &mut self.layers {
            let fresh = host_vec::<T>(l.var.as_tensor())?;
            match &mut l.kind {
                Kind::Usv { s, .. } => s.copy_from_slice(&fresh),
                Kind::Dense { wt } => wt.copy_from_slice(&fresh),
            }
        }
        Ok(())
    }

    /// Write the trainable parameters back into the network's variables.
    pub(crate) fn store_params(&self) -> candle_core::Result<()> {
        for l in &self.layers {
            let (data, shape): (&[T], Vec<usize>) = match &l.kind {
                Kind::Usv { s, k, .. } => (s, vec![*k]),
                Kind::Dense { wt } => (wt, vec![l.n_in, l.n_out]),
            };
            let t = Tensor::from_slice(data, shape, &candle_core::Device::Cpu)?
                .to_device(l.var.device())?;
            debug_assert_eq!(t.dtype(), l.var.dtype());
            l.var.set(&t)?;
        }
        Ok(())
    }

    /// Copy rows `idx` of the row-major `src` (`_ x n_in`) into the input buffer.
    pub(crate) fn gather_input(&mut self, src: &[T], idx: &[u32]) {
        let d = self.n_in;
        for (r, &i) in idx.iter().enumerate() {
            let i = i as usize;
            self.x[r * d..(r + 1) * d].copy_from_slice(&src[i * d..(i + 1) * d]);
        }
    }

    /// Copy `rows` consecutive rows of `src` starting at `start` into the input buffer.
    pub(crate) fn load_input(&mut self, src: &[T], start: usize, rows: usize) {
        let d = self.n_in;
        self.x[..rows * d].copy_from_slice(&src[start * d..(start + rows) * d]);
    }

    /// The forward pass of the first `m` rows of the input buffer; the last layer's `z` then
    /// holds its pre-activation (the logits of a softmax network).
    fn forward(&mut self, m: usize, par: usize) {
        let (x, layers) = (&self.x, &mut self.layers);
        for i in 0..layers.len() {
            let (prev, rest) = layers.split_at_mut(i);
            let l = &mut rest[0];
            let p = prev.last();
            let input: &[T] = match p {
                None => x,
                Some(p) => p.output(),
            };
            let xin = rows(input, m, l.n_in);
            match &mut l.kind {
                Kind::Usv {
                    k,
                    v,
                    ut,
                    s,
                    a,
                    b,
                    fused,
                    ..
                } => {
                    let k = *k;
                    match p.map(|p| &p.kind) {
                        // a = b_prev M_prev: the previous (linear) layer fused into this one.
                        Some(Kind::Usv {
                            k: kp,
                            b: bp,
                            fused: Some((mp, _)),
                            ..
                        }) => mm(
                            rows_mut(a, m, k),
                            Accum::Replace,
                            rows(bp, m, *kp),
                            rows(mp, *kp, k),
                            T::ONE,
                            par,
                        ),
                        _ => mm(
                            rows_mut(a, m, k),
                            Accum::Replace,
                            xin,
                            rows(v, l.n_in, k),
                            T::ONE,
                            par,
                        ),
                    }
                    for r in 0..m {
                        let (ar, br) = (&a[r * k..(r + 1) * k], &mut b[r * k..(r + 1) * k]);
                        for j in 0..k {
                            br[j] = ar[j] * s[j];
                        }
                    }
                    if fused.is_some() {
                        // z = h is never formed: the next layer reads b.
                        continue;
                    }
                    mm(
                        rows_mut(&mut l.z, m, l.n_out),
                        Accum::Replace,
                        rows(b, m, k),
                        rows(ut, k, l.n_out),
                        T::ONE,
                        par,
                    );
                }
                Kind::Dense { wt } => {
                    mm(
                        rows_mut(&mut l.z, m, l.n_out),
                        Accum::Replace,
                        xin,
                        rows(wt, l.n_in, l.n_out),
                        T::ONE,
                        par,
                    );
                }
            }
            if !l.h.is_empty() {
                let n = m * l.n_out;
                let (z, h) = (&l.z[..n], &mut l.h[..n]);
                match l.act {
                    Act::Relu => {
                        for (h, &z) in h.iter_mut().zip(z) {
                            *h = if z > T::ZERO { z } else { T::ZERO };
                        }
                    }
                    Act::Hardtanh => {
                        let one = T::ONE;
                        for (h, &z) in h.iter_mut().zip(z) {
                            *h = if z > one {
                                one
                            } else if z < -one {
                                -one
                            } else {
                                z
                            };
                        }
                    }
                    Act::Linear | Act::Softmax => h.copy_from_slice(z),
                }
            }
        }
    }

    /// The loss of the first `m` rows after [`Self::forward`]; with `grad`, the last layer's `z`
    /// is overwritten with `dL/dz` of the batch mean loss.
    fn loss(
        &mut self,
        m: usize,
        loss: Loss,
        y: &[T],
        labels: Option<&[u32]>,
        grad: bool,
    ) -> Result<BatchOut, NnError> {
        let softmax_out = self.softmax_out;
        let last = self.layers.last_mut().expect("a network has a layer");
        let c = last.n_out;
        let mut out = BatchOut::default();
        let inv_b = T::of(1.0 / m as f64);
        for r in 0..m {
            let z = &mut last.z[r * c..(r + 1) * c];
            if let Some(lab) = labels {
                let (mut best, mut arg) = (z[0], 0);
                for (j, &v) in z.iter().enumerate().skip(1) {
                    if v > best {
                        best = v;
                        arg = j;
                    }
                }
                out.correct += usize::from(arg == lab[r] as usize);
            }
            match loss {
                Loss::CrossEntropy => {
                    let lab = labels.ok_or_else(|| {
                        NnError::invalid("loss", "cross-entropy", "needs class labels in the data")
                    })?[r] as usize;
                    if lab >= c {
                        return Err(NnError::invalid(
                            "labels",
                            lab,
                            format!("a class index must be < {c} (the output width)"),
                        ));
                    }
                    let mut mx = z[0];
                    for &v in z.iter() {
                        if v > mx {
                            mx = v;
                        }
                    }
                    let mut sum = T::ZERO;
                    for &v in z.iter() {
                        sum += (v - mx).exp_();
                    }
                    let lse = mx + sum.ln_();
                    out.loss_sum += (lse - z[lab]).f64();
                    if grad {
                        for v in z.iter_mut() {
                            *v = (*v - lse).exp_() * inv_b;
                        }
                        z[lab] -= inv_b;
                    }
                }
                Loss::Mse => {
                    let yr = &y[r * c..(r + 1) * c];
                    // o = softmax(z) or phi(z), kept in z.
                    if softmax_out {
                        let mut mx = z[0];
                        for &v in z.iter() {
                            if v > mx {
                                mx = v;
                            }
                        }
                        let mut sum = T::ZERO;
                        for v in z.iter_mut() {
                            *v = (*v - mx).exp_();
                            sum += *v;
                        }
                        for v in z.iter_mut() {
                            *v /= sum;
                        }
                    }
                    let scale = T::of(2.0 / (m * c) as f64);
                    let mut dot = T::ZERO;
                    for (o, &t) in z.iter_mut().zip(yr) {
                        let d = *o - t;
                        out.loss_sum += d.f64() * d.f64() / c as f64;
                        if grad && softmax_out {
                            dot += d * scale * *o;
                        }
                        if grad && !softmax_out {
                            // dL/dz = dL/do phi'(z); o = phi(z) is only ever linear here
                            // (checked in `HostEngine::supports`), so phi' = 1.
                            *o = d * scale;
                        }
                    }
                    if grad && softmax_out {
                        for (o, &t) in z.iter_mut().zip(yr) {
                            let go = (*o - t) * scale;
                            *o *= go - dot;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Forward, loss and (with `lr`) backward pass and SGD step on the first `m` rows of the
    /// input buffer.
    pub(crate) fn step(
        &mut self,
        m: usize,
        loss: Loss,
        y: &[T],
        labels: Option<&[u32]>,
        lr: Option<f64>,
    ) -> Result<BatchOut, NnError> {
        let par = rayon::current_num_threads();
        self.forward(m, par);
        let out = self.loss(m, loss, y, labels, lr.is_some())?;
        if let Some(lr) = lr {
            self.backward(m, T::of(lr), par);
        }
        Ok(out)
    }

    fn backward(&mut self, m: usize, lr: T, par: usize) {
        let n = self.layers.len();
        for i in (0..n).rev() {
            let (prev, rest) = self.layers.split_at_mut(i);
            let l = &mut rest[0];
            let fused = matches!(l.kind, Kind::Usv { fused: Some(_), .. });
            // dL/dz: the last layer's z already holds it; otherwise g (dL/dh) times phi'(z). A
            // fused layer has no z: the next layer wrote dL/db into its b.
            if i + 1 != n && !fused {
                let len = m * l.n_out;
                let (z, g) = (&mut l.z[..len], &l.g[..len]);
                match l.act {
                    Act::Relu => {
                        for (z, &g) in z.iter_mut().zip(g) {
                            *z = if *z > T::ZERO { g } else { T::ZERO };
                        }
                    }
                    Act::Hardtanh => {
                        let one = T::ONE;
                        for (z, &g) in z.iter_mut().zip(g) {
                            *z = if *z > -one && *z < one { g } else { T::ZERO };
                        }
                    }
                    Act::Linear | Act::Softmax => z.copy_from_slice(g),
                }
            }
            let gz = rows(&l.z, m, l.n_out);
            let (n_in, n_out) = (l.n_in, l.n_out);
            match &mut l.kind {
                Kind::Usv {
                    k,
                    vt,
                    u,
                    s,
                    a,
                    b,
                    ds,
                    ..
                } => {
                    let k = *k;
                    // g_b = g_z U_k = g_z (U_k^T)^T (already in b for a fused layer).
                    if !fused {
                        mm(
                            rows_mut(b, m, k),
                            Accum::Replace,
                            gz,
                            rows(u, n_out, k),
                            T::ONE,
                            par,
                        );
                    }
                    // dL/ds_j = sum_b a_bj g_b,bj (the first row initialises).
                    for j in 0..k {
                        ds[j] = a[j] * b[j];
                    }
                    for r in 1..m {
                        let (ar, br) = (&a[r * k..(r + 1) * k], &b[r * k..(r + 1) * k]);
                        for j in 0..k {
                            ds[j] += ar[j] * br[j];
                        }
                    }
                    if let Some(p) = prev.last_mut() {
                        for r in 0..m {
                            let br = &mut b[r * k..(r + 1) * k];
                            for j in 0..k {
                                br[j] *= s[j];
                            }
                        }
                        match &mut p.kind {
                            // dL/db_prev = (dL/da) M_prev^T into the fused previous layer.
                            Kind::Usv {
                                k: kp,
                                b: bp,
                                fused: Some((_, mpt)),
                                ..
                            } => mm(
                                rows_mut(bp, m, *kp),
                                Accum::Replace,
                                rows(b, m, k),
                                rows(mpt, k, *kp),
                                T::ONE,
                                par,
                            ),
                            _ => mm(
                                rows_mut(&mut p.g, m, n_in),
                                Accum::Replace,
                                rows(b, m, k),
                                rows(vt, k, n_in),
                                T::ONE,
                                par,
                            ),
                        }
                    }
                    for j in 0..k {
                        s[j] -= ds[j] * lr;
                    }
                }
                Kind::Dense { wt } => {
                    if let Some(p) = prev.last_mut() {
                        mm(
                            rows_mut(&mut p.g, m, n_in),
                            Accum::Replace,
                            gz,
                            rows(wt, n_in, n_out).transpose(),
                            T::ONE,
                            par,
                        );
                    }
                    let input: &[T] = match prev.last() {
                        None => &self.x,
                        Some(p) => p.output(),
                    };
                    // W^T <- W^T - lr x^T g_z, in place.
                    mm(
                        rows_mut(wt, n_in, n_out),
                        Accum::Add,
                        rows(input, m, n_in).transpose(),
                        gz,
                        -lr,
                        par,
                    );
                }
            }
        }
    }
}

impl<T> HostLayer<T> {
    /// What the next layer reads: `phi(z)`, or `z` itself for a linear layer.
    fn output(&self) -> &[T] {
        if self.h.is_empty() {
            &self.z
        } else {
            &self.h
        }
    }
}

/// Whether the engine covers `net`: CPU, `f32` or `f64`, and a linear or softmax output layer
/// (other output activations train through candle's autograd).
pub(crate) fn supports(net: &Network) -> bool {
    let last_act = net.layers().last().map(|l| l.act());
    net.device().is_cpu()
        && matches!(net.dtype(), DType::F32 | DType::F64)
        && matches!(last_act, Some(Act::Linear | Act::Softmax))
}
