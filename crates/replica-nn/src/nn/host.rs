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
//! Threads: with two or more, a step runs its rows in two lanes, one per thread (forward, loss
//! and backward are row by row; see [`HostEngine::step`]), and the parameter gradients (sums
//! over the rows) after both, over all rows in order. Every loop runs in a fixed order and every
//! product is cut into column blocks by the whole minibatch's shape alone, each block one
//! sequential faer call (see `mm`), so a seed gives the same bits on one machine, for 1 or 2
//! threads (a test checks it).

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
/// whose products have at most 2e6, per-product hand-offs took 0.028 s per epoch against 0.025 s
/// on one thread). The blocks are the same either way, so the result does not change. (Inside
/// the two lanes of a step every product runs on its lane's thread; this applies to the steps of
/// fewer than [`LANE_MIN_ROWS`] rows and to the dense layers' weight updates.)
const PARALLEL_MACS: usize = 1 << 22;

/// `dst (m x n) = alpha a b` (`Accum::Replace`) or `dst += alpha a b`.
///
/// Products of at least [`SPLIT_MACS`] multiply-adds, counted as if `dst` had `cut_rows` rows
/// (a lane's product is cut as the whole minibatch's would be), are cut into two column blocks of `dst`
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
    cut_rows: usize,
) {
    let (m, n, k) = (cut_rows, dst.ncols(), a.ncols());
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

/// One layer's parameters (its per-row buffers are in [`RowBufs`]).
struct HostLayer<T> {
    n_in: usize,
    n_out: usize,
    act: Act,
    kind: Kind<T>,
    var: Var,
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

impl<T> Kind<T> {
    /// The rank `k` of a USV layer, 0 for a dense one (no `a`, `b` buffers).
    fn rank(&self) -> usize {
        match self {
            Kind::Usv { k, .. } => *k,
            Kind::Dense { .. } => 0,
        }
    }

    fn is_fused(&self) -> bool {
        matches!(self, Kind::Usv { fused: Some(_), .. })
    }
}

impl<T: Real> HostLayer<T> {
    /// The host copy of one layer of the network: its frozen factors (and their transposes) or
    /// its weight, its trainable parameters, and the variable they are written back to.
    fn from_net(l: &super::network::NetLayer) -> Result<Self, NnError> {
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
        Ok(HostLayer {
            n_in,
            n_out,
            act,
            kind,
            var,
        })
    }
}

/// Fuse every linear USV layer followed by a USV layer with it (see [`HostEngine::new`]): form
/// `M = U_i^T V_{i+1}` (`k_i x k_{i+1}`) and its transpose.
fn fuse_linear_pairs<T: Real>(layers: &mut [HostLayer<T>]) {
    for i in 0..layers.len().saturating_sub(1) {
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

/// One layer's per-row buffers, row-major over the minibatch: row `r` of every buffer depends on
/// row `r` of the input only, which is what lets [`HostEngine::step`] run the rows in two lanes.
struct RowBufs<T> {
    /// Pre-activation `z`, `cap x n_out`; the last layer's holds `dL/dz` after the loss.
    z: Vec<T>,
    /// `phi(z)` (`cap x n_out`), empty for a linear layer and the last layer (which use `z`).
    h: Vec<T>,
    /// `dL/dh` of this layer's output (written by the next layer's backward), then `dL/dz` in
    /// place; `cap x n_out`, empty for the last layer.
    g: Vec<T>,
    /// USV: `x V_k`, `cap x k` (empty for a dense layer).
    a: Vec<T>,
    /// USV: `(x V_k) * s` on the way forward, `g_b = g_z U_k` on the way back, `cap x k`.
    b: Vec<T>,
    /// USV with a previous layer: `g_b * s`, `cap x k` (`b` keeps `g_b` for `dL/ds`).
    bs: Vec<T>,
}

/// Rows of one layer's [`RowBufs`], mutably.
struct RowsMut<'a, T> {
    z: &'a mut [T],
    h: &'a mut [T],
    g: &'a mut [T],
    a: &'a mut [T],
    b: &'a mut [T],
    bs: &'a mut [T],
}

/// `s` cut after `at` elements (an empty buffer stays empty on both sides).
fn cut<T>(s: &mut [T], at: usize) -> (&mut [T], &mut [T]) {
    let at = at.min(s.len());
    s.split_at_mut(at)
}

impl<T: Real> RowBufs<T> {
    /// Buffers of `cap` rows for `layer`: `h` unless the layer is linear or the last, `g` unless
    /// it is the last, `a`, `b` for a USV layer and `bs` for one with a previous layer.
    fn new(layer: &HostLayer<T>, cap: usize, first: bool, last: bool) -> Self {
        let (n_out, k) = (layer.n_out, layer.kind.rank());
        let zeros = |len: usize, wanted: bool| {
            if wanted {
                vec![T::ZERO; len]
            } else {
                Vec::new()
            }
        };
        RowBufs {
            z: vec![T::ZERO; cap * n_out],
            h: zeros(cap * n_out, !last && layer.act != Act::Linear),
            g: zeros(cap * n_out, !last),
            a: zeros(cap * k, k > 0),
            b: zeros(cap * k, k > 0),
            bs: zeros(cap * k, k > 0 && !first),
        }
    }
}

impl<T> RowBufs<T> {
    fn rows(&mut self) -> RowsMut<'_, T> {
        RowsMut {
            z: &mut self.z,
            h: &mut self.h,
            g: &mut self.g,
            a: &mut self.a,
            b: &mut self.b,
            bs: &mut self.bs,
        }
    }
}

impl<'a, T> RowsMut<'a, T> {
    /// Rows `[0, r)` and `[r, ..)` of a layer of output width `n_out` and rank `k`.
    fn split(self, r: usize, n_out: usize, k: usize) -> (RowsMut<'a, T>, RowsMut<'a, T>) {
        let (z0, z1) = cut(self.z, r * n_out);
        let (h0, h1) = cut(self.h, r * n_out);
        let (g0, g1) = cut(self.g, r * n_out);
        let (a0, a1) = cut(self.a, r * k);
        let (b0, b1) = cut(self.b, r * k);
        let (bs0, bs1) = cut(self.bs, r * k);
        (
            RowsMut {
                z: z0,
                h: h0,
                g: g0,
                a: a0,
                b: b0,
                bs: bs0,
            },
            RowsMut {
                z: z1,
                h: h1,
                g: g1,
                a: a1,
                b: b1,
                bs: bs1,
            },
        )
    }

    /// What the next layer reads: `phi(z)`, or `z` itself for a linear layer.
    fn output(&self) -> &[T] {
        if self.h.is_empty() {
            self.z
        } else {
            self.h
        }
    }
}

impl<T> RowBufs<T> {
    /// What the next layer reads: `phi(z)`, or `z` itself for a linear layer.
    fn output(&self) -> &[T] {
        if self.h.is_empty() {
            &self.z
        } else {
            &self.h
        }
    }
}

/// Loss sum (over rows, per-row loss) and number of correct argmax predictions.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BatchOut {
    pub loss_sum: f64,
    pub correct: usize,
}

/// Minibatches of at least this many rows run in two lanes of rows (one per thread) when the pool
/// has two threads or more; smaller ones in one.
const LANE_MIN_ROWS: usize = 32;

/// How long the lane helper of [`with_lanes`] waits for a lane to run before it gives its thread
/// back to the pool: longer than the gap between two steps (the SGD update and the next
/// minibatch's gathering, well under a millisecond at the paper's widths), short enough that a
/// helper left with nothing to do costs little (see [`with_lanes`]).
const LANE_HELPER_IDLE: std::time::Duration = std::time::Duration::from_millis(5);

/// Run `f` (the steps of an epoch or an evaluation) with a lane helper on a second worker of the
/// rayon pool, when the pool has two threads or more and `f` is called on one of its workers.
///
/// Without it the second lane of each step is rarely run by the other worker: a worker with
/// nothing to do falls asleep, and waking it takes longer than the lane (about 125 us at
/// 100-200-100-50-20-2), so the first worker ran both lanes itself in 97 of 100 steps. The helper
/// is a task that keeps looking for work ([`rayon::yield_now`]) until `f` returns, so the lane
/// is taken at once. A helper that finds nothing to run for [`LANE_HELPER_IDLE`] returns: it then
/// never holds a worker that the rest of the pool needs (for instance when it ends up on the
/// thread whose steps it was to serve).
pub(crate) fn with_lanes<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    if rayon::current_num_threads() < 2 || rayon::current_thread_index().is_none() {
        return f();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        scope.spawn(|_| {
            let mut idle_since = std::time::Instant::now();
            while !done.load(Ordering::Acquire) {
                if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                    idle_since = std::time::Instant::now();
                } else if idle_since.elapsed() > LANE_HELPER_IDLE {
                    break;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let out = f();
        done.store(true, Ordering::Release);
        out
    })
}

/// What every lane of a pass shares: the whole minibatch's row count (the loss is its mean; the
/// products are cut in column blocks as the whole batch's would be) and the threads a product
/// may use.
#[derive(Clone, Copy)]
struct Pass<'p, T> {
    layers: &'p [HostLayer<T>],
    batch_rows: usize,
    threads: usize,
    loss: Loss,
    softmax_out: bool,
    grad: bool,
}

/// The training state of one network on the CPU (see the module documentation).
pub(crate) struct HostEngine<T> {
    layers: Vec<HostLayer<T>>,
    bufs: Vec<RowBufs<T>>,
    /// Rows the buffers hold.
    cap: usize,
    n_in: usize,
    softmax_out: bool,
    /// Minibatch input, `cap x n_in`.
    x: Vec<T>,
    /// The loss terms in the order they are summed: `cap x c` (`c` the output width); a
    /// cross-entropy row uses its first slot, an MSE row all `c`.
    terms: Vec<f64>,
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
        let last = net.layers().len() - 1;
        let mut layers = Vec::with_capacity(net.layers().len());
        let mut bufs = Vec::with_capacity(net.layers().len());
        for (i, l) in net.layers().iter().enumerate() {
            let layer = HostLayer::from_net(l)?;
            bufs.push(RowBufs::new(&layer, cap, i == 0, i == last));
            layers.push(layer);
        }
        if fuse {
            fuse_linear_pairs(&mut layers);
        }
        let c = layers.last().map_or(0, |l: &HostLayer<T>| l.n_out);
        Ok(HostEngine {
            layers,
            bufs,
            cap,
            n_in: net.spec().n_in,
            softmax_out: net.ends_in_softmax(),
            x: vec![T::ZERO; cap * net.spec().n_in],
            terms: vec![0.0; cap * c],
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

    /// Forward, loss and (with `lr`) backward pass and SGD step on the first `m` rows of the
    /// input buffer (`y`: MSE targets, `labels`: classes, row `r` for input row `r`).
    ///
    /// Everything but the parameter gradients is computed row by row (every product's output row
    /// depends on its input row only), so with two threads or more and at least
    /// [`LANE_MIN_ROWS`] rows the rows are cut in two lanes, one per thread, with one hand-off
    /// per step instead of one per product (the small networks' products are too short to be
    /// worth a hand-off each). The parameter gradients, sums over the rows, and the loss sum then
    /// run over all rows in their fixed order, so the lanes change no bit of the result.
    pub(crate) fn step(
        &mut self,
        m: usize,
        loss: Loss,
        y: &[T],
        labels: Option<&[u32]>,
        lr: Option<f64>,
    ) -> Result<BatchOut, NnError> {
        let threads = rayon::current_num_threads();
        let c = self.layers.last().expect("a network has a layer").n_out;
        let pass = Pass {
            layers: &self.layers,
            batch_rows: m,
            threads,
            loss,
            softmax_out: self.softmax_out,
            grad: lr.is_some(),
        };
        let views: Vec<RowsMut<'_, T>> = self.bufs.iter_mut().map(RowBufs::rows).collect();
        let x = &self.x[..m * self.n_in];
        let terms = &mut self.terms[..m * c];
        let correct = if threads > 1 && m >= LANE_MIN_ROWS {
            let half = m / 2;
            let (mut v0, mut v1): (Vec<_>, Vec<_>) = views
                .into_iter()
                .zip(pass.layers)
                .map(|(v, l)| v.split(half, l.n_out, l.kind.rank()))
                .unzip();
            let (x0, x1) = x.split_at(half * self.n_in);
            let (y0, y1) = if y.len() >= m * c {
                y.split_at(half * c)
            } else {
                (y, y)
            };
            let (l0, l1) = match labels {
                Some(l) => {
                    let (l0, l1) = l.split_at(half);
                    (Some(l0), Some(l1))
                }
                None => (None, None),
            };
            let (t0, t1) = terms.split_at_mut(half * c);
            let lane = Pass { threads: 1, ..pass };
            let (r0, r1) = rayon::join(
                || lane.rows(&mut v0, x0, half, y0, l0, t0),
                || lane.rows(&mut v1, x1, m - half, y1, l1, t1),
            );
            r0? + r1?
        } else {
            let mut views = views;
            pass.rows(&mut views, x, m, y, labels, terms)?
        };
        let terms = &self.terms[..m * c];
        let loss_sum = match loss {
            Loss::CrossEntropy => terms.iter().step_by(c).sum(),
            Loss::Mse => terms.iter().sum(),
        };
        if let Some(lr) = lr {
            self.update(m, T::of(lr), threads);
        }
        Ok(BatchOut { loss_sum, correct })
    }

    /// The SGD step after [`Pass::rows`] on `m` rows: `s <- s - lr dL/ds` with
    /// `dL/ds_j = sum_b a_bj g_b,bj` (rows in order, the first initialising), and
    /// `W^T <- W^T - lr x^T g_z` in place.
    fn update(&mut self, m: usize, lr: T, threads: usize) {
        let n = self.layers.len();
        for i in 0..n {
            let l = &mut self.layers[i];
            let (prev, rest) = self.bufs.split_at(i);
            let bf = &rest[0];
            let (n_in, n_out) = (l.n_in, l.n_out);
            match &mut l.kind {
                Kind::Usv { k, s, ds, .. } => {
                    let k = *k;
                    let (a, b) = (&bf.a, &bf.b);
                    for j in 0..k {
                        ds[j] = a[j] * b[j];
                    }
                    for r in 1..m {
                        let (ar, br) = (&a[r * k..(r + 1) * k], &b[r * k..(r + 1) * k]);
                        for j in 0..k {
                            ds[j] += ar[j] * br[j];
                        }
                    }
                    for j in 0..k {
                        s[j] -= ds[j] * lr;
                    }
                }
                Kind::Dense { wt } => {
                    let input: &[T] = match prev.last() {
                        None => &self.x,
                        Some(p) => p.output(),
                    };
                    let gz = if i + 1 == n { &bf.z } else { &bf.g };
                    mm(
                        rows_mut(wt, n_in, n_out),
                        Accum::Add,
                        rows(input, m, n_in).transpose(),
                        rows(gz, m, n_out),
                        -lr,
                        threads,
                        n_in,
                    );
                }
            }
        }
    }
}

/// The cross-entropy of one row of logits `z` with class `lab`,
/// `l = logsumexp(z) - z_lab` (max-shifted); with `inv_b = Some(1/B)`, `z` is overwritten with
/// `dl/dz / B = (softmax(z) - e_lab) / B`.
fn cross_entropy_row<T: Real>(z: &mut [T], lab: usize, inv_b: Option<T>) -> f64 {
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
    let term = (lse - z[lab]).f64();
    if let Some(inv_b) = inv_b {
        for v in z.iter_mut() {
            *v = (*v - lse).exp_() * inv_b;
        }
        z[lab] -= inv_b;
    }
    term
}

/// The squared errors of one row: `o = softmax(z)` (a softmax output) or `z` (a linear one),
/// `terms_j = (o_j - y_j)^2 / c`; with `scale = Some(2 / (B c))`, `z` is overwritten with
/// `dL/dz`: `scale (o - y)` for a linear output, through the softmax
/// `o_j (g_j - sum_i g_i o_i)` with `g = scale (o - y)`.
fn mse_row<T: Real>(z: &mut [T], y: &[T], terms: &mut [f64], softmax_out: bool, scale: Option<T>) {
    let c = z.len();
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
    let mut dot = T::ZERO;
    for ((o, &t), term) in z.iter_mut().zip(y).zip(terms.iter_mut()) {
        let d = *o - t;
        *term = d.f64() * d.f64() / c as f64;
        match scale {
            Some(scale) if softmax_out => dot += d * scale * *o,
            // dL/dz = dL/do phi'(z); o = phi(z) is only ever linear here (checked in
            // `HostEngine::supports`), so phi' = 1.
            Some(scale) => *o = d * scale,
            None => {}
        }
    }
    if let (Some(scale), true) = (scale, softmax_out) {
        for (o, &t) in z.iter_mut().zip(y) {
            let go = (*o - t) * scale;
            *o *= go - dot;
        }
    }
}

impl<T: Real> Pass<'_, T> {
    /// Forward pass, loss and (with `grad`) the backward pass down to every layer's `dL/dz` and
    /// `g_b`, on the `m` rows of one lane (`bufs`, `x`, `y`, `labels`, `terms` are that lane's
    /// rows). Returns the number of correct argmax predictions.
    fn rows(
        &self,
        bufs: &mut [RowsMut<'_, T>],
        x: &[T],
        m: usize,
        y: &[T],
        labels: Option<&[u32]>,
        terms: &mut [f64],
    ) -> Result<usize, NnError> {
        self.forward(bufs, x, m);
        let last = bufs.last_mut().expect("a network has a layer");
        let correct = self.loss(last.z, m, y, labels, terms)?;
        if self.grad {
            self.backward(bufs, m);
        }
        Ok(correct)
    }

    /// `dst = a b` on the lane's rows, cut as the whole batch's product would be.
    fn mm(&self, dst: MatMut<'_, T>, a: MatRef<'_, T>, b: MatRef<'_, T>) {
        mm(
            dst,
            Accum::Replace,
            a,
            b,
            T::ONE,
            self.threads,
            self.batch_rows,
        );
    }

    /// The forward pass; the last layer's `z` then holds its pre-activation (the logits of a
    /// softmax network).
    fn forward(&self, bufs: &mut [RowsMut<'_, T>], x: &[T], m: usize) {
        for (i, l) in self.layers.iter().enumerate() {
            let (prev, rest) = bufs.split_at_mut(i);
            let bf = &mut rest[0];
            let p = prev.last();
            let input: &[T] = match p {
                None => x,
                Some(p) => p.output(),
            };
            let xin = rows(input, m, l.n_in);
            match &l.kind {
                Kind::Usv {
                    k, v, ut, s, fused, ..
                } => {
                    let k = *k;
                    match (i.checked_sub(1).map(|j| &self.layers[j].kind), p) {
                        // a = b_prev M_prev: the previous (linear) layer fused into this one.
                        (
                            Some(Kind::Usv {
                                k: kp,
                                fused: Some((mp, _)),
                                ..
                            }),
                            Some(pb),
                        ) => self.mm(rows_mut(bf.a, m, k), rows(pb.b, m, *kp), rows(mp, *kp, k)),
                        _ => self.mm(rows_mut(bf.a, m, k), xin, rows(v, l.n_in, k)),
                    }
                    for r in 0..m {
                        let (ar, br) = (&bf.a[r * k..(r + 1) * k], &mut bf.b[r * k..(r + 1) * k]);
                        for j in 0..k {
                            br[j] = ar[j] * s[j];
                        }
                    }
                    if fused.is_some() {
                        // z = h is never formed: the next layer reads b.
                        continue;
                    }
                    self.mm(
                        rows_mut(bf.z, m, l.n_out),
                        rows(bf.b, m, k),
                        rows(ut, k, l.n_out),
                    );
                }
                Kind::Dense { wt } => {
                    self.mm(rows_mut(bf.z, m, l.n_out), xin, rows(wt, l.n_in, l.n_out));
                }
            }
            if !bf.h.is_empty() {
                let n = m * l.n_out;
                let (z, h) = (&bf.z[..n], &mut bf.h[..n]);
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

    /// The loss terms of the `m` rows of the last layer's `z` after [`Self::forward`] (into
    /// `terms`, row `r` at `r c`); with `grad`, `z` is overwritten with `dL/dz` of the whole
    /// batch's mean loss. Returns the number of correct argmax predictions.
    fn loss(
        &self,
        z_all: &mut [T],
        m: usize,
        y: &[T],
        labels: Option<&[u32]>,
        terms: &mut [f64],
    ) -> Result<usize, NnError> {
        let c = self.layers.last().expect("a network has a layer").n_out;
        let (softmax_out, grad) = (self.softmax_out, self.grad);
        let mut correct = 0;
        let inv_b = T::of(1.0 / self.batch_rows as f64);
        for r in 0..m {
            let z = &mut z_all[r * c..(r + 1) * c];
            let tr = &mut terms[r * c..(r + 1) * c];
            if let Some(lab) = labels {
                let (mut best, mut arg) = (z[0], 0);
                for (j, &v) in z.iter().enumerate().skip(1) {
                    if v > best {
                        best = v;
                        arg = j;
                    }
                }
                correct += usize::from(arg == lab[r] as usize);
            }
            match self.loss {
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
                    tr[0] = cross_entropy_row(z, lab, grad.then_some(inv_b));
                }
                Loss::Mse => {
                    let scale = T::of(2.0 / (self.batch_rows * c) as f64);
                    let yr = &y[r * c..(r + 1) * c];
                    mse_row(z, yr, tr, softmax_out, grad.then_some(scale));
                }
            }
        }
        Ok(correct)
    }

    /// The backward pass on the lane's rows: every layer's `dL/dz` (in `g`, the last layer's in
    /// `z`), a USV layer's `g_b = g_z U_k` (in `b`) and `g_b * s` (in `bs`), and every layer's
    /// `dL/dh` of its input (the previous layer's `g`, or its `b` when fused). The parameter
    /// gradients are left to [`HostEngine::update`].
    fn backward(&self, bufs: &mut [RowsMut<'_, T>], m: usize) {
        let n = self.layers.len();
        for i in (0..n).rev() {
            let l = &self.layers[i];
            let (prev, rest) = bufs.split_at_mut(i);
            let bf = &mut rest[0];
            let fused = l.kind.is_fused();
            // dL/dz = g (dL/dh) times phi'(z), in place in g; the last layer's z already holds
            // it. A fused layer has no z: the next layer wrote dL/db into its b.
            if i + 1 != n && !fused {
                let len = m * l.n_out;
                let (z, g) = (&bf.z[..len], &mut bf.g[..len]);
                match l.act {
                    Act::Relu => {
                        for (g, &z) in g.iter_mut().zip(z) {
                            *g = if z > T::ZERO { *g } else { T::ZERO };
                        }
                    }
                    Act::Hardtanh => {
                        let one = T::ONE;
                        for (g, &z) in g.iter_mut().zip(z) {
                            *g = if z > -one && z < one { *g } else { T::ZERO };
                        }
                    }
                    Act::Linear | Act::Softmax => {}
                }
            }
            let gz: &[T] = if i + 1 == n { bf.z } else { bf.g };
            let gz = rows(gz, m, l.n_out);
            let (n_in, n_out) = (l.n_in, l.n_out);
            let p = prev.last_mut();
            match &l.kind {
                Kind::Usv { k, vt, u, s, .. } => {
                    let k = *k;
                    // g_b = g_z U_k = g_z (U_k^T)^T (already in b for a fused layer).
                    if !fused {
                        self.mm(rows_mut(bf.b, m, k), gz, rows(u, n_out, k));
                    }
                    let Some(p) = p else { continue };
                    for r in 0..m {
                        let (br, bsr) = (&bf.b[r * k..(r + 1) * k], &mut bf.bs[r * k..(r + 1) * k]);
                        for j in 0..k {
                            bsr[j] = br[j] * s[j];
                        }
                    }
                    match &self.layers[i - 1].kind {
                        // dL/db_prev = (dL/da) M_prev^T into the fused previous layer.
                        Kind::Usv {
                            k: kp,
                            fused: Some((_, mpt)),
                            ..
                        } => self.mm(rows_mut(p.b, m, *kp), rows(bf.bs, m, k), rows(mpt, k, *kp)),
                        _ => self.mm(rows_mut(p.g, m, n_in), rows(bf.bs, m, k), rows(vt, k, n_in)),
                    }
                }
                Kind::Dense { wt } => {
                    if let Some(p) = p {
                        self.mm(
                            rows_mut(p.g, m, n_in),
                            gz,
                            rows(wt, n_in, n_out).transpose(),
                        );
                    }
                }
            }
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
