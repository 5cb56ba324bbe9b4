//! A [`DiscreteSpectrum`] taken apart and put back together exactly (for serialisation, e.g.
//! pickling a chain in the Python binding).

use super::super::error::ReplicaError;
use super::DiscreteSpectrum;

/// Every field of a [`DiscreteSpectrum`]: the distinct positive eigenvalues, their
/// probabilities, the probability of zero, and the derived mean and smallest positive value.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumParts {
    pub values: Vec<f64>,
    pub weights: Vec<f64>,
    pub zero_weight: f64,
    pub mean: f64,
    pub min_positive: f64,
}

impl DiscreteSpectrum {
    /// The fields, for [`DiscreteSpectrum::from_parts`].
    pub fn to_parts(&self) -> SpectrumParts {
        SpectrumParts {
            values: self.values.clone(),
            weights: self.weights.clone(),
            zero_weight: self.zero_weight,
            mean: self.mean,
            min_positive: self.min_positive,
        }
    }

    /// The spectrum [`DiscreteSpectrum::to_parts`] took apart, bit for bit. The parts are
    /// checked (one positive finite value per weight, weights in `[0, 1]` adding up with
    /// `zero_weight` to 1 within 1e-9, `mean` and `min_positive` consistent within 1e-9
    /// relative): parts that no spectrum has are an `InvalidChain` error.
    pub fn from_parts(p: SpectrumParts) -> Result<Self, ReplicaError> {
        let bad = |why: &str| Err(ReplicaError::InvalidChain(format!("spectrum parts: {why}")));
        if p.values.is_empty() || p.values.len() != p.weights.len() {
            return bad("one weight per value, at least one value");
        }
        if !p.values.iter().all(|v| v.is_finite() && *v > 0.0) {
            return bad("values must be finite and > 0");
        }
        let unit = |w: f64| w.is_finite() && (0.0..=1.0).contains(&w);
        if !p.weights.iter().all(|w| unit(*w)) || !unit(p.zero_weight) {
            return bad("weights must lie in [0, 1]");
        }
        let total: f64 = p.weights.iter().sum::<f64>() + p.zero_weight;
        let mean: f64 = p.values.iter().zip(&p.weights).map(|(v, w)| v * w).sum();
        let min = p.values.iter().copied().fold(f64::INFINITY, f64::min);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
        if (total - 1.0).abs() > 1e-9 || !close(mean, p.mean) || !close(min, p.min_positive) {
            return bad("weights, mean or smallest value inconsistent");
        }
        Ok(DiscreteSpectrum {
            values: p.values,
            weights: p.weights,
            zero_weight: p.zero_weight,
            mean: p.mean,
            min_positive: p.min_positive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_exactly_and_are_checked() {
        let s = DiscreteSpectrum::from_eigenvalues(&[0.3, 2.0, 0.0, 1.7, 0.3], 1.5).unwrap();
        assert_eq!(DiscreteSpectrum::from_parts(s.to_parts()).unwrap(), s);
        let o = DiscreteSpectrum::orthogonal(0.5);
        assert_eq!(DiscreteSpectrum::from_parts(o.to_parts()).unwrap(), o);
        let mut p = s.to_parts();
        p.weights[0] += 0.1;
        assert!(DiscreteSpectrum::from_parts(p).is_err());
        let mut p = s.to_parts();
        p.values[0] = -1.0;
        assert!(DiscreteSpectrum::from_parts(p).is_err());
    }
}
