//! Shared helpers of the integration tests: where `../shared/refs` is, and how a row of
//! `cases.csv` becomes a chain.
#![allow(dead_code)]

pub mod audit;
pub mod npy;

use replica_core::replica::{Activation, Chain, DiscreteSpectrum, Ensemble, Layer, Prior};
use std::collections::HashMap;
use std::path::PathBuf;

/// `../shared/refs` next to the checkout (override with `REPLICA_MI_REFS`).
pub fn refs_dir() -> PathBuf {
    if let Ok(p) = std::env::var("REPLICA_MI_REFS") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/refs")
}

pub fn read_rows(name: &str) -> Vec<HashMap<String, String>> {
    let path = refs_dir().join(name);
    let mut rdr = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn read_spectrum(name: &str) -> Vec<f64> {
    let path = refs_dir().join("spectra").join(format!("{name}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn kv(s: &str) -> HashMap<String, f64> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

pub fn parse_prior(kind: &str, params: &str) -> Prior {
    let p = kv(params);
    match kind {
        "normal" => Prior::gaussian(p["mean"], p["var"]).unwrap(),
        "bimodal" => Prior::binary(p["p"]).unwrap(),
        "spikeslab" => Prior::gauss_bernoulli(p["p"], p["mean"], p["var"]).unwrap(),
        other => panic!("unknown prior {other}"),
    }
}

pub fn parse_activation(name: &str) -> Activation {
    match name {
        "linear" => Activation::Linear,
        "relu" => Activation::Relu,
        "hardtanh" => Activation::Hardtanh { threshold: 1.0 },
        "probit" => Activation::Sign,
        other => panic!("unknown activation {other}"),
    }
}

/// The chain of one row of `cases.csv`.
pub fn case_chain(row: &HashMap<String, String>) -> Chain {
    let split = |k: &str| -> Vec<String> { row[k].split(';').map(|s| s.to_string()).collect() };
    let alphas = split("alphas");
    let acts = split("activations");
    let noises = split("noise_vars");
    let ens = split("ensembles");
    let wv = split("weight_vars");
    let layers = (0..alphas.len())
        .map(|l| {
            let alpha: f64 = alphas[l].parse().unwrap();
            let s: f64 = wv[l].parse().unwrap();
            let ensemble = if ens[l] == "gaussian" {
                Ensemble::Gaussian { var: s }
            } else {
                let name = ens[l].strip_prefix("empirical:").unwrap();
                Ensemble::Discrete(
                    DiscreteSpectrum::from_eigenvalues(&read_spectrum(name), s).unwrap(),
                )
            };
            Layer::new(
                alpha,
                parse_activation(&acts[l]),
                noises[l].parse().unwrap(),
                ensemble,
            )
            .unwrap()
        })
        .collect();
    Chain::new(parse_prior(&row["prior"], &row["prior_params"]), layers).unwrap()
}

pub fn opt_f64(row: &HashMap<String, String>, k: &str) -> Option<f64> {
    let s = row.get(k)?.trim();
    if s.is_empty() {
        None
    } else {
        Some(s.parse().unwrap())
    }
}

/// The spectra of `../shared/refs/spectra/*.csv` (all but `spectra_meta.csv`), sorted by file name,
/// read with the spec parser, for the random-chain generator; their paths are absolute so that
/// a printed spec runs from anywhere.
pub fn ref_spectra() -> Vec<replica_core::random_chain::NamedSpectrum> {
    let dir = refs_dir().join("spectra");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "csv")
                && p.file_name().is_some_and(|n| n != "spectra_meta.csv")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no spectra in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let file = p.canonicalize().unwrap_or(p);
            let eigenvalues =
                replica_core::spec::read_spectrum_file(&file).unwrap_or_else(|e| panic!("{e}"));
            replica_core::random_chain::NamedSpectrum { file, eigenvalues }
        })
        .collect()
}

/// The quadrature rule named by the environment variable `RULE` (`per_unit,min_piece,far_nodes,
/// hermite,far_panel`, to rerun a reference test at another rule), checked; `None` when unset.
pub fn rule_from_env() -> Option<replica_core::replica::RuleSize> {
    let r = std::env::var("RULE").ok()?;
    let v: Vec<f64> = r
        .split(',')
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|e| panic!("RULE={r}: {x:?} is not a number ({e})"))
        })
        .collect();
    assert_eq!(
        v.len(),
        5,
        "RULE={r}: expected per_unit,min_piece,far_nodes,hermite,far_panel"
    );
    let rule = replica_core::replica::RuleSize {
        per_unit: v[0],
        min_piece: v[1] as usize,
        far_nodes: v[2] as usize,
        hermite: v[3] as usize,
        far_panel: v[4],
    };
    Some(rule.check().unwrap_or_else(|e| panic!("RULE={r}: {e}")))
}
