//! `ringfence signals import <export>`: a Telegram Desktop export to a signal file, an import report
//! and a claims table (the work is in `ringfence-channel`; this file reads arguments and writes
//! files).
//!
//! Each output is written to a temporary file beside its target (the reports streamed from the
//! renderer's parallel chunks) and all are renamed into place only when all are written: a bad
//! export leaves nothing behind.

use crate::exit::bad_input;
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use ringfence_channel::{Format, Grammar, Zone, classify, read_export, write};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// `ringfence signals ...`.
#[derive(Debug, Subcommand)]
pub enum SignalsCommand {
    /// Import a channel's Telegram export: signal file + import report + claims table.
    Import(ImportArgs),
}

/// Export kinds on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// By extension and content.
    Auto,
    /// `result.json`.
    TelegramJson,
    /// `messages*.html`.
    TelegramHtml,
}

/// Arguments of `ringfence signals import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export: `result.json`, a `messages.html`, or the export's directory.
    pub export: PathBuf,
    /// Which reader to use.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Time zone of an older export's local dates (`Europe/Berlin`, `+03:00`, `UTC`).
    #[arg(long)]
    pub tz: Option<String>,
    /// TOML file of keywords per field for a channel the built-in grammars miss.
    #[arg(long)]
    pub grammar: Option<PathBuf>,
    /// Signal file to write (`.csv` or `.jsonl`).
    #[arg(long, default_value = "signals.csv")]
    pub out: PathBuf,
    /// Directory for `import-report.csv`, `import-report.json` and `claims.csv` (default: beside
    /// the signal file, `<out stem>-import`).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Runs `ringfence signals ...`.
pub fn run(cmd: SignalsCommand) -> anyhow::Result<()> {
    match cmd {
        SignalsCommand::Import(args) => import(args),
    }
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let tz = match &args.tz {
        Some(z) => Some(Zone::parse(z).map_err(|e| bad_input(format!("--tz: {e}")))?),
        None => None,
    };
    let grammar = match &args.grammar {
        None => Grammar::builtin(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad_input(format!(
                    "{}: cannot read the grammar file: {e}",
                    path.display()
                ))
            })?;
            let file = ringfence_channel::grammar::parse_grammar_file(&text)
                .map_err(|e| bad_input(format!("{}: {}", path.display(), e.trim_end())))?;
            Grammar::with_file(&file)
        }
    };
    let jsonl = match args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => false,
        Some("jsonl" | "ndjson") => true,
        _ => {
            return Err(bad_input(format!(
                "--out {}: the signal file must end in .csv or .jsonl",
                args.out.display()
            )));
        }
    };
    let format = match args.format {
        FormatArg::Auto => Format::Auto,
        FormatArg::TelegramJson => Format::TelegramJson,
        FormatArg::TelegramHtml => Format::TelegramHtml,
    };
    let messages = read_export(&args.export, format, tz).map_err(|e| bad_input(e.to_string()))?;
    let source = args.export.file_name().map_or_else(
        || args.export.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let imported = classify(&messages, &grammar, &source);

    let report_dir = args.report.clone().unwrap_or_else(|| {
        let stem = args
            .out
            .file_stem()
            .map_or_else(|| "signals".into(), |s| s.to_string_lossy().into_owned());
        args.out.with_file_name(format!("{stem}-import"))
    });
    std::fs::create_dir_all(&report_dir).with_context(|| {
        format!(
            "cannot create the report directory {}",
            report_dir.display()
        )
    })?;
    let mut staging = Staging::default();
    let mut signal_file = staging.create(&args.out)?;
    let report_paths = [
        report_dir.join("import-report.csv"),
        report_dir.join("import-report.json"),
        report_dir.join("claims.csv"),
    ];
    let mut reports = [
        staging.create(&report_paths[0])?,
        staging.create(&report_paths[1])?,
        staging.create(&report_paths[2])?,
    ];
    // The signal file is rendered to memory and read back (what we write must load; a failure
    // here is our bug, not the user's input), then those same bytes are written; beside it the
    // import report and the claims stream into their staging files.
    let [f0, f1, f2] = &mut reports;
    let (signals, written) = rayon::join(
        || -> anyhow::Result<()> {
            let mut text = Vec::new();
            write::write_signals(&mut text, &imported.events, jsonl)
                .and_then(|()| signal_file.write_all(&text))
                .and_then(|()| signal_file.flush())
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            let text = std::str::from_utf8(&text)
                .context("internal error: the imported signal file is not UTF-8")?;
            ringfence_data::signals::parse_signals(&args.out.display().to_string(), text, None)
                .context("internal error: the imported signal file does not load")?;
            Ok(())
        },
        || write::write_reports(&imported, [f0, f1, f2]),
    );
    signals?;
    for ((result, file), path) in written.into_iter().zip(&mut reports).zip(&report_paths) {
        result
            .and_then(|()| file.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    drop((signal_file, reports));
    staging.commit()?;

    let c = imported.counts();
    println!(
        "{}: {} messages; calls {}, updates {}, claims {}, chatter {}, unparsed {}; parse rate {:.1}% -> {} (report in {})",
        args.export.display(),
        imported.records.len(),
        c.calls,
        c.updates,
        c.claims,
        c.chatter,
        c.unparsed,
        c.parse_rate() * 100.0,
        args.out.display(),
        report_dir.display()
    );
    // The process ends right after this command: freeing the messages and the import (hundreds of
    // thousands of small strings on a large export, ≈ 70 ms for 50 MB) would only delay the exit,
    // so they are left to the operating system.
    std::mem::forget(imported);
    std::mem::forget(messages);
    Ok(())
}

/// Output files, each written to a temporary sibling and all renamed into place by
/// [`Staging::commit`]; dropped before that (an error on the way), the temporaries are removed and
/// no target is touched.
#[derive(Default)]
struct Staging {
    /// (temporary, target)
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staging {
    /// Creates the temporary file for `target`.
    fn create(&mut self, target: &Path) -> anyhow::Result<BufWriter<File>> {
        let name = target
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file =
            File::create(&tmp).with_context(|| format!("cannot write {}", target.display()))?;
        self.files.push((tmp, target.to_path_buf()));
        Ok(BufWriter::with_capacity(1 << 16, file))
    }

    /// Renames every temporary into place (on a failure the rest are removed).
    fn commit(mut self) -> anyhow::Result<()> {
        while let Some((tmp, target)) = self.files.first() {
            if let Err(e) = std::fs::rename(tmp, target) {
                return Err(anyhow::anyhow!("cannot write {}: {e}", target.display()));
            }
            self.files.remove(0);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
