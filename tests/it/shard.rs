//! `--shard K/N` and `merge` through the figure binaries (fig2, fig3, fig4) at quick scale: three
//! shards merged give byte for byte the CSV and SVG of the unsharded run, the merged provenance
//! records the same configuration, seed, scale and commit plus the shards, and a broken set is
//! refused with a message and a failing exit status. (The refusal rules one by one: the unit tests of
//! `replica_mi::experiment::shard`.)

use crate::common::{json, read, run, same_provenance};
use std::process::Command;

/// Run `bin` unsharded into `whole/` and as 3 shards merged in `sharded/`; compare `files`
/// byte for byte and the provenance records; return the sharded folder's parent.
fn split_and_merge(bin: &str, stem: &str, files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    let (w, s) = (whole.to_str().unwrap(), sharded.to_str().unwrap());
    run(bin, &["--scale", "quick", "--quiet", "--out", w]);
    for k in 1..=3 {
        let shard = format!("{k}/3");
        run(
            bin,
            &[
                "--scale",
                "quick",
                "--quiet",
                "--out",
                s,
                "--shard",
                shard.as_str(),
            ],
        );
        assert!(sharded
            .join(format!("{stem}.shard-{k}-of-3.provenance.json"))
            .exists());
    }
    run(bin, &["merge", s, "--quiet"]);
    for f in files {
        assert!(
            read(&whole.join(f)) == read(&sharded.join(f)),
            "{stem}: merged {f} differs from the unsharded run's"
        );
    }
    let (a, b) = (
        json(&whole.join(format!("{stem}.provenance.json"))),
        json(&sharded.join(format!("{stem}.provenance.json"))),
    );
    same_provenance(&a, &b, stem);
    assert!(a.get("merged_from").is_none(), "{stem}: unsharded record");
    let from = b["merged_from"].as_array().expect("merged_from");
    assert_eq!(from.len(), 3, "{stem}: {from:?}");
    dir
}

#[test]
fn fig3_in_three_shards_merges_to_the_unsharded_run() {
    split_and_merge(
        env!("CARGO_BIN_EXE_fig3"),
        "fig3",
        &["fig3.csv", "fig3_errors.csv", "fig3.svg"],
    );
}

/// Five weight scales in three shards: every shard redraws the same matrices and samples.
#[test]
fn fig2_in_three_shards_merges_to_the_unsharded_run() {
    split_and_merge(
        env!("CARGO_BIN_EXE_fig2"),
        "fig2",
        &["fig2.csv", "fig2.svg", "figS1.svg"],
    );
}

/// Two variants in three shards: one shard holds nothing and still merges.
#[test]
fn fig4_in_three_shards_merges_to_the_unsharded_run() {
    let bin = env!("CARGO_BIN_EXE_fig4");
    let dir = split_and_merge(bin, "fig4", &["fig4.csv", "fig4.svg"]);
    let sharded = dir.path().join("sharded");
    let runs: Vec<usize> = (1..=3)
        .map(|k| {
            let rec = json(&sharded.join(format!("fig4.shard-{k}-of-3.provenance.json")));
            rec["part"]["runs"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(runs, [1, 1, 0]);

    // A shard gone: refused, non-zero exit, the file named.
    std::fs::remove_file(sharded.join("fig4.shard-2-of-3.provenance.json")).unwrap();
    let out = Command::new(bin)
        .args(["merge", sharded.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "merge of an incomplete set succeeded"
    );
    assert!(
        err.contains("refusing to merge") && err.contains("fig4.shard-2-of-3.provenance.json"),
        "{err}"
    );
}

/// The command line refuses a bad `--shard` and options beside `merge`.
#[test]
fn bad_shard_arguments_are_refused() {
    let bin = env!("CARGO_BIN_EXE_fig3");
    for args in [
        &["--shard", "0/2"][..],
        &["--shard", "3/2"],
        &["--shard", "x"],
        &["--scale", "quick", "merge", "/tmp"],
    ] {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        assert_eq!(out.status.code(), Some(2), "{args:?}: a usage error");
    }
}
