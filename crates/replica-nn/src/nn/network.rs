//! Networks from a compact description: widths, activations, which layers are USV.

use super::layer::{Act, Dense, LayerSpectrum, UsvLayer};
use super::NnError;
use crate::checked::{Check, Checked};
use candle_core::{DType, Device, Tensor, Var};
use faer::Mat;
use rand::Rng;

/// How a layer's weight is parameterised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// `W = U diag(s) V^T`, only `s` trained.
    Usv,
    /// An unconstrained weight matrix.
    Dense,
}

/// One layer of a [`NetworkSpec`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerSpec {
    pub n_out: usize,
    pub act: Act,
    pub kind: LayerKind,
}

/// A network: input width, then per layer its output width, activation and kind.
///
/// `NetworkSpec::parse("500-1000-500-250-100-2", "linear-relu-linear-relu-softmax")` is the paper's
/// classification network (4 USV layers and a dense softmax layer): by default every layer but the
/// last is USV and the last is dense.
///
/// The constructors ([`Self::new`], [`Self::parse`], [`Self::with_kinds`], [`Self::with_coef`])
/// apply the rules to what they build, but the fields are public: [`Network::new`] takes the
/// [`Checked<NetworkSpec>`] of [`Self::check`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkSpec {
    pub n_in: usize,
    pub layers: Vec<LayerSpec>,
    /// USV draws have entries `N(0, coef^2 / n_in)` (1).
    pub coef: f64,
}

impl NetworkSpec {
    /// From all widths (input first) and one activation per layer; every layer but the last USV,
    /// the last dense.
    pub fn new(widths: &[usize], acts: &[Act]) -> Result<Self, NnError> {
        if widths.len() < 2 {
            return Err(NnError::invalid(
                "widths",
                format!("{widths:?}"),
                "needs an input width and at least one layer",
            ));
        }
        if acts.len() != widths.len() - 1 {
            return Err(NnError::invalid(
                "activations",
                format!("{} given", acts.len()),
                format!("needs one per layer ({})", widths.len() - 1),
            ));
        }
        let n = acts.len();
        let spec = NetworkSpec {
            n_in: widths[0],
            layers: widths[1..]
                .iter()
                .zip(acts)
                .enumerate()
                .map(|(i, (&n_out, &act))| LayerSpec {
                    n_out,
                    act,
                    kind: if i + 1 < n {
                        LayerKind::Usv
                    } else {
                        LayerKind::Dense
                    },
                })
                .collect(),
            coef: 1.0,
        };
        spec.check_rules()?;
        Ok(spec)
    }

    /// From `"500-1000-500-250-100-2"` and `"linear-relu-linear-relu-softmax"` (see [`Self::new`]).
    pub fn parse(widths: &str, acts: &str) -> Result<Self, NnError> {
        let w = widths
            .split('-')
            .map(|t| {
                t.trim()
                    .parse::<usize>()
                    .map_err(|_| NnError::invalid("widths", widths, "expected e.g. 100-200-2"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let a = acts
            .split('-')
            .map(str::parse::<Act>)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(&w, &a)
    }

    /// Set the kind of every layer.
    pub fn with_kinds(mut self, kinds: &[LayerKind]) -> Result<Self, NnError> {
        if kinds.len() != self.layers.len() {
            return Err(NnError::invalid(
                "kinds",
                format!("{} given", kinds.len()),
                format!("needs one per layer ({})", self.layers.len()),
            ));
        }
        for (l, &k) in self.layers.iter_mut().zip(kinds) {
            l.kind = k;
        }
        self.check_rules()?;
        Ok(self)
    }

    /// Set the USV initial scale `coef`.
    pub fn with_coef(mut self, coef: f64) -> Result<Self, NnError> {
        self.coef = coef;
        self.check_rules()?;
        Ok(self)
    }

    /// The checked description, or the first rule it breaks.
    pub fn check(&self) -> Result<Checked<Self>, NnError> {
        Checked::new(self.clone())
    }

    /// All widths, input first.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.n_in)
            .chain(self.layers.iter().map(|l| l.n_out))
            .collect()
    }

    /// `"100-200-2 linear-softmax usv-dense"`.
    pub fn describe(&self) -> String {
        let w: Vec<String> = self.widths().iter().map(usize::to_string).collect();
        let a: Vec<&str> = self.layers.iter().map(|l| l.act.name()).collect();
        let k: Vec<&str> = self
            .layers
            .iter()
            .map(|l| match l.kind {
                LayerKind::Usv => "usv",
                LayerKind::Dense => "dense",
            })
            .collect();
        format!("{} {} {}", w.join("-"), a.join("-"), k.join("-"))
    }
}

impl Check for NetworkSpec {
    type Error = NnError;
    /// Widths >= 1, at least one layer, softmax only on the last layer and not on a USV layer,
    /// `coef` finite and > 0.
    fn check_rules(&self) -> Result<(), NnError> {
        if self.n_in == 0 || self.layers.iter().any(|l| l.n_out == 0) {
            return Err(NnError::invalid("widths", self.describe(), "must be >= 1"));
        }
        if self.layers.is_empty() {
            return Err(NnError::invalid("layers", "[]", "needs at least one layer"));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.act == Act::Softmax && i + 1 != self.layers.len() {
                return Err(NnError::invalid(
                    format!("layers[{i}].act"),
                    l.act,
                    "softmax only on the last layer",
                ));
            }
            if l.act == Act::Softmax && l.kind == LayerKind::Usv {
                return Err(NnError::invalid(
                    format!("layers[{i}].kind"),
                    "usv",
                    "a softmax layer is dense (softmax is not a replica channel)",
                ));
            }
        }
        replica_params::positive("coef".into(), self.coef)?;
        Ok(())
    }
}

/// A borrowed view of a layer's sizes, tensors and variable (for the CPU training engine).
pub(crate) enum NetLayerRef<'a> {
    Usv {
        n_in: usize,
        n_out: usize,
        act: Act,
        v_k: &'a Tensor,
        u_k_t: &'a Tensor,
        s: &'a Var,
    },
    Dense {
        n_in: usize,
        n_out: usize,
        act: Act,
        w_t: &'a Var,
    },
}

/// A built layer.
#[derive(Clone, Debug)]
pub enum NetLayer {
    Usv(UsvLayer),
    Dense(Dense),
}

impl NetLayer {
    pub fn act(&self) -> Act {
        match self {
            NetLayer::Usv(l) => l.act(),
            NetLayer::Dense(l) => l.act(),
        }
    }
    pub fn linear(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            NetLayer::Usv(l) => l.linear(x),
            NetLayer::Dense(l) => l.linear(x),
        }
    }
    pub fn var(&self) -> &Var {
        match self {
            NetLayer::Usv(l) => l.var(),
            NetLayer::Dense(l) => l.var(),
        }
    }
    /// The explicit weight (`n_out x n_in`, `f64`).
    pub fn weight(&self) -> candle_core::Result<Mat<f64>> {
        match self {
            NetLayer::Usv(l) => l.weight(),
            NetLayer::Dense(l) => l.weight(),
        }
    }
    pub(crate) fn parts(&self) -> NetLayerRef<'_> {
        match self {
            NetLayer::Usv(l) => NetLayerRef::Usv {
                n_in: l.n_in(),
                n_out: l.n_out(),
                act: l.act(),
                v_k: l.v_k(),
                u_k_t: l.u_k_t(),
                s: l.var(),
            },
            NetLayer::Dense(l) => NetLayerRef::Dense {
                n_in: l.n_in(),
                n_out: l.n_out(),
                act: l.act(),
                w_t: l.var(),
            },
        }
    }
}

/// A feed-forward network without biases.
#[derive(Clone, Debug)]
pub struct Network {
    spec: Checked<NetworkSpec>,
    layers: Vec<NetLayer>,
    dtype: DType,
    device: Device,
}

impl Network {
    /// Build the checked `spec` ([`NetworkSpec::check`]), drawing every layer's initial weight
    /// from `rng` in order (first layer first).
    pub fn new(
        spec: &Checked<NetworkSpec>,
        rng: &mut impl Rng,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, NnError> {
        let mut n_in = spec.n_in;
        let mut layers = Vec::with_capacity(spec.layers.len());
        for l in &spec.layers {
            layers.push(match l.kind {
                LayerKind::Usv => NetLayer::Usv(UsvLayer::new(
                    n_in, l.n_out, spec.coef, l.act, rng, dtype, device,
                )?),
                LayerKind::Dense => {
                    NetLayer::Dense(Dense::new(n_in, l.n_out, l.act, rng, dtype, device)?)
                }
            });
            n_in = l.n_out;
        }
        Ok(Network {
            spec: spec.clone(),
            layers,
            dtype,
            device: device.clone(),
        })
    }

    /// The description it was built from (checked: it builds another network).
    pub fn spec(&self) -> &Checked<NetworkSpec> {
        &self.spec
    }
    pub fn layers(&self) -> &[NetLayer] {
        &self.layers
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the output layer is a softmax (its [`Self::logits`] then stop before it).
    pub fn ends_in_softmax(&self) -> bool {
        self.layers.last().map(NetLayer::act) == Some(Act::Softmax)
    }

    /// The output before a final softmax (all other activations applied): the logits of a
    /// classifier, the prediction of a regression network.
    pub fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            let z = l.linear(&h)?;
            h = if i == last && l.act() == Act::Softmax {
                z
            } else {
                l.act().apply(&z)?
            };
        }
        Ok(h)
    }

    /// The output, final softmax included.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.act().apply(&l.linear(&h)?)?;
        }
        Ok(h)
    }

    /// The outputs `T_1, ..., T_L` of every layer.
    pub fn hidden(&self, x: &Tensor) -> candle_core::Result<Vec<Tensor>> {
        let mut out = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        for l in &self.layers {
            h = l.act().apply(&l.linear(&h)?)?;
            out.push(h.clone());
        }
        Ok(out)
    }

    /// Every trainable variable (one per layer).
    pub fn vars(&self) -> Vec<Var> {
        self.layers.iter().map(|l| l.var().clone()).collect()
    }

    /// The leading run of USV layers: the layers whose `H(T_l)`, `I(X; T_l)` the replica chain
    /// covers (a chain needs the spectrum of every layer before the measured one).
    pub fn usv_prefix(&self) -> Vec<&UsvLayer> {
        self.layers
            .iter()
            .map_while(|l| match l {
                NetLayer::Usv(u) => Some(u),
                NetLayer::Dense(_) => None,
            })
            .collect()
    }

    /// Spectra of the leading USV layers.
    pub fn spectra(&self) -> candle_core::Result<Vec<LayerSpectrum>> {
        self.usv_prefix().iter().map(|l| l.spectrum()).collect()
    }
}
