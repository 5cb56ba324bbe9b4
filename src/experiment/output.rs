//! The output side every figure binary shares: one folder (`--out`), the tables and figures of
//! the run written into it, the provenance record beside the first table, and a summary of what
//! was written on stdout (unless `--quiet`).

use super::cli::{device_label, CommonArgs};
use super::error::ExperimentError;
use super::plot::{render_svg_with, Figure, SharedLegend};
use super::record::{provenance_path, RunClock, RunRecord};
use super::shard::{ShardPart, ShardRecord};
use super::table::write_csv;
use crate::nn::EngineKind;
use serde::Serialize;
use std::path::PathBuf;

/// One run of a figure binary, from the creation of its folder to its provenance record.
pub struct FigureOutput<'a> {
    args: &'a CommonArgs,
    name: String,
    clock: RunClock,
    tables: Vec<PathBuf>,
    figures: Vec<PathBuf>,
    device: String,
    engine: Option<String>,
    resumed_from: Vec<String>,
}

impl<'a> FigureOutput<'a> {
    /// Create the folder `--out` and start the run's clock; `name` is the experiment's (`fig2`).
    pub fn start(args: &'a CommonArgs, name: &str) -> Result<Self, ExperimentError> {
        args.create_out_dir()
            .map_err(|e| ExperimentError::io(&args.out, e))?;
        Ok(FigureOutput {
            args,
            name: name.to_string(),
            clock: RunClock::start(),
            tables: Vec::new(),
            figures: Vec::new(),
            device: "cpu".into(),
            engine: None,
            resumed_from: Vec::new(),
        })
    }

    /// Record that the run trained its networks on `dev` (the default record says `cpu`).
    pub fn on_device(&mut self, dev: &candle_core::Device) {
        self.device = device_label(dev);
    }

    /// Record the engines that computed the run's training steps (for a figure that trains:
    /// [`Checkpoints::engines`](crate::experiment::checkpoint::Checkpoints::engines)); none leaves
    /// the record without an `engine`.
    pub fn trained_with(&mut self, engines: &[EngineKind]) {
        self.engine = (!engines.is_empty()).then(|| {
            engines
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join(", ")
        });
    }

    /// Record that the run continued from these checkpoints (`--resume`).
    pub fn resumed_from(&mut self, checkpoints: &[String]) {
        self.resumed_from = checkpoints.to_vec();
    }

    /// Write `rows` as the CSV `<out>/<file>`.
    pub fn table<R: Serialize>(
        &mut self,
        file: &str,
        rows: &[R],
    ) -> Result<PathBuf, ExperimentError> {
        let path = self.args.out.join(file);
        write_csv(&path, rows)?;
        self.tables.push(path.clone());
        Ok(path)
    }

    /// Render `fig` as the SVG `<out>/<file>`.
    pub fn figure(
        &mut self,
        file: &str,
        fig: &Figure,
        legend: SharedLegend,
    ) -> Result<PathBuf, ExperimentError> {
        let path = self.args.out.join(file);
        render_svg_with(fig, &path, legend)?;
        self.figures.push(path.clone());
        Ok(path)
    }

    /// End the run: write the record of `config` (with seed, scale, device, version, commit, times)
    /// beside the first table and, unless `--quiet`, print
    /// `<name> (<scale> scale, seed <seed>) in <t> s<headline>:`, then `details` and the paths
    /// written (tables, provenance, figures), one per line.
    pub fn finish<'c, C: Serialize>(
        self,
        config: &'c C,
        headline: &str,
        details: &[String],
    ) -> Result<RunRecord<&'c C>, ExperimentError> {
        let mut record = self
            .clock
            .finish(&self.name, config, self.args.seed, self.args.scale);
        record.device = self.device.clone();
        record.engine = self.engine.clone();
        record.resumed_from = self.resumed_from.clone();
        self.finish_record(record, headline, details)
    }

    /// [`FigureOutput::finish`] with a record made elsewhere (the merge of shards,
    /// [`crate::experiment::shard::merge`]), written as it is.
    pub fn finish_record<C: Serialize>(
        self,
        record: RunRecord<C>,
        headline: &str,
        details: &[String],
    ) -> Result<RunRecord<C>, ExperimentError> {
        let first = self.first_table()?;
        let prov = record.write_beside(first)?;
        if !self.args.quiet {
            println!(
                "{} ({} scale, seed {}) in {:.1} s{headline}:",
                self.name, record.scale, record.seed, record.elapsed_seconds
            );
            for d in details {
                println!("  {d}");
            }
            let paths = self.tables.iter().chain([&prov]).chain(&self.figures);
            for p in paths {
                println!("  {}", p.display());
            }
        }
        Ok(record)
    }

    /// End the run of shard `part.shard`: write its [`ShardRecord`] (the record of `config` and
    /// what the shard holds) beside the first table, which must be the shard's CSV
    /// `part.table`; unless `--quiet`, print a summary.
    pub fn finish_shard<C: Serialize, R: Serialize>(
        self,
        config: &C,
        part: ShardPart<R>,
    ) -> Result<PathBuf, ExperimentError> {
        let first = self.first_table()?;
        let mut record = self
            .clock
            .finish(&self.name, config, self.args.seed, self.args.scale);
        record.device = self.device.clone();
        record.engine = self.engine.clone();
        record.resumed_from = self.resumed_from.clone();
        let elapsed = record.elapsed_seconds;
        let (shard, runs, total) = (part.shard, part.runs.len(), part.all_runs.len());
        let rec = ShardRecord { part, record };
        let path = provenance_path(first);
        let json = serde_json::to_string_pretty(&rec).map_err(|source| ExperimentError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json + "\n").map_err(|e| ExperimentError::io(&path, e))?;
        if !self.args.quiet {
            println!(
                "{} shard {shard} ({} scale, seed {}) in {elapsed:.1} s: {runs} of {total} runs",
                self.name, self.args.scale, self.args.seed
            );
            for p in self.tables.iter().chain([&path]) {
                println!("  {}", p.display());
            }
        }
        Ok(path)
    }

    fn first_table(&self) -> Result<&PathBuf, ExperimentError> {
        self.tables.first().ok_or_else(|| {
            ExperimentError::InvalidConfig(format!(
                "{}: no table written, so no place for the provenance record",
                self.name
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Scale;

    fn args(dir: &str) -> CommonArgs {
        CommonArgs {
            scale: Scale::Quick,
            seed: 7,
            out: std::env::temp_dir()
                .join(format!("replica-mi-output-{dir}-{}", std::process::id())),
            quiet: true,
        }
    }

    #[test]
    fn provenance_goes_beside_the_first_table() {
        let a = args("ok");
        let mut out = FigureOutput::start(&a, "demo").unwrap();
        #[derive(Serialize)]
        struct Row {
            x: f64,
        }
        out.table("first.csv", &[Row { x: 1.0 }]).unwrap();
        out.table("second.csv", &[Row { x: 2.0 }]).unwrap();
        let rec = out.finish(&"config", "", &[]).unwrap();
        assert_eq!((rec.seed, rec.name.as_str()), (7, "demo"));
        let json = std::fs::read_to_string(a.out.join("first.provenance.json")).unwrap();
        assert!(json.contains("\"seed\": 7") && json.contains("\"config\": \"config\""));
        assert!(!a.out.join("second.provenance.json").exists());
        std::fs::remove_dir_all(&a.out).unwrap();
    }

    /// A run that trains records its engine; one that trains nothing (Figure 2) has no `engine`.
    #[test]
    fn provenance_names_the_engine_of_a_run_that_trains() {
        #[derive(Serialize)]
        struct Row {
            x: f64,
        }
        for (engines, want) in [
            (&[EngineKind::CpuEngine][..], Some("cpu-engine")),
            (&[EngineKind::CandleAutograd][..], Some("candle-autograd")),
            (&[][..], None),
        ] {
            let a = args("engine");
            let mut out = FigureOutput::start(&a, "demo").unwrap();
            out.trained_with(engines);
            out.table("t.csv", &[Row { x: 1.0 }]).unwrap();
            let rec = out.finish(&"config", "", &[]).unwrap();
            assert_eq!(rec.engine.as_deref(), want);
            let json: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(a.out.join("t.provenance.json")).unwrap(),
            )
            .unwrap();
            match want {
                Some(name) => assert_eq!(json["engine"], name),
                None => assert!(json.get("engine").is_none(), "{json}"),
            }
            std::fs::remove_dir_all(&a.out).unwrap();
        }
    }

    #[test]
    fn a_run_without_a_table_is_an_error() {
        let a = args("empty");
        let out = FigureOutput::start(&a, "demo").unwrap();
        let err = out.finish(&(), "", &[]).unwrap_err().to_string();
        assert!(err.contains("no table written"), "{err}");
        std::fs::remove_dir_all(&a.out).unwrap();
    }
}
