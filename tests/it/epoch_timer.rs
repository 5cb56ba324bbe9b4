//! `epoch-timer` (the kit's timing of Figure 4 training epochs): it prints one row per epoch, and
//! it trains the very network `fig4` trains: its epoch-1 loss at quick scale equals the
//! linear-ReLU epoch-1 train loss of `data/reference/fig4_quick.csv`.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_epoch-timer");

/// Same seeds, same float32 computation on the CPU: 1e-6 relative, as the fig4 reference test
/// (room for another CPU's summation order, far below any change of data, weights or order).
#[test]
fn quick_epochs_match_fig4_reference() {
    let o = Command::new(BIN)
        .args(["--scale", "quick", "--device", "cpu", "--epochs", "2"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "scale,device,variant,widths,n_train,batch_size,epoch,seconds,train_loss"
    );
    assert_eq!(lines.len(), 3, "{out}");
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
    for (i, r) in rows.iter().enumerate() {
        let epoch = (i + 1).to_string();
        assert_eq!(
            &r[..7],
            &[
                "quick",
                "cpu",
                "linear-relu",
                "20-40-20-10-5-2",
                "2000",
                "100",
                epoch.as_str()
            ],
            "{out}"
        );
        let seconds: f64 = r[7].parse().unwrap();
        assert!(seconds > 0.0 && seconds.is_finite(), "{out}");
    }
    let loss: f64 = rows[0][8].parse().unwrap();

    let reference = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/reference/fig4_quick.csv");
    let mut rd = csv::Reader::from_path(&reference).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (v, e, tl) = (col("variant"), col("epoch"), col("train_loss"));
    let expected: f64 = rd
        .records()
        .map(|r| r.unwrap())
        .find(|r| &r[v] == "linear-relu" && &r[e] == "1")
        .expect("epoch 1 of linear-relu in the reference")[tl]
        .parse()
        .unwrap();
    assert!(
        (loss - expected).abs() <= 1e-6 * expected.abs(),
        "epoch-timer epoch 1 loss {loss}, fig4 reference {expected}"
    );
}

/// A bad argument is refused with a message naming it (no training).
#[test]
fn refuses_bad_arguments() {
    for (args, needle) in [
        (&["--epochs", "0"][..], "--epochs"),
        (
            &["--device", "tpu"][..],
            "expected cpu, cuda, cuda:N or auto",
        ),
    ] {
        let o = Command::new(BIN).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}
