//! A seeded generator of valid random chains over the whole space a spec file accepts, to test the
//! estimator the way a new user would use it (random valid networks, not hand-picked ones).
//!
//! Chain `i` of a generator is drawn from its own ChaCha8 stream (`seed`, stream `i`), so chain `i`
//! is the same whatever order, thread or subset the chains are drawn in. Each drawn chain carries a
//! typed [`ChainDescription`] that builds it ([`ChainGenerator::build`]) and prints as a spec file
//! ([`ChainGenerator::to_toml`]) that the CLI reads back into the same chain.
//!
//! What is drawn (every range is a field of [`GeneratorParams`]):
//! * `min_layers..=max_layers` layers, uniformly;
//! * the prior, uniformly among Gaussian (`mean` 0 or uniform in `[-1, 1]`, `var` log-uniform),
//!   binary (`p` uniform in `[0.05, 0.95]`) and Gauss-Bernoulli (`p` uniform in `[0.05, 1]`,
//!   mean and var as the Gaussian's);
//! * per layer: the activation uniformly among linear, ReLU, leaky ReLU (slope uniform in
//!   `[0, 1]`), hardtanh (threshold log-uniform) and sign; `alpha` log-uniform; the weights
//!   uniformly among Gaussian (variance log-uniform), orthogonal and (when spectra are given) an
//!   empirical spectrum, chosen uniformly, times a log-uniform scale. A spectrum with a fraction
//!   `f` of positive eigenvalues needs `alpha >= f`: its `alpha` is drawn log-uniformly in
//!   `[max(alpha_lo, f), alpha_hi]`;
//! * inner layers noiseless with probability `p_noiseless_inner`, else noise log-uniform; the
//!   output noise log-uniform.
//!
//! The generator does no I/O: spectra come in as [`NamedSpectrum`]s (read them with
//! [`crate::spec::read_spectrum_file`]).

use crate::replica::error::{Field, LayerField};
use crate::replica::{
    Activation, Chain, DiscreteSpectrum, Ensemble, Layer, PriorParams, ReplicaError,
};
use crate::spec::{LayerDoc, PriorDoc, SpecDoc, WeightsDoc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

/// An empirical spectrum of `W^T W` offered to the generator.
#[derive(Clone, Debug)]
pub struct NamedSpectrum {
    /// The file it was read from, written as the `weights.file` of the printed spec (give an
    /// absolute path for a spec that runs from anywhere).
    pub file: PathBuf,
    /// The eigenvalues (all of them, zeros included).
    pub eigenvalues: Vec<f64>,
}

/// A closed range `[lo, hi]`, drawn log-uniformly (`0 < lo <= hi`) or uniformly.
pub type Range = (f64, f64);

/// The unchecked settings of a generator ([`GeneratorParams::check`] validates them).
#[derive(Clone, Debug, serde::Serialize)]
pub struct GeneratorParams {
    /// Seed of every stream.
    pub seed: u64,
    /// Layers per chain: uniform in `1..=max_layers` (`1..=8`).
    pub max_layers: usize,
    /// `alpha = n_l / n_{l-1}`, log-uniform.
    pub alpha: Range,
    /// Variance of Gaussian weights (entry variance times `n_{l-1}`), log-uniform.
    pub gaussian_var: Range,
    /// Scale multiplying an empirical spectrum, log-uniform.
    pub spectrum_scale: Range,
    /// Noise variance of the output layer, log-uniform.
    pub output_noise: Range,
    /// Noise variance of a noisy inner layer, log-uniform.
    pub inner_noise: Range,
    /// Probability that an inner layer is noiseless.
    pub p_noiseless_inner: f64,
    /// Prior variance (Gaussian and Gauss-Bernoulli), log-uniform.
    pub prior_var: Range,
    /// Hardtanh threshold, log-uniform.
    pub threshold: Range,
    /// Fewest layers per chain (`1..=max_layers`; 1 by default).
    pub min_layers: usize,
    /// When set, the binary prior's `p` (and the Gauss-Bernoulli's) is `g` or `1 - g` with `g`
    /// log-uniform in this range (priors near certainty); otherwise uniform as above.
    pub prior_p_gap: Option<Range>,
    /// When set, a leaky ReLU's slope is `g` or `1 - g` with `g` log-uniform in this range
    /// (slopes near 0 and near 1); otherwise uniform in `[0, 1]`.
    pub slope_gap: Option<Range>,
}

/// Most layers a generated chain may have.
pub const MAX_GENERATED_LAYERS: usize = 10;

impl Default for GeneratorParams {
    fn default() -> Self {
        GeneratorParams {
            seed: 0,
            max_layers: 4,
            alpha: (0.2, 3.0),
            gaussian_var: (0.05, 20.0),
            spectrum_scale: (0.05, 20.0),
            output_noise: (1e-6, 1.0),
            inner_noise: (1e-6, 1.0),
            p_noiseless_inner: 0.5,
            prior_var: (0.2, 5.0),
            threshold: (0.2, 5.0),
            min_layers: 1,
            prior_p_gap: None,
            slope_gap: None,
        }
    }
}

impl GeneratorParams {
    /// The generator of extremes: 5 to 10 layers, `alpha` in `[0.02, 50]`, every noise in
    /// `[1e-12, 10]` (a third of the inner layers noiseless), weight variances and spectrum scales
    /// in `[1e-3, 1e3]`, hardtanh thresholds in `[1e-3, 1e3]`, prior variances in `[1e-3, 1e3]`,
    /// binary and Gauss-Bernoulli `p` within `[1e-4, 0.1]` of 0 or 1, leaky-ReLU slopes within
    /// `[1e-4, 0.1]` of 0 or 1. Offer it [`extreme_spectra`].
    pub fn extreme(seed: u64) -> Self {
        GeneratorParams {
            seed,
            max_layers: MAX_GENERATED_LAYERS,
            alpha: (0.02, 50.0),
            gaussian_var: (1e-3, 1e3),
            spectrum_scale: (1e-3, 1e3),
            output_noise: (1e-12, 10.0),
            inner_noise: (1e-12, 10.0),
            p_noiseless_inner: 1.0 / 3.0,
            prior_var: (1e-3, 1e3),
            threshold: (1e-3, 1e3),
            min_layers: 5,
            prior_p_gap: Some((1e-4, 0.1)),
            slope_gap: Some((1e-4, 0.1)),
        }
    }
}

/// Spectra of `W^T W` generated in code for the generator of extremes (name, eigenvalues, 400
/// each, mean 1 before the layer's scale): Marchenko-Pastur of aspect 0.25 and 1 (quantiles of the
/// law), power laws of condition number 1e6 and 1e12 (geometric), half of the eigenvalues zero
/// (the rest 2), and one spike (one eigenvalue 400 times the others).
pub fn extreme_spectra() -> Vec<(String, Vec<f64>)> {
    let n = 400;
    let normalise = |mut v: Vec<f64>| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter_mut().for_each(|x| *x /= m);
        v
    };
    let mp = |c: f64| {
        // quantiles of the Marchenko-Pastur law of ratio c <= 1 (support [(1-sqrt c)^2,
        // (1+sqrt c)^2], unit mean): its CDF tabulated on a fine grid and inverted
        let (a, b) = ((1.0 - c.sqrt()).powi(2), (1.0 + c.sqrt()).powi(2));
        let m = 100_000;
        let dens =
            |x: f64| ((b - x) * (x - a)).max(0.0).sqrt() / (2.0 * std::f64::consts::PI * c * x);
        let mut cdf = Vec::with_capacity(m + 1);
        let mut acc = 0.0;
        cdf.push(0.0);
        for k in 0..m {
            let x = a + (k as f64 + 0.5) * (b - a) / m as f64;
            acc += dens(x) * (b - a) / m as f64;
            cdf.push(acc);
        }
        let total = acc;
        (0..n)
            .map(|j| {
                let target = (j as f64 + 0.5) / n as f64 * total;
                let k = cdf.partition_point(|&v| v < target).clamp(1, m);
                a + k as f64 * (b - a) / m as f64
            })
            .collect::<Vec<f64>>()
    };
    let power = |cond: f64| {
        (0..n)
            .map(|k| cond.powf(-(k as f64) / (n - 1) as f64))
            .collect::<Vec<f64>>()
    };
    let half_zero: Vec<f64> = (0..n).map(|k| if k % 2 == 0 { 0.0 } else { 2.0 }).collect();
    let spike: Vec<f64> = (0..n).map(|k| if k == 0 { 400.0 } else { 1.0 }).collect();
    vec![
        ("marchenko-pastur-0.25".into(), normalise(mp(0.25))),
        ("marchenko-pastur-1".into(), normalise(mp(1.0))),
        ("power-law-1e6".into(), normalise(power(1e6))),
        ("power-law-1e12".into(), normalise(power(1e12))),
        ("half-zero".into(), normalise(half_zero)),
        ("one-spike".into(), normalise(spike)),
    ]
}

impl GeneratorParams {
    /// Validate the settings and the offered spectra into a generator. Every log-uniform range
    /// needs `0 < lo <= hi < inf`; `max_layers` in `1..=10`, `min_layers` in `1..=max_layers`; the
    /// gap ranges within `(0, 0.5]`; `p_noiseless_inner` in `[0, 1]`;
    /// every spectrum a valid one (finite, `>= 0`, one positive value) with a positive fraction
    /// below `alpha.1`.
    pub fn check(self, spectra: Vec<NamedSpectrum>) -> Result<ChainGenerator, ReplicaError> {
        let ranges = [
            ("alpha", self.alpha),
            ("gaussian_var", self.gaussian_var),
            ("spectrum_scale", self.spectrum_scale),
            ("output_noise", self.output_noise),
            ("inner_noise", self.inner_noise),
            ("prior_var", self.prior_var),
            ("threshold", self.threshold),
        ];
        for (name, (lo, hi)) in ranges {
            if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
                return Err(ReplicaError::invalid(
                    Field::Setting(format!("generator.{name}")),
                    format!("[{lo}, {hi}]"),
                    "a log-uniform range needs 0 < lo <= hi < inf",
                ));
            }
        }
        if !(1..=MAX_GENERATED_LAYERS).contains(&self.max_layers) {
            return Err(ReplicaError::invalid(
                Field::Setting("generator.max_layers".into()),
                self.max_layers,
                format!("must lie in 1..={MAX_GENERATED_LAYERS}"),
            ));
        }
        if !(1..=self.max_layers).contains(&self.min_layers) {
            return Err(ReplicaError::invalid(
                Field::Setting("generator.min_layers".into()),
                self.min_layers,
                "must lie in 1..=max_layers",
            ));
        }
        for (name, gap) in [
            ("prior_p_gap", self.prior_p_gap),
            ("slope_gap", self.slope_gap),
        ] {
            if let Some((lo, hi)) = gap {
                if !(lo.is_finite() && lo > 0.0 && lo <= hi && hi <= 0.5) {
                    return Err(ReplicaError::invalid(
                        Field::Setting(format!("generator.{name}")),
                        format!("[{lo}, {hi}]"),
                        "a gap range needs 0 < lo <= hi <= 0.5",
                    ));
                }
            }
        }
        if !(0.0..=1.0).contains(&self.p_noiseless_inner) {
            return Err(ReplicaError::invalid(
                Field::Setting("generator.p_noiseless_inner".into()),
                self.p_noiseless_inner,
                "must lie in [0, 1]",
            ));
        }
        let mut checked = Vec::with_capacity(spectra.len());
        for (k, s) in spectra.into_iter().enumerate() {
            // the smallest scale gives the same zero cut (relative) and positive fraction
            let d = DiscreteSpectrum::from_eigenvalues(&s.eigenvalues, 1.0).map_err(|e| {
                ReplicaError::invalid(
                    Field::Setting(format!("generator.spectra[{k}]")),
                    s.file.display(),
                    e.to_string(),
                )
            })?;
            let f = d.positive_fraction();
            if f > self.alpha.1 {
                return Err(ReplicaError::invalid(
                    Field::Setting(format!("generator.spectra[{k}]")),
                    s.file.display(),
                    format!(
                        "a fraction {f} of positive eigenvalues needs alpha >= {f}, above the range's {}",
                        self.alpha.1
                    ),
                ));
            }
            checked.push((s, f));
        }
        Ok(ChainGenerator {
            params: self,
            spectra: checked,
        })
    }
}

/// A validated generator.
#[derive(Clone, Debug)]
pub struct ChainGenerator {
    params: GeneratorParams,
    /// Each spectrum with its fraction of positive eigenvalues.
    spectra: Vec<(NamedSpectrum, f64)>,
}

/// The weights of a drawn layer.
#[derive(Clone, Debug, PartialEq)]
pub enum WeightsDescription {
    /// I.i.d. Gaussian entries of variance `var / n_{l-1}`.
    Gaussian { var: f64 },
    /// Orthogonal weights.
    Orthogonal,
    /// Empirical spectrum number `index` of the generator, times `scale`.
    Spectrum { index: usize, scale: f64 },
}

/// One drawn layer, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerDescription {
    pub alpha: f64,
    pub activation: Activation,
    pub noise_var: f64,
    pub weights: WeightsDescription,
}

/// A drawn chain, typed: what [`ChainGenerator::build`] turns into a [`Chain`] and
/// [`ChainGenerator::to_toml`] into a spec file.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainDescription {
    /// The prior's parameters, checked by [`ChainGenerator::build`].
    pub prior: PriorParams,
    pub layers: Vec<LayerDescription>,
}

/// One drawn chain: its number in the generator's sequence, its description and the chain.
#[derive(Clone, Debug)]
pub struct DrawnChain {
    pub index: u64,
    pub description: ChainDescription,
    pub chain: Chain,
}

fn log_uniform(rng: &mut ChaCha8Rng, (lo, hi): Range) -> f64 {
    if lo >= hi {
        return lo;
    }
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

fn uniform(rng: &mut ChaCha8Rng, (lo, hi): Range) -> f64 {
    lo + rng.random::<f64>() * (hi - lo)
}

impl ChainGenerator {
    /// The settings.
    pub fn params(&self) -> &GeneratorParams {
        &self.params
    }

    /// The offered spectra.
    pub fn spectra(&self) -> impl Iterator<Item = &NamedSpectrum> {
        self.spectra.iter().map(|(s, _)| s)
    }

    /// The description of chain `index` (deterministic in `(seed, index)`).
    pub fn describe(&self, index: u64) -> ChainDescription {
        let p = &self.params;
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        rng.set_stream(index);
        let n_layers = rng.random_range(p.min_layers..=p.max_layers);
        // a value near 0 or near 1: the gap log-uniform, the side a fair coin
        let near_edge = |rng: &mut ChaCha8Rng, gap: Range| {
            let g = log_uniform(rng, gap);
            if rng.random_bool(0.5) {
                g
            } else {
                1.0 - g
            }
        };
        let mean = |rng: &mut ChaCha8Rng| {
            if rng.random_bool(0.5) {
                0.0
            } else {
                uniform(rng, (-1.0, 1.0))
            }
        };
        let prior = match rng.random_range(0..3) {
            0 => PriorParams::Gaussian {
                mean: mean(&mut rng),
                var: log_uniform(&mut rng, p.prior_var),
            },
            1 => PriorParams::Binary {
                p: match p.prior_p_gap {
                    Some(gap) => near_edge(&mut rng, gap),
                    None => uniform(&mut rng, (0.05, 0.95)),
                },
            },
            _ => PriorParams::GaussBernoulli {
                p: match p.prior_p_gap {
                    Some(gap) => near_edge(&mut rng, gap),
                    None => uniform(&mut rng, (0.05, 1.0)),
                },
                mean: mean(&mut rng),
                var: log_uniform(&mut rng, p.prior_var),
            },
        };
        let n_weight_kinds = if self.spectra.is_empty() { 2 } else { 3 };
        let layers = (0..n_layers)
            .map(|l| {
                let activation = match rng.random_range(0..5) {
                    0 => Activation::Linear,
                    1 => Activation::Relu,
                    2 => Activation::LeakyRelu {
                        slope: match p.slope_gap {
                            Some(gap) => near_edge(&mut rng, gap),
                            None => rng.random::<f64>(),
                        },
                    },
                    3 => Activation::Hardtanh {
                        threshold: log_uniform(&mut rng, p.threshold),
                    },
                    _ => Activation::Sign,
                };
                let (weights, alpha) = match rng.random_range(0..n_weight_kinds) {
                    0 => (
                        WeightsDescription::Gaussian {
                            var: log_uniform(&mut rng, p.gaussian_var),
                        },
                        log_uniform(&mut rng, p.alpha),
                    ),
                    1 => (
                        WeightsDescription::Orthogonal,
                        log_uniform(&mut rng, p.alpha),
                    ),
                    _ => {
                        let index = rng.random_range(0..self.spectra.len());
                        let f = self.spectra[index].1;
                        let scale = log_uniform(&mut rng, p.spectrum_scale);
                        let alpha = log_uniform(&mut rng, (p.alpha.0.max(f), p.alpha.1));
                        (WeightsDescription::Spectrum { index, scale }, alpha)
                    }
                };
                let noise_var = if l + 1 == n_layers {
                    log_uniform(&mut rng, p.output_noise)
                } else if rng.random_bool(p.p_noiseless_inner) {
                    0.0
                } else {
                    log_uniform(&mut rng, p.inner_noise)
                };
                LayerDescription {
                    alpha,
                    activation,
                    noise_var,
                    weights,
                }
            })
            .collect();
        ChainDescription { prior, layers }
    }

    /// Chain `index`: its description and the checked chain. Every drawn description is valid;
    /// the `Result` carries the constructors' own checks.
    pub fn draw(&self, index: u64) -> Result<DrawnChain, ReplicaError> {
        let description = self.describe(index);
        let chain = self.build(&description)?;
        Ok(DrawnChain {
            index,
            description,
            chain,
        })
    }

    /// Build the chain of a description (possibly edited after drawing) with the checked
    /// constructors.
    pub fn build(&self, d: &ChainDescription) -> Result<Chain, ReplicaError> {
        let layers = d
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let ensemble = match l.weights {
                    WeightsDescription::Gaussian { var } => Ensemble::Gaussian { var },
                    WeightsDescription::Orthogonal => {
                        Ensemble::Discrete(DiscreteSpectrum::orthogonal(l.alpha))
                    }
                    WeightsDescription::Spectrum { index, scale } => {
                        let (s, _) = self.spectra.get(index).ok_or_else(|| {
                            ReplicaError::invalid(
                                Field::Layer {
                                    index: Some(i),
                                    field: LayerField::Spectrum { entry: None },
                                },
                                index,
                                format!("the generator has {} spectra", self.spectra.len()),
                            )
                        })?;
                        Ensemble::Discrete(DiscreteSpectrum::from_eigenvalues(
                            &s.eigenvalues,
                            scale,
                        )?)
                    }
                };
                Layer::new(l.alpha, l.activation, l.noise_var, ensemble)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Chain::new(d.prior.check()?, layers)
    }

    /// The description as a spec document (spectra by their file).
    pub fn to_spec(&self, d: &ChainDescription) -> SpecDoc {
        let prior = match d.prior {
            PriorParams::Gaussian { mean, var } => PriorDoc {
                kind: "gaussian".into(),
                mean: Some(mean),
                var: Some(var),
                p: None,
            },
            PriorParams::Binary { p } => PriorDoc {
                kind: "binary".into(),
                mean: None,
                var: None,
                p: Some(p),
            },
            PriorParams::GaussBernoulli { p, mean, var } => PriorDoc {
                kind: "gauss-bernoulli".into(),
                mean: Some(mean),
                var: Some(var),
                p: Some(p),
            },
        };
        let layers = d
            .layers
            .iter()
            .map(|l| {
                let (slope, threshold) = match l.activation {
                    Activation::LeakyRelu { slope } => (Some(slope), None),
                    Activation::Hardtanh { threshold } => (None, Some(threshold)),
                    Activation::Linear | Activation::Relu | Activation::Sign => (None, None),
                };
                let weights = match l.weights {
                    WeightsDescription::Gaussian { var } => WeightsDoc {
                        kind: "gaussian".into(),
                        var: Some(var),
                        file: None,
                        scale: None,
                        tensor: None,
                    },
                    WeightsDescription::Orthogonal => WeightsDoc {
                        kind: "orthogonal".into(),
                        var: None,
                        file: None,
                        scale: None,
                        tensor: None,
                    },
                    WeightsDescription::Spectrum { index, scale } => WeightsDoc {
                        kind: "spectrum".into(),
                        var: None,
                        file: Some(
                            self.spectra
                                .get(index)
                                .map_or_else(|| PathBuf::from("?"), |(s, _)| s.file.clone()),
                        ),
                        scale: Some(scale),
                        tensor: None,
                    },
                };
                LayerDoc {
                    alpha: Some(l.alpha),
                    activation: Some(l.activation.name().into()),
                    noise_var: Some(l.noise_var),
                    slope,
                    threshold,
                    weights: Some(weights),
                }
            })
            .collect();
        SpecDoc {
            prior,
            layers: Some(layers),
        }
    }

    /// The spec file of chain `index` with description `d`, with a comment naming the generator
    /// (seed, index) so the failure can be redrawn as well as rerun with `replica-mi entropy`.
    pub fn to_toml(&self, index: u64, d: &ChainDescription) -> String {
        format!(
            "# random chain {index} of seed {} (replica_core::random_chain)\n{}",
            self.params.seed,
            self.to_spec(d).to_toml()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn generator(seed: u64) -> ChainGenerator {
        let spectra = vec![
            NamedSpectrum {
                file: PathBuf::from("/nonexistent/half.csv"),
                eigenvalues: [vec![0.0; 50], vec![1.5; 30], vec![0.5; 20]].concat(),
            },
            NamedSpectrum {
                file: PathBuf::from("/nonexistent/full.csv"),
                eigenvalues: (1..=100).map(|k| k as f64 / 50.0).collect(),
            },
        ];
        GeneratorParams {
            seed,
            ..GeneratorParams::default()
        }
        .check(spectra)
        .unwrap()
    }

    #[test]
    fn draws_are_valid_deterministic_and_cover_the_space() {
        let g = generator(7);
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..400 {
            let a = g.draw(i).unwrap_or_else(|e| panic!("chain {i}: {e}"));
            let b = g.draw(i).unwrap();
            assert_eq!(a.description, b.description, "chain {i} not deterministic");
            let d = &a.description;
            kinds.insert(format!("layers{}", d.layers.len()));
            kinds.insert(format!("{:?}", std::mem::discriminant(&d.prior)));
            for l in &d.layers {
                kinds.insert(l.activation.name().to_string());
                kinds.insert(match l.weights {
                    WeightsDescription::Gaussian { .. } => "gaussian-w".into(),
                    WeightsDescription::Orthogonal => "orthogonal-w".into(),
                    WeightsDescription::Spectrum { index, .. } => format!("spectrum{index}"),
                });
                assert!((0.2..=3.0).contains(&l.alpha), "chain {i}: {l:?}");
            }
            let inner_noiseless = d.layers[..d.layers.len() - 1]
                .iter()
                .any(|l| l.noise_var == 0.0);
            if inner_noiseless {
                kinds.insert("noiseless-inner".into());
            }
        }
        // 4 depths, 3 priors, 5 activations, 4 weight kinds, noiseless inner layers
        assert_eq!(kinds.len(), 4 + 3 + 5 + 4 + 1, "{kinds:?}");
        // another seed, other chains
        assert_ne!(generator(8).describe(0), g.describe(0));
    }

    /// The printed spec reads back (through the same parser as the CLI, spectrum files written
    /// to a temporary folder) into the same chain.
    #[test]
    fn printed_spec_reads_back_into_the_same_chain() {
        let dir = std::env::temp_dir().join(format!("random_chain_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let g0 = generator(3);
        let spectra: Vec<NamedSpectrum> = g0
            .spectra()
            .enumerate()
            .map(|(k, s)| {
                let file = dir.join(format!("s{k}.csv"));
                let text: String = std::iter::once("eigenvalue".to_string())
                    .chain(s.eigenvalues.iter().map(|x| x.to_string()))
                    .collect::<Vec<_>>()
                    .join("\n");
                std::fs::write(&file, text).unwrap();
                NamedSpectrum {
                    file,
                    eigenvalues: s.eigenvalues.clone(),
                }
            })
            .collect();
        let g = GeneratorParams {
            seed: 3,
            ..GeneratorParams::default()
        }
        .check(spectra)
        .unwrap();
        for i in 0..100 {
            let drawn = g.draw(i).unwrap();
            let text = g.to_toml(i, &drawn.description);
            let back = crate::spec::parse_spec(&text, Path::new("/"))
                .unwrap_or_else(|e| panic!("chain {i}: {e}\n{text}"));
            assert_eq!(back.prior(), drawn.chain.prior(), "{text}");
            assert_eq!(back.len(), drawn.chain.len());
            for (x, y) in back.layers().iter().zip(drawn.chain.layers()) {
                assert_eq!(x.alpha().to_bits(), y.alpha().to_bits(), "{text}");
                assert_eq!(x.channel().activation(), y.channel().activation(), "{text}");
                assert_eq!(
                    x.channel().noise_var().to_bits(),
                    y.channel().noise_var().to_bits(),
                    "{text}"
                );
                assert_eq!(x.ensemble(), y.ensemble(), "{text}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_settings_are_named() {
        let e = GeneratorParams {
            alpha: (0.0, 1.0),
            ..GeneratorParams::default()
        }
        .check(vec![])
        .unwrap_err();
        assert!(e.to_string().contains("generator.alpha"), "{e}");
        let e = GeneratorParams {
            max_layers: 0,
            ..GeneratorParams::default()
        }
        .check(vec![])
        .unwrap_err();
        assert!(e.to_string().contains("generator.max_layers"), "{e}");
        let e = GeneratorParams::default()
            .check(vec![NamedSpectrum {
                file: "x.csv".into(),
                eigenvalues: vec![0.0, 0.0],
            }])
            .unwrap_err();
        assert!(e.to_string().contains("generator.spectra[0]"), "{e}");
    }
}
