//! Kill and resume, through the figure binaries fig3, fig4 and figS2 at quick scale: a run killed with
//! SIGKILL (at named points: after an epoch's training, after its MI solve, while a checkpoint is
//! written; and by a SIGKILL from outside at an arbitrary instant) and resumed with `--resume`
//! writes the very bytes of the CSV and SVG files of a run never stopped, and the same
//! provenance apart from the times, the command line and the `resumed_from` list. A truncated
//! checkpoint or one with a flipped byte is reported and the previous one used; a checkpoint of
//! another seed or configuration is refused, naming the field; SIGUSR1 makes a run checkpoint and
//! exit with status 75.

use crate::common::{fashion_mnist, read};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const FIG3: &str = env!("CARGO_BIN_EXE_fig3");
const FIG4: &str = env!("CARGO_BIN_EXE_fig4");
const FIGS2: &str = env!("CARGO_BIN_EXE_figS2");
const KILL_AT: &str = "REPLICA_MI_KILL_AT";

fn base(out: &Path) -> Vec<String> {
    [
        "--scale",
        "quick",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn command(bin: &str, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(base(out)).args(extra).env_remove(KILL_AT);
    if bin == FIGS2 {
        c.arg("--data-dir").arg(fashion_mnist());
    }
    c
}

fn ok(bin: &str, out: &Path, extra: &[&str]) -> Output {
    let o = command(bin, out, extra).output().expect("start the binary");
    assert!(
        o.status.success(),
        "{bin} {extra:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Run with `REPLICA_MI_KILL_AT=point` and a checkpoint after every epoch; it must die of
/// SIGKILL.
fn killed_at(bin: &str, out: &Path, point: &str, extra: &[&str]) {
    let o = command(bin, out, &[&["--checkpoint-every", "1e"], extra].concat())
        .env(KILL_AT, point)
        .output()
        .expect("start the binary");
    assert_eq!(
        o.status.signal(),
        Some(9),
        "{bin} at {point}: not killed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The outputs of an uninterrupted run of `bin` (computed once per binary).
fn reference(bin: &'static str) -> &'static Path {
    static FIG3_REF: OnceLock<PathBuf> = OnceLock::new();
    static FIG4_REF: OnceLock<PathBuf> = OnceLock::new();
    static FIGS2_REF: OnceLock<PathBuf> = OnceLock::new();
    let cell = match bin {
        FIG3 => &FIG3_REF,
        FIG4 => &FIG4_REF,
        _ => &FIGS2_REF,
    };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        ok(bin, &dir, &[]);
        dir
    })
}

/// The provenance without what may differ between an interrupted and an uninterrupted run.
fn provenance(p: &Path) -> (Value, Value) {
    let mut v: Value = serde_json::from_slice(&read(p)).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["started", "finished", "elapsed_seconds", "command_line"] {
        assert!(o.remove(k).is_some(), "{}: no {k}", p.display());
    }
    let resumed = o.remove("resumed_from").unwrap_or(Value::Null);
    (v, resumed)
}

/// `out` holds byte for byte the outputs of the uninterrupted run, a provenance that records
/// the resume, and no checkpoint any more.
fn same_as_reference(bin: &'static str, out: &Path, files: &[&str]) {
    same_outputs(bin, out, files, true)
}

/// As [`same_as_reference`]; `resumed`: whether a checkpoint existed to resume from.
fn same_outputs(bin: &'static str, out: &Path, files: &[&str], resumed: bool) {
    let want = reference(bin);
    for f in files {
        assert!(
            read(&want.join(f)) == read(&out.join(f)),
            "{f} differs from the uninterrupted run's"
        );
    }
    let stem = files[0].trim_end_matches(".csv");
    let prov = format!("{stem}.provenance.json");
    let (got, from) = provenance(&out.join(&prov));
    let (expected, none) = provenance(&want.join(&prov));
    assert_eq!(got, expected, "{prov}");
    assert_eq!(
        none,
        Value::Null,
        "an uninterrupted run has no resumed_from"
    );
    if resumed {
        assert!(
            from.as_array().is_some_and(|a| !a.is_empty()),
            "resumed_from missing: {from}"
        );
    } else {
        assert_eq!(from, Value::Null, "nothing to resume from");
    }
    let left: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".ckpt"))
        .collect();
    assert!(left.is_empty(), "checkpoint files left: {left:?}");
}

const FIG3_FILES: &[&str] = &["fig3.csv", "fig3_errors.csv", "fig3.svg"];
const FIG4_FILES: &[&str] = &["fig4.csv", "fig4.svg"];

#[test]
fn fig4_killed_at_named_points_resumes_byte_for_byte() {
    // Quick scale: 2 variants x 5 observed epochs (0..=4); MI at epochs 0, 2, 4. Points in the
    // first and in the second variant, after training (before the MI solve), after the MI solve,
    // with the temporary checkpoint complete and between the renames; `epoch:1` before any
    // checkpoint exists (the resume starts from the beginning).
    for point in ["epoch:3", "mi:7", "ckpt-tmp:2", "ckpt-swap:6", "epoch:1"] {
        let dir = tempfile::tempdir().unwrap();
        killed_at(FIG4, dir.path(), point, &[]);
        ok(FIG4, dir.path(), &["--resume"]);
        same_outputs(FIG4, dir.path(), FIG4_FILES, point != "epoch:1");
    }
}

const FIGS2_FILES: &[&str] = &["figS2.csv", "figS2.svg"];

#[test]
fn figs2_killed_at_named_points_resumes_byte_for_byte() {
    // Quick scale: the USV network, then the dense one, 4 observed epochs each (0..=3), a
    // checkpoint after each. Points: in the USV run after an epoch's training; after the dense
    // run's first epoch is recorded (the newest checkpoint is the USV run's last epoch); with the
    // dense run's 2nd checkpoint complete but not renamed; between the renames of its 3rd;
    // `epoch:1` before any checkpoint exists.
    for point in ["epoch:3", "mi:5", "ckpt-tmp:6", "ckpt-swap:7", "epoch:1"] {
        let dir = tempfile::tempdir().unwrap();
        killed_at(FIGS2, dir.path(), point, &[]);
        ok(FIGS2, dir.path(), &["--resume"]);
        same_outputs(FIGS2, dir.path(), FIGS2_FILES, point != "epoch:1");
    }
}

#[test]
fn figs2_killed_twice_from_outside_and_by_a_signal_loses_nothing() {
    killed_from_outside(FIGS2, "figS2.ckpt", FIGS2_FILES, 20);
    // SIGUSR1: the epoch in progress finishes, a checkpoint is written, exit status 75.
    let dir = tempfile::tempdir().unwrap();
    killed_at(FIGS2, dir.path(), "mi:2", &[]);
    let mut child = command(
        FIGS2,
        dir.path(),
        &["--resume", "--checkpoint-every", "off"],
    )
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // The signal goes once the run says it resumes: its handlers are installed by then, and the
    // six epochs left take far longer than the signal.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().contains("resuming from")),
        "figS2 did not resume"
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(75), "{status:?}");
    ok(FIGS2, dir.path(), &["--resume"]);
    same_as_reference(FIGS2, dir.path(), FIGS2_FILES);
    let (_, resumed) = provenance(&dir.path().join("figS2.provenance.json"));
    assert_eq!(resumed.as_array().map(Vec::len), Some(2), "{resumed}");
}

#[test]
fn fig3_killed_at_named_points_resumes_byte_for_byte() {
    // Quick scale: 5 runs x 13 observed epochs; points in the first run, at the boundary of two
    // runs and in later runs.
    for point in ["epoch:5", "mi:13", "ckpt-tmp:20", "ckpt-swap:40"] {
        let dir = tempfile::tempdir().unwrap();
        killed_at(FIG3, dir.path(), point, &[]);
        ok(FIG3, dir.path(), &["--resume"]);
        same_as_reference(FIG3, dir.path(), FIG3_FILES);
    }
}

#[test]
fn a_run_killed_twice_resumes_twice() {
    let dir = tempfile::tempdir().unwrap();
    killed_at(FIG4, dir.path(), "mi:2", &[]);
    killed_at(FIG4, dir.path(), "epoch:4", &["--resume"]);
    ok(FIG4, dir.path(), &["--resume"]);
    same_as_reference(FIG4, dir.path(), FIG4_FILES);
    let (_, resumed) = provenance(&dir.path().join("fig4.provenance.json"));
    assert_eq!(resumed.as_array().map(Vec::len), Some(2), "{resumed}");
}

/// Start `bin`, SIGKILL it from outside once its first checkpoint exists and `delay_ms` more have
/// passed (somewhere in training, a solve or a write), resume and compare.
fn killed_from_outside(bin: &'static str, ckpt: &str, files: &[&str], delay_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(bin, dir.path(), &["--checkpoint-every", "1e"])
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !dir.path().join(ckpt).exists() {
        assert!(t0.elapsed().as_secs() < 120, "no checkpoint written");
        if child.try_wait().unwrap().is_some() {
            panic!("{bin} finished before it could be killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let killed = child.kill().is_ok();
    let status = child.wait().unwrap();
    assert!(
        killed && status.signal() == Some(9),
        "{bin} ended before the kill ({status:?}); the test needs a longer run"
    );
    ok(bin, dir.path(), &["--resume"]);
    same_as_reference(bin, dir.path(), files);
}

#[test]
fn a_sigkill_from_outside_at_any_instant_loses_nothing() {
    for delay in [0, 37, 150] {
        killed_from_outside(FIG3, "fig3.ckpt", FIG3_FILES, delay);
    }
    killed_from_outside(FIG4, "fig4.ckpt", FIG4_FILES, 3);
}

/// Kill fig4 while writing its 4th checkpoint (the 3rd is `fig4.ckpt`, the 2nd `.prev`), damage
/// `fig4.ckpt` with `damage`, resume: the damage is reported and the outputs are exact.
fn damaged_checkpoint_falls_back(damage: impl Fn(&mut Vec<u8>)) {
    let dir = tempfile::tempdir().unwrap();
    killed_at(FIG4, dir.path(), "ckpt-tmp:4", &[]);
    let p = dir.path().join("fig4.ckpt");
    assert!(dir.path().join("fig4.ckpt.prev").exists());
    let mut bytes = read(&p);
    damage(&mut bytes);
    std::fs::write(&p, bytes).unwrap();
    let o = ok(FIG4, dir.path(), &["--resume"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fig4.ckpt is damaged") && err.contains("fig4.ckpt.prev"),
        "{err}"
    );
    same_as_reference(FIG4, dir.path(), FIG4_FILES);
}

#[test]
fn a_truncated_checkpoint_is_reported_and_the_previous_one_used() {
    damaged_checkpoint_falls_back(|b| b.truncate(b.len() / 2));
}

#[test]
fn a_flipped_byte_is_reported_and_the_previous_one_used() {
    damaged_checkpoint_falls_back(|b| {
        let i = b.len() * 2 / 3;
        b[i] ^= 0x01;
    });
}

#[test]
fn a_checkpoint_of_another_seed_or_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    killed_at(FIG3, dir.path(), "epoch:3", &[]);
    for (extra, field) in [
        (&["--seed", "7"][..], "`seed`"),
        (&["--epochs", "5"][..], "`config`"),
    ] {
        let o = command(FIG3, dir.path(), &[&["--resume"], extra].concat())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(1) && err.contains(field),
            "{extra:?}: {:?} {err}",
            o.status
        );
    }
    // The refused checkpoint is left as it was: the right run still resumes from it.
    ok(FIG3, dir.path(), &["--resume"]);
    same_as_reference(FIG3, dir.path(), FIG3_FILES);
}

#[test]
fn resume_without_a_checkpoint_starts_from_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let o = ok(FIG4, dir.path(), &["--resume"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no checkpoint"));
    for f in FIG4_FILES {
        assert!(read(&reference(FIG4).join(f)) == read(&dir.path().join(f)));
    }
}

#[test]
fn sigusr1_checkpoints_and_exits_with_status_75() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(FIG3, dir.path(), &["--checkpoint-every", "off"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-USR1", &pid]).status().unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(75), "{status:?}");
    assert!(dir.path().join("fig3.ckpt").exists());
    ok(FIG3, dir.path(), &["--resume"]);
    same_as_reference(FIG3, dir.path(), FIG3_FILES);
}

const CHAIN_GRID: &str = env!("CARGO_BIN_EXE_chain-grid");

/// A small grid (12 chains of at most 2 layers, one thread) reporting to `out/grid.csv`.
fn grid(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(CHAIN_GRID);
    c.args([
        "--n",
        "12",
        "--seed",
        "3",
        "--max-layers",
        "2",
        "--show",
        "0",
    ])
    .args([
        "--spectra",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/refs/spectra"),
    ])
    .args(["--out", out.join("grid.csv").to_str().unwrap()])
    .args(extra)
    .env_remove(KILL_AT);
    c
}

fn grid_ok(out: &Path, extra: &[&str]) {
    let o = grid(out, extra).output().expect("start chain-grid");
    assert!(
        o.status.success(),
        "chain-grid {extra:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The report's bytes with the `seconds` column (wall times, the only column that differs from
/// run to run) emptied.
fn report_without_times(out: &Path) -> Vec<u8> {
    let mut r = csv::Reader::from_path(out.join("grid.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let col = header.iter().position(|h| h == "seconds").unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        let fields: Vec<&str> = rec
            .iter()
            .enumerate()
            .map(|(i, f)| if i == col { "" } else { f })
            .collect();
        w.write_record(&fields).unwrap();
    }
    w.into_inner().unwrap()
}

/// The report of an uninterrupted grid, without its times (computed once).
fn grid_reference() -> &'static [u8] {
    static REF: OnceLock<Vec<u8>> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        grid_ok(dir.path(), &["--jobs", "1"]);
        report_without_times(dir.path())
    })
}

/// `out` holds the uninterrupted grid's report (times aside), a provenance naming the
/// checkpoint resumed from, and no checkpoint file.
fn grid_same_as_reference(out: &Path) {
    let got = report_without_times(out);
    assert_eq!(got.len(), grid_reference().len());
    assert!(got == grid_reference(), "the resumed report differs");
    let prov: Value = serde_json::from_slice(&read(&out.join("grid.provenance.json"))).unwrap();
    assert!(
        prov["resumed_from"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "resumed_from missing"
    );
    assert!(!out.join("grid.ckpt").exists() && !out.join("grid.ckpt.prev").exists());
}

#[test]
fn chain_grid_killed_or_stopped_resumes_with_the_same_report() {
    // SIGKILL after the 5th chain's checkpoint, and between the renames of the 3rd checkpoint;
    // resumed on one and on two threads (the chains left are the same chains).
    for (point, jobs) in [("chain:5", "1"), ("ckpt-swap:3", "2")] {
        let dir = tempfile::tempdir().unwrap();
        let o = grid(dir.path(), &["--jobs", "1", "--checkpoint-every", "1e"])
            .env(KILL_AT, point)
            .output()
            .unwrap();
        assert_eq!(o.status.signal(), Some(9), "{point}: not killed: {o:?}");
        assert!(
            dir.path().join("grid.ckpt").exists() || dir.path().join("grid.ckpt.prev").exists()
        );
        grid_ok(dir.path(), &["--resume", "--jobs", jobs]);
        grid_same_as_reference(dir.path());
    }
    // SIGTERM once the first checkpoint exists: exit status 75, a checkpoint, an exact resume.
    let dir = tempfile::tempdir().unwrap();
    let mut child = grid(dir.path(), &["--jobs", "1", "--checkpoint-every", "1e"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !dir.path().join("grid.ckpt").exists() {
        assert!(t0.elapsed().as_secs() < 120, "no checkpoint written");
        assert!(child.try_wait().unwrap().is_none(), "the grid ended first");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(75), "{status:?}");
    grid_ok(dir.path(), &["--resume", "--jobs", "1"]);
    grid_same_as_reference(dir.path());
}
