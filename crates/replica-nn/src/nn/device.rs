//! Device selection: `"cpu"`, `"cuda"` (or `"cuda:N"`) and `"auto"`.
//!
//! Whether CUDA is compiled in is a property of candle (`candle_core::utils::cuda_is_available`,
//! true when this crate is built with its `cuda` feature); this module only asks at run time.

use super::NnError;
use candle_core::Device;

/// The device named by `spec`:
/// * `"cpu"`: the CPU;
/// * `"cuda"` / `"cuda:N"`: GPU 0 / GPU `N`, an error if CUDA is not compiled in or the device
///   cannot be opened;
/// * `"auto"`: GPU 0 when CUDA is compiled in and the device opens, otherwise the CPU (with a
///   message on stderr saying why).
pub fn device(spec: &str) -> Result<Device, NnError> {
    let s = spec.trim().to_ascii_lowercase();
    let fail = |reason: String| NnError::Device {
        spec: spec.to_string(),
        reason,
    };
    match s.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => {
            if !candle_core::utils::cuda_is_available() {
                eprintln!(
                    "device auto: this build has no CUDA support (cargo feature `cuda`); using the CPU"
                );
                return Ok(Device::Cpu);
            }
            match Device::cuda_if_available(0) {
                Ok(d) => Ok(d),
                Err(e) => {
                    eprintln!("device auto: no usable GPU ({e}); using the CPU");
                    Ok(Device::Cpu)
                }
            }
        }
        _ => {
            let ordinal = match s.strip_prefix("cuda") {
                Some("") => 0,
                Some(rest) => rest
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| fail("expected cuda or cuda:N".into()))?,
                None => return Err(fail("expected cpu, cuda, cuda:N or auto".into())),
            };
            if !candle_core::utils::cuda_is_available() {
                return Err(fail(
                    "this build has no CUDA support; rebuild with `--features cuda`".into(),
                ));
            }
            Device::new_cuda(ordinal).map_err(|e| fail(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert!(device("cpu").unwrap().is_cpu());
        assert!(device(" CPU ").unwrap().is_cpu());
        assert!(device("auto").is_ok());
        assert!(device("tpu").is_err());
        assert!(device("cuda:x").is_err());
        if !candle_core::utils::cuda_is_available() {
            assert!(device("cuda").is_err());
        }
    }
}
