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
        replica_params::positive(Field::from(LayerField::Alpha), alpha)?;
        if let Ensemble::Gaussian { var } = ensemble {
            replica_params::positive(Field::from(LayerField::WeightsVar), var)?;
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
    /// `alpha~_l` = n_l / n_0 for l = 0..L, the running product of the alphas (the same
    /// left-to-right product as before, stored so that a read is O(1) on deep chains).
    alpha_tilde: Vec<f64>,
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
        let mut alpha_tilde = Vec::with_capacity(layers.len() + 1);
        alpha_tilde.push(1.0);
        for l in &layers {
            alpha_tilde.push(alpha_tilde.last().unwrap() * l.alpha);
        }
        Ok(Chain {
            prior,
            layers,
            rho,
            rho_z,
            alpha_tilde,
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
    /// The noise variance of the output (last) layer, with which every truncation is measured.
    pub fn output_noise_var(&self) -> f64 {
        self.layers
            .last()
            .map_or(f64::NAN, |l| l.channel().noise_var())
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
        self.alpha_tilde[l]
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

#[cfg(test)]
mod tests {
    //! Every invalid input of the checked constructors is refused, naming the right field; the
    //! valid ones read back unchanged. (Struct literals of `Layer`, `Channel` and `Prior` do not
    //! compile outside their modules: see the `compile_fail` examples on the types.)

    use super::*;
    use crate::replica::prior::PriorParams;

    /// The field of an `InvalidParameter` error, `None` for any other outcome.
    fn field_of<T: std::fmt::Debug>(r: &Result<T, ReplicaError>) -> Option<Field> {
        match r {
            Err(ReplicaError::InvalidParameter(e)) => Some(e.field.clone()),
            _ => None,
        }
    }

    fn gaussian_weights() -> Ensemble {
        Ensemble::Gaussian { var: 1.0 }
    }

    #[test]
    fn invalid_layers_are_refused_with_their_field() {
        let relu = Activation::Relu;
        let cases: Vec<(&str, f64, Activation, f64, Ensemble, LayerField)> = vec![
            (
                "alpha 0",
                0.0,
                relu,
                0.1,
                gaussian_weights(),
                LayerField::Alpha,
            ),
            (
                "alpha < 0",
                -1.0,
                relu,
                0.1,
                gaussian_weights(),
                LayerField::Alpha,
            ),
            (
                "alpha NaN",
                f64::NAN,
                relu,
                0.1,
                gaussian_weights(),
                LayerField::Alpha,
            ),
            (
                "alpha inf",
                f64::INFINITY,
                relu,
                0.1,
                gaussian_weights(),
                LayerField::Alpha,
            ),
            (
                "noise < 0",
                1.0,
                relu,
                -1e-3,
                gaussian_weights(),
                LayerField::NoiseVar,
            ),
            (
                "noise NaN",
                1.0,
                relu,
                f64::NAN,
                gaussian_weights(),
                LayerField::NoiseVar,
            ),
            (
                "noise inf",
                1.0,
                relu,
                f64::INFINITY,
                gaussian_weights(),
                LayerField::NoiseVar,
            ),
            (
                "slope < 0",
                1.0,
                Activation::LeakyRelu { slope: -0.1 },
                0.1,
                gaussian_weights(),
                LayerField::Slope,
            ),
            (
                "slope > 1",
                1.0,
                Activation::LeakyRelu { slope: 1.5 },
                0.1,
                gaussian_weights(),
                LayerField::Slope,
            ),
            (
                "slope NaN",
                1.0,
                Activation::LeakyRelu { slope: f64::NAN },
                0.1,
                gaussian_weights(),
                LayerField::Slope,
            ),
            (
                "threshold 0",
                1.0,
                Activation::Hardtanh { threshold: 0.0 },
                0.1,
                gaussian_weights(),
                LayerField::Threshold,
            ),
            (
                "threshold < 0",
                1.0,
                Activation::Hardtanh { threshold: -1.0 },
                0.1,
                gaussian_weights(),
                LayerField::Threshold,
            ),
            (
                "threshold inf",
                1.0,
                Activation::Hardtanh {
                    threshold: f64::INFINITY,
                },
                0.1,
                gaussian_weights(),
                LayerField::Threshold,
            ),
            (
                "weights var 0",
                1.0,
                relu,
                0.1,
                Ensemble::Gaussian { var: 0.0 },
                LayerField::WeightsVar,
            ),
            (
                "weights var NaN",
                1.0,
                relu,
                0.1,
                Ensemble::Gaussian { var: f64::NAN },
                LayerField::WeightsVar,
            ),
            (
                "weights var inf",
                1.0,
                relu,
                0.1,
                Ensemble::Gaussian { var: f64::INFINITY },
                LayerField::WeightsVar,
            ),
            (
                "spectrum of rank 1 for alpha 1/2",
                0.5,
                relu,
                0.1,
                Ensemble::Discrete(DiscreteSpectrum::orthogonal(1.0)),
                LayerField::Spectrum { entry: None },
            ),
        ];
        for (what, alpha, activation, noise_var, ensemble, field) in cases {
            let params = format!(
                "{what}: alpha = {alpha}, activation = {activation:?}, noise_var = {noise_var}, \
                 ensemble = {ensemble:?}"
            );
            let r = Layer::new(alpha, activation, noise_var, ensemble);
            assert_eq!(field_of(&r), Some(field.into()), "{params}: got {r:?}");
            // the channel alone refuses its own fields the same way
            if matches!(
                field,
                LayerField::NoiseVar | LayerField::Slope | LayerField::Threshold
            ) {
                let c = Channel::new(activation, noise_var);
                assert_eq!(field_of(&c), Some(field.into()), "{params}: got {c:?}");
            }
        }
    }

    #[test]
    fn invalid_priors_are_refused_with_their_field() {
        let cases: Vec<(PriorParams, &'static str)> = vec![
            (
                PriorParams::Gaussian {
                    mean: f64::NAN,
                    var: 1.0,
                },
                "mean",
            ),
            (
                PriorParams::Gaussian {
                    mean: f64::INFINITY,
                    var: 1.0,
                },
                "mean",
            ),
            (
                PriorParams::Gaussian {
                    mean: 0.0,
                    var: 0.0,
                },
                "var",
            ),
            (
                PriorParams::Gaussian {
                    mean: 0.0,
                    var: -1.0,
                },
                "var",
            ),
            (
                PriorParams::Gaussian {
                    mean: 0.0,
                    var: f64::NAN,
                },
                "var",
            ),
            (
                PriorParams::Gaussian {
                    mean: 0.0,
                    var: f64::INFINITY,
                },
                "var",
            ),
            (PriorParams::Binary { p: 0.0 }, "p"),
            (PriorParams::Binary { p: 1.0 }, "p"),
            (PriorParams::Binary { p: -0.5 }, "p"),
            (PriorParams::Binary { p: f64::NAN }, "p"),
            (
                PriorParams::GaussBernoulli {
                    p: 0.0,
                    mean: 0.0,
                    var: 1.0,
                },
                "p",
            ),
            (
                PriorParams::GaussBernoulli {
                    p: 1.5,
                    mean: 0.0,
                    var: 1.0,
                },
                "p",
            ),
            (
                PriorParams::GaussBernoulli {
                    p: f64::NAN,
                    mean: 0.0,
                    var: 1.0,
                },
                "p",
            ),
            (
                PriorParams::GaussBernoulli {
                    p: 0.5,
                    mean: f64::NAN,
                    var: 1.0,
                },
                "mean",
            ),
            (
                PriorParams::GaussBernoulli {
                    p: 0.5,
                    mean: 0.0,
                    var: 0.0,
                },
                "var",
            ),
            (
                PriorParams::GaussBernoulli {
                    p: 0.5,
                    mean: 0.0,
                    var: f64::INFINITY,
                },
                "var",
            ),
        ];
        for (params, name) in cases {
            let r = params.check();
            assert_eq!(
                field_of(&r),
                Some(Field::Prior(name)),
                "{params:?}: got {r:?}"
            );
            // the named constructors are the same check
            let named = match params {
                PriorParams::Gaussian { mean, var } => Prior::gaussian(mean, var),
                PriorParams::Binary { p } => Prior::binary(p),
                PriorParams::GaussBernoulli { p, mean, var } => {
                    Prior::gauss_bernoulli(p, mean, var)
                }
            };
            assert_eq!(named, r, "{params:?}");
        }
    }

    #[test]
    fn valid_values_read_back_unchanged() {
        for params in [
            PriorParams::Gaussian {
                mean: -0.5,
                var: 2.0,
            },
            PriorParams::Binary { p: 0.3 },
            PriorParams::GaussBernoulli {
                p: 1.0,
                mean: 0.1,
                var: 0.5,
            },
        ] {
            let prior = params.check().unwrap_or_else(|e| panic!("{params:?}: {e}"));
            assert_eq!(prior.params(), params);
        }
        let act = Activation::LeakyRelu { slope: 0.25 };
        let layer = Layer::new(0.5, act, 1e-3, gaussian_weights()).unwrap();
        assert_eq!(layer.alpha().to_bits(), 0.5f64.to_bits());
        assert_eq!(layer.channel().activation(), act);
        assert_eq!(layer.channel().noise_var().to_bits(), 1e-3f64.to_bits());
        assert_eq!(layer.ensemble(), &gaussian_weights());
        let moved = layer.with_noise_var(0.0).unwrap();
        assert_eq!(moved.channel().noise_var().to_bits(), 0.0f64.to_bits());
        assert_eq!(moved.alpha().to_bits(), 0.5f64.to_bits());
    }

    #[test]
    fn derived_layers_and_chains_are_checked_too() {
        let layer = Layer::new(1.0, Activation::Relu, 0.1, gaussian_weights()).unwrap();
        for noise in [-1.0, f64::NAN, f64::INFINITY] {
            let r = layer.with_noise_var(noise);
            assert_eq!(
                field_of(&r),
                Some(LayerField::NoiseVar.into()),
                "with_noise_var({noise}): got {r:?}"
            );
            let c = layer.channel().with_noise_var(noise);
            assert_eq!(field_of(&c), Some(LayerField::NoiseVar.into()), "{noise}");
        }
        let prior = Prior::gaussian(0.0, 1.0).unwrap();
        let chain = Chain::new(prior, vec![layer.clone(), layer.clone()]).unwrap();
        // a noise of 0 passes the channel's check and fails the chain's (output layer 0); a
        // negative or NaN noise fails the channel's check (no index known there)
        let output_noise = Field::Layer {
            index: Some(0),
            field: LayerField::NoiseVar,
        };
        for (noise, field) in [
            (0.0, output_noise),
            (-1.0, LayerField::NoiseVar.into()),
            (f64::NAN, LayerField::NoiseVar.into()),
        ] {
            let r = chain.truncated(1, noise);
            assert_eq!(
                field_of(&r),
                Some(field),
                "truncated(1, {noise}): got {r:?}"
            );
        }
        let noiseless = layer.with_noise_var(0.0).unwrap();
        let r = Chain::new(prior, vec![layer, noiseless]);
        assert_eq!(
            field_of(&r),
            Some(Field::Layer {
                index: Some(1),
                field: LayerField::NoiseVar
            }),
            "noiseless output layer: got {r:?}"
        );
        assert!(matches!(
            Chain::new(prior, vec![]),
            Err(ReplicaError::InvalidChain(_))
        ));
    }
}
