//! `--shard K/N` and `merge` through figS2 at quick scale (as tests/shard.rs does for fig2, fig3
//! and fig4): its two networks in three shards (one shard holds none) merged give byte for byte
//! the CSV and SVG of the unsharded run, and the merged provenance records the same
//! configuration (with the data files), seed, scale and commit plus the shards.
//!
//! Needs Fashion-MNIST, as tests/figS2.rs: `/usr/share/datasets/fashion-mnist` or
//! `$REPLICA_MI_FASHION_MNIST` (`make data-fashion-mnist`).

use crate::common::{fashion_mnist, json, read, run, same_provenance};

const FIGS2: &str = env!("CARGO_BIN_EXE_figS2");

#[test]
fn figs2_in_three_shards_merges_to_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    let (w, s) = (whole.to_str().unwrap(), sharded.to_str().unwrap());
    let data = fashion_mnist();
    let data = data.to_str().expect("a UTF-8 data path");
    let base = ["--scale", "quick", "--quiet", "--data-dir", data];
    run(FIGS2, &[&base[..], &["--out", w]].concat());
    for k in 1..=3 {
        let shard = format!("{k}/3");
        run(
            FIGS2,
            &[&base[..], &["--out", s, "--shard", shard.as_str()]].concat(),
        );
    }
    let runs: Vec<usize> = (1..=3)
        .map(|k| {
            let rec = json(&sharded.join(format!("figS2.shard-{k}-of-3.provenance.json")));
            rec["part"]["runs"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(runs, [1, 1, 0], "one network per shard, the third empty");
    run(FIGS2, &["merge", s, "--quiet"]);
    for f in ["figS2.csv", "figS2.svg"] {
        assert!(
            read(&whole.join(f)) == read(&sharded.join(f)),
            "merged {f} differs from the unsharded run's"
        );
    }
    let (a, b) = (
        json(&whole.join("figS2.provenance.json")),
        json(&sharded.join("figS2.provenance.json")),
    );
    same_provenance(&a, &b, "figS2");
    assert!(a["config"]["data"]["train_images"].is_string(), "{a}");
    assert!(a.get("merged_from").is_none(), "unsharded record");
    assert_eq!(b["merged_from"].as_array().expect("merged_from").len(), 3);
    // No checkpoint left behind by the shards.
    let left: Vec<String> = std::fs::read_dir(&sharded)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.contains(".ckpt"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
