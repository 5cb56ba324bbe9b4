//! Helpers shared by the modules of this test binary.

use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_nn::nn::{Network, NetworkSpec};

/// Every variable of `net`, flattened, as `f64`.
pub fn params(net: &Network) -> Vec<Vec<f64>> {
    net.vars()
        .iter()
        .map(|v| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        })
        .collect()
}

/// The network of `spec` on the CPU, initialised from `ChaCha8Rng::seed_from_u64(seed)`.
pub fn network(spec: &NetworkSpec, seed: u64, dtype: DType) -> Network {
    Network::new(
        &spec.check().unwrap(),
        &mut ChaCha8Rng::seed_from_u64(seed),
        dtype,
        &Device::Cpu,
    )
    .unwrap()
}
