//! `ringfence signals import <export>`: a Telegram Desktop export to a signal file, an import report
//! and a claims table (the work is in `ringfence-channel`; this file reads arguments and writes
//! files).
//!
//! Outputs are rendered in memory, then each is written to a temporary file beside its target and
//! renamed into place only when all are written: a bad export leaves nothing behind.

use crate::exit::bad_input;
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use ringfence_channel::{Format, Grammar, Zone, classify, read_export, write};
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

    let signals = if jsonl {
        write::signals_jsonl(&imported.events)
    } else {
        write::signals_csv(&imported.events)
    };
    // What we write must load (a failure here is our bug, not the user's input). The check reads
    // the signal file back while the import report and the claims are rendered beside it.
    let (loaded, (report_csv, report_json, claims_csv)) = rayon::join(
        || ringfence_data::signals::parse_signals(&args.out.display().to_string(), &signals, None),
        || write::render_reports(&imported),
    );
    loaded.context("internal error: the imported signal file does not load")?;

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
    write_all(&[
        (args.out.clone(), signals),
        (report_dir.join("import-report.csv"), report_csv),
        (report_dir.join("import-report.json"), report_json),
        (report_dir.join("claims.csv"), claims_csv),
    ])?;

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
    Ok(())
}

/// Writes every file to a temporary sibling, then renames them all into place; on any failure the
/// temporaries are removed and no target is touched.
fn write_all(files: &[(PathBuf, String)]) -> anyhow::Result<()> {
    let tmp_of = |p: &Path| {
        let name = p
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        p.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
    };
    let mut written = Vec::new();
    let mut result = Ok(());
    for (path, text) in files {
        let tmp = tmp_of(path);
        if let Err(e) = std::fs::write(&tmp, text) {
            result = Err(anyhow::anyhow!("cannot write {}: {e}", path.display()));
            break;
        }
        written.push((tmp, path));
    }
    if result.is_ok() {
        for (tmp, path) in &written {
            if let Err(e) = std::fs::rename(tmp, path) {
                result = Err(anyhow::anyhow!("cannot write {}: {e}", path.display()));
                break;
            }
        }
    }
    for (tmp, _) in &written {
        let _ = std::fs::remove_file(tmp);
    }
    result
}
