//! Seeded synthetic data sets of the paper (Section 3): teacher-student regression and the
//! generative classification model.
//!
//! * **Teacher-student regression**: `X ~ N(0, I_{n_0})`, `Y = W_t X + xi`, `W_t` with entries
//!   `N(0, 1/n_0)` (`n_out x n_0`, `n_out = 4`), `xi ~ N(0, sigma_t^2 I)`, `sigma_t^2 = 0.01`.
//! * **Generative classification**: latent `Y ~ N(0, I_{n_Y})`, `X = W_g Y + eps`, `W_g` with
//!   entries `N(0, 1/n_Y)` (`n_X x n_Y`), `eps ~ N(0, 0.01 I)` (a flag, on by default: the authors'
//!   released code meant to add it but never did), label `c = 1[Y_1 > 0]`, one-hot `(1 - c, c)`.
//!
//! Both draw `n_samples = 2 n_train`, `n_train = round(gamma n_0)` (`gamma = 100`; `n_0` is the
//! network's input width, `n_X` for classification): the first half is the training set, the second
//! half the test set. Randomness comes only from the generator passed in (the `*Params::generate`
//! helpers seed a `ChaCha8Rng` from the seed stored in the parameters), in a fixed order: the
//! weight matrix first (row by row), then the samples one after the other (for each sample: its
//! input or latent, then its noise).
//!
//! The parameter structs follow the linfa style: a constructor with the paper's defaults, chained
//! setters, and a `check()` that returns the checked parameters ([`Checked`], see
//! [`crate::checked`]) or a typed [`SynthError`]. Generation takes the checked parameters
//! (`generate`, `generate_with` on `Checked<RegressionParams>`, ...) and cannot fail;
//! `RegressionParams::generate` and `ClassificationParams::generate` check first.

use crate::checked::Check;
pub use crate::checked::Checked;
use crate::draw::{gaussian_matrix_in, DrawOrder};
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use replica_params::{at_least_one, non_negative, positive, ParamError};
use thiserror::Error;

/// Invalid parameters of a synthetic data set.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SynthError {
    /// A parameter violates its rule.
    #[error(transparent)]
    InvalidParameter(#[from] ParamError<&'static str>),
}

fn invalid(field: &'static str, value: impl std::fmt::Display, rule: &'static str) -> SynthError {
    SynthError::InvalidParameter(ParamError::new(field, value, rule))
}

fn check_gamma(gamma: f64, n0: usize) -> Result<usize, SynthError> {
    positive("gamma", gamma)?;
    let n_train = (gamma * n0 as f64).round();
    if n_train < 1.0 {
        return Err(invalid(
            "gamma",
            gamma,
            "gamma * n_0 must round to at least one training sample",
        ));
    }
    Ok(n_train as usize)
}

fn check_var(field: &'static str, v: f64) -> Result<(), SynthError> {
    non_negative(field, v)?;
    Ok(())
}

/// Samples as rows: `x` is `n x n_in` and `y` is `n x n_out`, both row-major `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Row-major inputs, `n * n_in` values.
    pub x: Vec<f64>,
    /// Row-major targets (one-hot for classification), `n * n_out` values.
    pub y: Vec<f64>,
    /// Class indices (classification only).
    pub labels: Option<Vec<u32>>,
    pub n: usize,
    pub n_in: usize,
    pub n_out: usize,
}

impl Dataset {
    /// `n` samples with i.i.d. `N(0, 1)` inputs and labels uniform among `n_out` classes, drawn
    /// from `rng` (inputs first, then labels), one-hot targets: the workload of the training
    /// benchmarks, where only the shapes matter.
    pub fn random_classification(n: usize, n_in: usize, n_out: usize, rng: &mut impl Rng) -> Self {
        let x: Vec<f64> = (0..n * n_in).map(|_| rng.sample(StandardNormal)).collect();
        let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..n_out as u32)).collect();
        let mut y = vec![0.0; n * n_out];
        for (i, &c) in labels.iter().enumerate() {
            y[i * n_out + c as usize] = 1.0;
        }
        Dataset {
            x,
            y,
            labels: Some(labels),
            n,
            n_in,
            n_out,
        }
    }
}

impl Dataset {
    /// Row `i` of the inputs.
    pub fn x_row(&self, i: usize) -> &[f64] {
        &self.x[i * self.n_in..(i + 1) * self.n_in]
    }
    /// Row `i` of the targets.
    pub fn y_row(&self, i: usize) -> &[f64] {
        &self.y[i * self.n_out..(i + 1) * self.n_out]
    }

    /// Rows `lo..hi` as a new data set.
    fn slice(&self, lo: usize, hi: usize) -> Dataset {
        Dataset {
            x: self.x[lo * self.n_in..hi * self.n_in].to_vec(),
            y: self.y[lo * self.n_out..hi * self.n_out].to_vec(),
            labels: self.labels.as_ref().map(|l| l[lo..hi].to_vec()),
            n: hi - lo,
            n_in: self.n_in,
            n_out: self.n_out,
        }
    }

    /// First half / second half.
    fn split_half(self) -> (Dataset, Dataset) {
        let half = self.n / 2;
        (self.slice(0, half), self.slice(half, self.n))
    }
}

fn gaussian(rng: &mut impl Rng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

/// `out = W v` for a dense `W`.
fn mat_vec(w: &Mat<f64>, v: &[f64], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = (0..w.ncols()).map(|j| w[(i, j)] * v[j]).sum();
    }
}

// ---------------------------------------------------------------------------------------------
// Teacher-student regression
// ---------------------------------------------------------------------------------------------

/// Parameters of the teacher-student regression task.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegressionParams {
    /// Input width `n_0`.
    pub n_in: usize,
    /// Teacher output width (4).
    pub n_out: usize,
    /// Variance of the teacher's output noise (0.01).
    pub teacher_noise_var: f64,
    /// Training samples per input dimension (100): `n_train = round(gamma n_0)`.
    pub gamma: f64,
    pub seed: u64,
}

impl RegressionParams {
    /// The paper's defaults for input width `n_in`: 4 outputs, noise 0.01, gamma 100, seed 0.
    pub fn new(n_in: usize) -> Self {
        RegressionParams {
            n_in,
            n_out: 4,
            teacher_noise_var: 0.01,
            gamma: 100.0,
            seed: 0,
        }
    }
    pub fn n_out(mut self, n: usize) -> Self {
        self.n_out = n;
        self
    }
    pub fn teacher_noise_var(mut self, v: f64) -> Self {
        self.teacher_noise_var = v;
        self
    }
    pub fn gamma(mut self, g: f64) -> Self {
        self.gamma = g;
        self
    }
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// The checked parameters, or the first field that breaks its rule.
    pub fn check(&self) -> Result<Checked<Self>, SynthError> {
        Checked::new(self.clone())
    }

    /// Training-set size `round(gamma n_0)` (the test set has the same size).
    pub fn n_train(&self) -> Result<usize, SynthError> {
        check_gamma(self.gamma, self.n_in)
    }

    /// Check, then generate with a `ChaCha8Rng` seeded from `self.seed`.
    pub fn generate(&self) -> Result<TeacherStudent, SynthError> {
        Ok(self.check()?.generate())
    }
}

impl Check for RegressionParams {
    type Error = SynthError;
    fn check_rules(&self) -> Result<(), SynthError> {
        at_least_one("n_in", self.n_in)?;
        at_least_one("n_out", self.n_out)?;
        check_var("teacher_noise_var", self.teacher_noise_var)?;
        check_gamma(self.gamma, self.n_in)?;
        Ok(())
    }
}

impl Checked<RegressionParams> {
    /// Training-set size `round(gamma n_0)` (the test set has the same size).
    pub fn n_train(&self) -> usize {
        (self.gamma * self.n_in as f64).round() as usize
    }

    /// Generate with a `ChaCha8Rng` seeded from `self.seed`.
    pub fn generate(&self) -> TeacherStudent {
        self.generate_with(&mut ChaCha8Rng::seed_from_u64(self.seed))
    }

    /// Generate from `rng`: `W_t` first, then for every sample `x` and the teacher noise.
    pub fn generate_with(&self, rng: &mut impl Rng) -> TeacherStudent {
        let n = 2 * self.n_train();
        let (n0, m) = (self.n_in, self.n_out);
        let teacher = gaussian_matrix_in(m, n0, 1.0, DrawOrder::ByRows, rng);
        let sd = self.teacher_noise_var.sqrt();
        let mut x = vec![0.0; n * n0];
        let mut y = vec![0.0; n * m];
        for i in 0..n {
            let xi = &mut x[i * n0..(i + 1) * n0];
            for v in xi.iter_mut() {
                *v = gaussian(rng);
            }
            let yi = &mut y[i * m..(i + 1) * m];
            mat_vec(&teacher, xi, yi);
            for v in yi.iter_mut() {
                *v += sd * gaussian(rng);
            }
        }
        let (train, test) = Dataset {
            x,
            y,
            labels: None,
            n,
            n_in: n0,
            n_out: m,
        }
        .split_half();
        TeacherStudent {
            params: self.clone(),
            teacher,
            train,
            test,
        }
    }
}

/// A generated teacher-student data set.
#[derive(Clone, Debug)]
pub struct TeacherStudent {
    pub params: Checked<RegressionParams>,
    /// `W_t` (`n_out x n_0`).
    pub teacher: Mat<f64>,
    pub train: Dataset,
    pub test: Dataset,
}

// ---------------------------------------------------------------------------------------------
// Generative classification
// ---------------------------------------------------------------------------------------------

/// Parameters of the generative classification task.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassificationParams {
    /// Latent width `n_Y` (100 at paper scale, 20 at code scale).
    pub n_latent: usize,
    /// Input width `n_X` (500 at paper scale, 100 at code scale).
    pub n_x: usize,
    /// Variance of `eps` in `X = W_g Y + eps` (0.01).
    pub noise_var: f64,
    /// Whether `eps` is added at all (the paper's model: yes; the authors' code: no).
    pub apply_noise: bool,
    /// Training samples per input dimension (100): `n_train = round(gamma n_X)`.
    pub gamma: f64,
    pub seed: u64,
}

impl ClassificationParams {
    /// The paper's defaults: noise 0.01 applied, gamma 100, seed 0.
    pub fn new(n_latent: usize, n_x: usize) -> Self {
        ClassificationParams {
            n_latent,
            n_x,
            noise_var: 0.01,
            apply_noise: true,
            gamma: 100.0,
            seed: 0,
        }
    }
    pub fn noise_var(mut self, v: f64) -> Self {
        self.noise_var = v;
        self
    }
    pub fn apply_noise(mut self, yes: bool) -> Self {
        self.apply_noise = yes;
        self
    }
    pub fn gamma(mut self, g: f64) -> Self {
        self.gamma = g;
        self
    }
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// The checked parameters, or the first field that breaks its rule.
    pub fn check(&self) -> Result<Checked<Self>, SynthError> {
        Checked::new(self.clone())
    }

    /// Training-set size `round(gamma n_X)` (the test set has the same size).
    pub fn n_train(&self) -> Result<usize, SynthError> {
        check_gamma(self.gamma, self.n_x)
    }

    /// The noise variance actually added to `X` (0 when `apply_noise` is off).
    pub fn effective_noise_var(&self) -> f64 {
        if self.apply_noise {
            self.noise_var
        } else {
            0.0
        }
    }

    /// Check, then generate with a `ChaCha8Rng` seeded from `self.seed`.
    pub fn generate(&self) -> Result<Generative, SynthError> {
        Ok(self.check()?.generate())
    }
}

impl Check for ClassificationParams {
    type Error = SynthError;
    fn check_rules(&self) -> Result<(), SynthError> {
        at_least_one("n_latent", self.n_latent)?;
        at_least_one("n_x", self.n_x)?;
        check_var("noise_var", self.noise_var)?;
        check_gamma(self.gamma, self.n_x)?;
        Ok(())
    }
}

impl Checked<ClassificationParams> {
    /// Training-set size `round(gamma n_X)` (the test set has the same size).
    pub fn n_train(&self) -> usize {
        (self.gamma * self.n_x as f64).round() as usize
    }

    /// Generate with a `ChaCha8Rng` seeded from `self.seed`.
    pub fn generate(&self) -> Generative {
        self.generate_with(&mut ChaCha8Rng::seed_from_u64(self.seed))
    }

    /// Generate from `rng`: `W_g` first, then for every sample the latent `Y` and (if applied)
    /// the noise `eps`.
    pub fn generate_with(&self, rng: &mut impl Rng) -> Generative {
        let n = 2 * self.n_train();
        let (ny, nx) = (self.n_latent, self.n_x);
        let w_g = gaussian_matrix_in(nx, ny, 1.0, DrawOrder::ByRows, rng);
        let sd = self.noise_var.sqrt();
        let mut x = vec![0.0; n * nx];
        let mut y = vec![0.0; n * 2];
        let mut labels = vec![0u32; n];
        let mut latent = vec![0.0; ny];
        for i in 0..n {
            for v in latent.iter_mut() {
                *v = gaussian(rng);
            }
            let xi = &mut x[i * nx..(i + 1) * nx];
            mat_vec(&w_g, &latent, xi);
            if self.apply_noise {
                for v in xi.iter_mut() {
                    *v += sd * gaussian(rng);
                }
            }
            let c = u32::from(latent[0] > 0.0);
            labels[i] = c;
            y[2 * i + c as usize] = 1.0;
        }
        let (train, test) = Dataset {
            x,
            y,
            labels: Some(labels),
            n,
            n_in: nx,
            n_out: 2,
        }
        .split_half();
        Generative {
            params: self.clone(),
            w_g,
            train,
            test,
        }
    }
}

/// A generated classification data set.
#[derive(Clone, Debug)]
pub struct Generative {
    pub params: Checked<ClassificationParams>,
    /// `W_g` (`n_X x n_Y`).
    pub w_g: Mat<f64>,
    pub train: Dataset,
    pub test: Dataset,
}

impl Generative {
    /// The `n_Y` eigenvalues of `W_g^T W_g` (for the generative layer of the MI chain), ascending.
    pub fn generative_spectrum(&self) -> Vec<f64> {
        let wtw = self.w_g.transpose() * &self.w_g;
        wtw.self_adjoint_eigenvalues(faer::Side::Lower)
            .expect("the eigenvalues of a small symmetric matrix")
            .into_iter()
            .map(|e| e.max(0.0))
            .collect()
    }
}

/// A [`Dataset`] as training data ([`crate::nn::Samples`]): its rows as they are stored.
impl crate::nn::Samples for Dataset {
    fn rows(&self) -> usize {
        self.n
    }
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn x(&self) -> &[f64] {
        &self.x
    }
    fn y(&self) -> &[f64] {
        &self.y
    }
    fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_split() {
        let d = RegressionParams::new(10)
            .gamma(3.0)
            .seed(1)
            .generate()
            .unwrap();
        assert_eq!(d.train.n, 30);
        assert_eq!(d.test.n, 30);
        assert_eq!(d.train.x.len(), 300);
        assert_eq!(d.train.y.len(), 120);
        let c = ClassificationParams::new(4, 10)
            .gamma(2.0)
            .generate()
            .unwrap();
        assert_eq!(c.train.n, 20);
        let l = c.train.labels.as_ref().unwrap();
        for i in 0..c.train.n {
            let row = c.train.y_row(i);
            assert_eq!(row[l[i] as usize].to_bits(), 1f64.to_bits());
            assert_eq!(row[1 - l[i] as usize].to_bits(), 0f64.to_bits());
        }
    }

    #[test]
    fn checks() {
        assert!(RegressionParams::new(0).check().is_err());
        assert!(RegressionParams::new(5).gamma(-1.0).check().is_err());
        assert!(RegressionParams::new(5)
            .teacher_noise_var(f64::NAN)
            .check()
            .is_err());
        assert!(ClassificationParams::new(3, 5).gamma(0.01).check().is_err());
    }

    /// `params` is refused by `check()` (and by `generate()`) with `field` named.
    fn assert_refused<P: std::fmt::Debug>(
        field: &str,
        params: &P,
        check: Result<(), SynthError>,
        generate: Result<(), SynthError>,
    ) {
        match check {
            Err(SynthError::InvalidParameter(ParamError { field: f, .. })) => {
                assert_eq!(f, field, "wrong field named for {params:?}")
            }
            Ok(()) => panic!("{params:?} was accepted; {field} should be refused"),
        }
        assert!(generate.is_err(), "generate accepted {params:?}");
    }

    #[test]
    fn every_invalid_regression_value_is_refused_with_its_field() {
        let p = || RegressionParams::new(10);
        let cases = [
            ("n_in", RegressionParams::new(0)),
            ("n_out", p().n_out(0)),
            ("teacher_noise_var", p().teacher_noise_var(-0.01)),
            ("teacher_noise_var", p().teacher_noise_var(f64::NAN)),
            ("teacher_noise_var", p().teacher_noise_var(f64::INFINITY)),
            ("gamma", p().gamma(0.0)),
            ("gamma", p().gamma(-1.0)),
            ("gamma", p().gamma(f64::NAN)),
            ("gamma", p().gamma(f64::INFINITY)),
            // gamma n_0 = 0.4 rounds to no training sample
            ("gamma", p().gamma(0.04)),
        ];
        for (field, params) in &cases {
            let check = params.check().map(|_| ());
            let generate = params.generate().map(|_| ());
            assert_refused(field, params, check, generate);
        }
    }

    #[test]
    fn every_invalid_classification_value_is_refused_with_its_field() {
        let p = || ClassificationParams::new(4, 10);
        let cases = [
            ("n_latent", ClassificationParams::new(0, 10)),
            ("n_x", ClassificationParams::new(4, 0)),
            ("noise_var", p().noise_var(-0.01)),
            ("noise_var", p().noise_var(f64::NAN)),
            ("noise_var", p().noise_var(f64::NEG_INFINITY)),
            // refused even when it is not applied
            ("noise_var", p().noise_var(f64::NAN).apply_noise(false)),
            ("gamma", p().gamma(0.0)),
            ("gamma", p().gamma(-2.0)),
            ("gamma", p().gamma(f64::NAN)),
            ("gamma", p().gamma(f64::INFINITY)),
            ("gamma", p().gamma(0.04)),
        ];
        for (field, params) in &cases {
            let check = params.check().map(|_| ());
            let generate = params.generate().map(|_| ());
            assert_refused(field, params, check, generate);
        }
    }

    #[test]
    fn error_messages_are_unchanged() {
        let e = RegressionParams::new(5).gamma(-1.0).check().unwrap_err();
        assert_eq!(e.to_string(), "invalid gamma = -1: must be finite and > 0");
        let e = RegressionParams::new(5).gamma(0.01).check().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid gamma = 0.01: gamma * n_0 must round to at least one training sample"
        );
        let e = ClassificationParams::new(0, 5).check().unwrap_err();
        assert_eq!(e.to_string(), "invalid n_latent = 0: must be >= 1");
        let e = ClassificationParams::new(3, 5).noise_var(f64::NAN).check();
        assert_eq!(
            e.unwrap_err().to_string(),
            "invalid noise_var = NaN: must be finite and >= 0"
        );
    }

    #[test]
    fn checked_regression_reads_what_was_set() {
        let params = RegressionParams::new(7)
            .n_out(3)
            .teacher_noise_var(0.25)
            .gamma(2.5)
            .seed(11);
        let valid = params.check().unwrap();
        assert_eq!(valid.get(), &params, "{params:?}");
        assert_eq!(valid.n_in, 7);
        assert_eq!(valid.n_out, 3);
        assert_eq!(valid.teacher_noise_var.to_bits(), 0.25f64.to_bits());
        assert_eq!(valid.gamma.to_bits(), 2.5f64.to_bits());
        assert_eq!(valid.seed, 11);
        assert_eq!(valid.n_train(), params.n_train().unwrap());
        assert_eq!(valid.n_train(), 18); // round(17.5), half away from zero
        let data = valid.generate();
        let again = params.generate().unwrap();
        assert_eq!(data.train, again.train);
        assert_eq!(data.test, again.test);
        assert_eq!(data.params, valid);
        assert_eq!(valid.clone().into_inner(), params);
    }

    #[test]
    fn checked_classification_reads_what_was_set() {
        let params = ClassificationParams::new(3, 8)
            .noise_var(0.5)
            .apply_noise(false)
            .gamma(1.5)
            .seed(9);
        let valid = params.check().unwrap();
        assert_eq!(valid.get(), &params, "{params:?}");
        assert_eq!(valid.n_latent, 3);
        assert_eq!(valid.n_x, 8);
        assert_eq!(valid.noise_var.to_bits(), 0.5f64.to_bits());
        assert!(!valid.apply_noise);
        assert_eq!(valid.effective_noise_var().to_bits(), 0f64.to_bits());
        assert_eq!(valid.gamma.to_bits(), 1.5f64.to_bits());
        assert_eq!(valid.seed, 9);
        assert_eq!(valid.n_train(), params.n_train().unwrap());
        assert_eq!(valid.n_train(), 12);
        let data = valid.generate_with(&mut ChaCha8Rng::seed_from_u64(9));
        let again = params.generate().unwrap();
        assert_eq!(data.train, again.train);
        assert_eq!(data.test, again.test);
        assert_eq!(data.params, valid);
        assert_eq!(valid.clone().into_inner(), params);
    }
}
