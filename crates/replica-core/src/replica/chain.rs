//! A validated multi-layer chain `X -> T_1 -> ... -> T_L`, `T_l = phi_l(W_l T_{l-1} + xi_l)`.

use super::channel::{Activation, Channel};
use super::error::{Field, LayerField, ReplicaError};
use super::prior::Prior;
use super::spectrum::{DiscreteSpectrum, Ensemble};

/// Slack of the rank check of a layer's spectrum: `W^T W` (`n_in x n_in`) has at most a fraction
/// `alpha` of positive eigenvalues; one eigenvalue per thousand is allowed for rounding in files.
const RANK_SLACK: f64 = 1e-3;

/// One layer: `alpha = n_l / n_{l-1}`, the noisy activation, and the spectrum of `W_l^T W_l`.
///
/// Only the checked constructors ([`Layer::new`], [`Layer::orthogonal`],
/// [`Layer::with_noise_var`]) build one; the parts are read back with [`Layer::alpha`],
/// [`Layer::channel`] and [`Layer::ensemble`].
///
/// ```compile_fail
/// use replica_core::replica::{Activation, Channel, Ensemble, Layer};
/// // the fields are private: an unchecked layer cannot be written down
/// let l = Layer {
///     alpha: -1.0,
///     channel: Channel::new(Activation::Relu, 0.1).unwrap(),
///     ensemble: Ensemble::Gaussian { var: 1.0 },
/// };
/// ```
#[derive(Clone, Debug)]
pub struct Layer {
    alpha: f64,
    channel: Channel,
    ensemble: Ensemble,
}

impl Layer {
    /// A checked layer: `alpha` finite and `> 0` ([`LayerField::Alpha`]), the channel checked by
    /// [`Channel::new`] (`slope`, `threshold`, `noise_var`), Gaussian weights of a finite variance
    /// `> 0` ([`LayerField::WeightsVar`]), and a spectrum with at most a fraction `alpha` of
    /// positive eigenvalues ([`LayerField::Spectrum`]).
    pub fn new(
        alpha: f64,
        activation: Activation,
        noise_var: f64,
        ensemble: Ensemble,
    ) -> Result<Self, ReplicaError> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(ReplicaError::invalid(
                LayerField::Alpha,
                alpha,
                "must be finite and > 0",
            ));
        }
        if let Ensemble::Gaussian { var } = ensemble {
            if !(var.is_finite() && var > 0.0) {
                return Err(ReplicaError::invalid(
                    LayerField::WeightsVar,
                    var,
                    "must be finite and > 0",
                ));
            }
        }
        if let Ensemble::Discrete(d) = &ensemble {
            // W^T W (n_in x n_in) has rank <= min(n_in, n_out): at most a fraction alpha positive.
            if d.positive_fraction() > alpha + RANK_SLACK {
                return Err(ReplicaError::invalid(
                    LayerField::Spectrum { entry: None },
                    format!("{:.4} of the eigenvalues positive", d.positive_fraction()),
                    format!("with alpha = {alpha}, W^T W has at most a fraction alpha = {alpha} of positive eigenvalues; the spectrum does not fit the layer"),
                ));
            }
        }
        Ok(Layer {
            alpha,
            channel: Channel::new(activation, noise_var)?,
            ensemble,
        })
    }

    /// Orthogonal weights for this `alpha`.
    pub fn orthogonal(
        alpha: f64,
        activation: Activation,
        noise_var: f64,
    ) -> Result<Self, ReplicaError> {
        Layer::new(
            alpha,
            activation,
            noise_var,
            Ensemble::Discrete(DiscreteSpectrum::orthogonal(alpha)),
        )
    }

    /// `alpha = n_l / n_{l-1}`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The noisy activation.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The spectrum of `W_l^T W_l`.
    pub fn ensemble(&self) -> &Ensemble {
        &self.ensemble
    }

    /// The same layer with the noise variance `noise_var`, checked as by [`Channel::new`].
    pub fn with_noise_var(&self, noise_var: f64) -> Result<Self, ReplicaError> {
        Ok(Layer {
            alpha: self.alpha,
            channel: self.channel.with_noise_var(noise_var)?,
            ensemble: self.ensemble.clone(),
        })
    }
}

/// A prior and a list of layers, validated.
#[derive(Clone, Debug)]
pub struct Chain {
    prior: Prior,
    layers: Vec<Layer>,
    /// `rho_{l}` = E T_l^2 for l = 0..L (index 0: the input).
    rho: Vec<f64>,
    /// `rho~_l` = E z_l^2, l = 1..L (index l-1).
    rho_z: Vec<f64>,
}

impl Chain {
    /// Validate and build. The last layer needs a positive noise (the output is measured).
    pub fn new(prior: Prior, layers: Vec<Layer>) -> Result<Self, ReplicaError> {
        if layers.is_empty() {
            return Err(ReplicaError::InvalidChain(
                "a chain needs at least one layer".into(),
            ));
        }
        let last = layers.last().unwrap();
        if last.channel.noise_var() <= 0.0 {
            return Err(ReplicaError::invalid(
                Field::Layer {
                    index: Some(layers.len() - 1),
                    field: LayerField::NoiseVar,
                },
                last.channel.noise_var(),
                "the output layer needs noise_var > 0 (its entropy is infinite otherwise)",
            ));
        }
        let mut rho = vec![prior.rho()];
        let mut rho_z = Vec::with_capacity(layers.len());
        for l in &layers {
            let rz = l.ensemble.mean(l.alpha) * rho.last().unwrap() / l.alpha;
            rho_z.push(rz);
            rho.push(l.channel.rho_out(rz));
        }
        Ok(Chain {
            prior,
            layers,
            rho,
            rho_z,
        })
    }

    pub fn prior(&self) -> &Prior {
        &self.prior
    }
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
    /// `rho_l = E T_l^2`, `l = 0..L`.
    pub fn rho(&self, l: usize) -> f64 {
        self.rho[l]
    }
    /// `rho~_l = E z_l^2` of layer index `l` (0-based).
    pub fn rho_z(&self, l: usize) -> f64 {
        self.rho_z[l]
    }
    /// `alpha~_l = n_l / n_0`, `l = 0..L`.
    pub fn alpha_tilde(&self, l: usize) -> f64 {
        self.layers[..l].iter().map(|x| x.alpha).product()
    }

    /// Whether every layer before the last is noiseless (then `X -> T_{L-1}` is deterministic and
    /// `H(T_L) - H(T_L | T_{L-1}) = I(X; T_L)`).
    pub fn inner_noiseless(&self) -> bool {
        self.layers[..self.layers.len() - 1]
            .iter()
            .all(|l| l.channel.noise_var() == 0.0)
    }

    /// The chain cut after layer `l` (1-based, `1 <= l <= L`), with the measured layer `l` given the
    /// noise `measurement_noise` and the layers before it unchanged.
    pub fn truncated(&self, l: usize, measurement_noise: f64) -> Result<Chain, ReplicaError> {
        if l == 0 || l > self.layers.len() {
            return Err(ReplicaError::InvalidChain(format!(
                "cannot truncate a {}-layer chain after layer {l}",
                self.layers.len()
            )));
        }
        let mut layers = self.layers[..l].to_vec();
        let last = layers.last_mut().unwrap();
        *last = last.with_noise_var(measurement_noise)?;
        Chain::new(self.prior, layers)
    }
}
