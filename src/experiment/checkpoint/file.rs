//! The checkpoint file: its layout, its atomic replacement and its checked reading.
//!
//! ```text
//! "RMICKPT" 0x01        8 bytes, magic and format version
//! state length          u64, little endian
//! parameters length     u64, little endian
//! crc32                 u32, little endian, of the state and parameter bytes
//! state                 CBOR (the run's position, rows, warm starts, identity)
//! parameters            safetensors (the network's variables, `var.0`, `var.1`, ...)
//! ```
//!
//! A write goes to `<name>.tmp`, which is flushed to disk (`fsync`); then the current file, if
//! any, is renamed to `<name>.prev`, the temporary file to `<name>`, and the folder is flushed.
//! At every instant one complete checkpoint exists under `<name>` or `<name>.prev`: a process
//! killed in the middle of a write loses at most the checkpoint being written.

use super::super::error::ExperimentError;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RMICKPT\x01";
const HEADER: usize = 8 + 8 + 8 + 4;

/// Why a checkpoint file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorruptCheckpoint {
    #[error("not a checkpoint of this format (magic bytes differ)")]
    Magic,
    #[error("truncated: {have} bytes, the header announces {want}")]
    Truncated { have: usize, want: usize },
    #[error("checksum mismatch (crc32 {stored:08x} stored, {computed:08x} computed)")]
    Checksum { stored: u32, computed: u32 },
    #[error("unreadable state: {0}")]
    State(String),
    #[error("unreadable parameters: {0}")]
    Params(String),
}

/// The two sections of a checkpoint, as bytes.
pub struct Sections {
    pub state: Vec<u8>,
    pub params: Vec<u8>,
}

fn crc(state: &[u8], params: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(state);
    c.update(params);
    c.sum()
}

/// The whole file for `sections`.
pub fn encode(sections: &Sections) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + sections.state.len() + sections.params.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(sections.state.len() as u64).to_le_bytes());
    out.extend_from_slice(&(sections.params.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc(&sections.state, &sections.params).to_le_bytes());
    out.extend_from_slice(&sections.state);
    out.extend_from_slice(&sections.params);
    out
}

/// The sections of a file's bytes, checked (magic, lengths, checksum).
pub fn decode(bytes: &[u8]) -> Result<Sections, CorruptCheckpoint> {
    if bytes.len() < HEADER {
        if !MAGIC.starts_with(&bytes[..bytes.len().min(8)]) {
            return Err(CorruptCheckpoint::Magic);
        }
        return Err(CorruptCheckpoint::Truncated {
            have: bytes.len(),
            want: HEADER,
        });
    }
    if &bytes[..8] != MAGIC {
        return Err(CorruptCheckpoint::Magic);
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let (ns, np) = (word(8), word(16));
    let stored = u32::from_le_bytes(bytes[24..28].try_into().unwrap_or([0; 4]));
    let want = (HEADER as u64)
        .saturating_add(ns)
        .saturating_add(np)
        .min(usize::MAX as u64) as usize;
    if bytes.len() != want {
        return Err(CorruptCheckpoint::Truncated {
            have: bytes.len(),
            want,
        });
    }
    let state = &bytes[HEADER..HEADER + ns as usize];
    let params = &bytes[HEADER + ns as usize..];
    let computed = crc(state, params);
    if computed != stored {
        return Err(CorruptCheckpoint::Checksum { stored, computed });
    }
    Ok(Sections {
        state: state.to_vec(),
        params: params.to_vec(),
    })
}

/// `<path>.prev`: the checkpoint kept while a newer one is written.
pub fn previous(path: &Path) -> PathBuf {
    with_suffix(path, ".prev")
}

/// `<path>.tmp`: the checkpoint being written.
pub fn temporary(path: &Path) -> PathBuf {
    with_suffix(path, ".tmp")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Write `bytes` as the checkpoint `path`, atomically (module docs); `at_point` is called after
/// the temporary file is complete (`"ckpt-tmp"`) and between the two renames (`"ckpt-swap"`),
/// for the tests that stop the process there.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    at_point: &dyn Fn(&str),
) -> Result<(), ExperimentError> {
    let tmp = temporary(path);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| ExperimentError::io(p, e)
    };
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    at_point("ckpt-tmp");
    if path.exists() {
        std::fs::rename(path, previous(path)).map_err(io(path))?;
    }
    at_point("ckpt-swap");
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Flush the renames; a folder that cannot be opened for it (some file systems) is no
        // reason to fail the run.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Remove the checkpoint `path`, its previous one and a stale temporary file (missing ones are
/// fine).
pub fn remove_all(path: &Path) -> Result<(), ExperimentError> {
    for p in [path.to_path_buf(), previous(path), temporary(path)] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ExperimentError::io(p, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        encode(&Sections {
            state: b"state bytes".to_vec(),
            params: vec![1, 2, 3, 4, 5],
        })
    }

    #[test]
    fn a_file_reads_back_its_sections() {
        let s = decode(&sample()).unwrap();
        assert_eq!(s.state, b"state bytes");
        assert_eq!(s.params, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn every_truncation_is_detected() {
        let b = sample();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "{n} bytes accepted");
        }
    }

    #[test]
    fn every_single_flipped_byte_is_detected() {
        let b = sample();
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert!(decode(&c).is_err(), "byte {i} flipped, accepted");
        }
    }

    #[test]
    fn an_atomic_write_keeps_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ckpt");
        write_atomic(&p, b"one", &|_| {}).unwrap();
        write_atomic(&p, b"two", &|_| {}).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read(previous(&p)).unwrap(), b"one");
        assert!(!temporary(&p).exists());
        remove_all(&p).unwrap();
        assert!(!p.exists() && !previous(&p).exists());
    }
}
