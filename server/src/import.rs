//! `accounts import-users FILE [--dry-run]`: users of another system, one JSON object a line,
//! into the configured store. Each line is one user written with its username and address
//! claims in one transaction (as sign-up writes them), up to [`IN_FLIGHT`] at once (or
//! `--in-flight N`); a user
//! already there is skipped, so a run that stopped (a fault, ^C) is resumed by running it
//! again. Reads the file as it goes: memory stays flat however long it is.

use std::io::BufRead;
use std::time::Instant;

use shared::AppState;
use shared::accounts::import::{LineOutcome, MAX_IMPORT_LINE_BYTES, check_line, import_checked};

/// Lines imported at once by default (each a round trip to DynamoDB, or a short SQLite
/// transaction); `--in-flight` sets 1 to [`MAX_IN_FLIGHT`].
pub const IN_FLIGHT: usize = 16;
pub const MAX_IN_FLIGHT: usize = 64;

/// The command's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub path: String,
    pub dry_run: bool,
    pub in_flight: usize,
}

impl Options {
    /// `FILE [--dry-run] [--in-flight N]`, in any order.
    pub fn parse(args: &[&str]) -> Result<Options, String> {
        let mut path = None;
        let mut dry_run = false;
        let mut in_flight = IN_FLIGHT;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--dry-run" => dry_run = true,
                "--in-flight" => {
                    in_flight = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|n| (1..=MAX_IN_FLIGHT).contains(n))
                        .ok_or(format!(
                            "--in-flight takes a number from 1 to {MAX_IN_FLIGHT}"
                        ))?;
                }
                flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
                file if path.is_none() => path = Some(file.to_string()),
                _ => return Err("one file at a time".into()),
            }
        }
        let path = path.ok_or("which file? import-users FILE")?;
        Ok(Options {
            path,
            dry_run,
            in_flight,
        })
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Lines read (blank ones not counted).
    pub lines: usize,
    pub imported: usize,
    /// Imported with a hash under the floor.
    pub flagged: usize,
    pub skipped: usize,
    pub refused: usize,
    /// The line the run stopped at, and why (the store failed): `None` when it went through.
    pub stopped: Option<(usize, String)>,
}

/// One line's report, as it is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Refused { line: usize, why: String },
    Flagged { line: usize, why: String },
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Report::Refused { line, why } => write!(f, "line {line}: refused: {why}"),
            Report::Flagged { line, why } => {
                write!(f, "line {line}: imported, flagged: {why}")
            }
        }
    }
}

/// Reads lines of at most [`MAX_IMPORT_LINE_BYTES`] (a longer one is read past, and refused):
/// `(line number, the line or why it cannot be read)`, blank lines left out.
fn lines(mut reader: impl BufRead) -> impl Iterator<Item = (usize, Result<String, String>, u64)> {
    let mut number = 0usize;
    let mut read = 0u64;
    std::iter::from_fn(move || {
        loop {
            number += 1;
            let mut buf = Vec::new();
            let limit = (MAX_IMPORT_LINE_BYTES + 2) as u64;
            let n = match std::io::Read::take(&mut reader, limit).read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => return Some((number, Err(format!("cannot be read: {e}")), read)),
            };
            read += n as u64;
            if buf.len() > MAX_IMPORT_LINE_BYTES + 1 && buf.last() != Some(&b'\n') {
                // Past the limit: the rest of the line is read and dropped.
                let mut rest = Vec::new();
                loop {
                    rest.clear();
                    match std::io::Read::take(&mut reader, 64 * 1024).read_until(b'\n', &mut rest) {
                        Ok(0) => break,
                        Ok(k) => {
                            read += k as u64;
                            if rest.last() == Some(&b'\n') {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                let why = format!("longer than {MAX_IMPORT_LINE_BYTES} bytes");
                return Some((number, Err(why), read));
            }
            let text = match String::from_utf8(buf) {
                Ok(t) => t,
                Err(_) => return Some((number, Err("not UTF-8".into()), read)),
            };
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            return Some((number, Ok(text.to_string()), read));
        }
    })
}

/// Imports every line of `reader`; `report` is told of each refused or flagged line as it is
/// done, `progress` of the summary so far and the bytes read, after each line. Lines are
/// written up to `in_flight` at once, but never two that share a username or an address:
/// the first in the file wins, whatever the timing. Stops at the first fault of the store (the
/// summary says where).
pub async fn import_users(
    state: &AppState,
    reader: impl BufRead,
    dry_run: bool,
    in_flight: usize,
    mut report: impl FnMut(Report),
    mut progress: impl FnMut(&Summary, u64),
) -> Summary {
    let mut summary = Summary::default();
    let mut lines = lines(reader).peekable();
    while lines.peek().is_some() {
        // A batch: up to `in_flight` lines, cut before a line whose names one of them holds.
        let mut batch = Vec::new();
        let mut keys = std::collections::HashSet::new();
        while batch.len() < in_flight.max(1) {
            let Some((line, text, read)) = lines.peek() else {
                break;
            };
            let checked = match text {
                Ok(text) => check_line(text, state.clock.now()),
                Err(why) => Err(why.clone()),
            };
            if let Ok(c) = &checked
                && c.keys().iter().any(|k| keys.contains(k))
            {
                break;
            }
            if let Ok(c) = &checked {
                keys.extend(c.keys());
            }
            batch.push((*line, checked, *read));
            lines.next();
        }
        let done =
            futures::future::join_all(batch.into_iter().map(|(line, checked, read)| async move {
                let outcome = match checked {
                    Ok(c) => import_checked(state, c, dry_run).await,
                    Err(why) => Ok(LineOutcome::Refused(why)),
                };
                (line, outcome, read)
            }))
            .await;
        for (line, outcome, read) in done {
            match outcome {
                Ok(LineOutcome::Imported { flag }) => {
                    summary.imported += 1;
                    if let Some(why) = flag {
                        summary.flagged += 1;
                        report(Report::Flagged { line, why });
                    }
                }
                Ok(LineOutcome::Skipped) => summary.skipped += 1,
                Ok(LineOutcome::Refused(why)) => {
                    summary.refused += 1;
                    report(Report::Refused { line, why });
                }
                Err(e) => {
                    summary.stopped.get_or_insert((line, e.to_string()));
                    continue;
                }
            }
            summary.lines += 1;
            progress(&summary, read);
        }
        if summary.stopped.is_some() {
            break;
        }
    }
    summary
}

/// The command: the file, a progress line on a terminal, the reports and the summary.
pub async fn run(state: &AppState, options: &Options) -> std::process::ExitCode {
    let (path, dry_run) = (options.path.as_str(), options.dry_run);
    use std::io::{IsTerminal, Write};
    use std::process::ExitCode;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("import-users: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0).max(1);
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut shown = Instant::now();
    let summary = import_users(
        state,
        std::io::BufReader::new(file),
        dry_run,
        options.in_flight,
        |r| {
            if tty {
                eprint!("\r\x1b[K");
            }
            println!("{r}");
        },
        |s, read| {
            if tty && (shown.elapsed().as_millis() >= 200 || read >= size) {
                shown = Instant::now();
                let pct = (read * 100 / size).min(100) as usize;
                let bar = format!("{}{}", "#".repeat(pct / 4), ".".repeat(25 - pct / 4));
                let rate = s.lines as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!(
                    "\r\x1b[K[{bar}] {pct:>3}%  {} lines  {} imported  {} skipped  {} refused  {rate:.0}/s",
                    s.lines, s.imported, s.skipped, s.refused
                );
                let _ = std::io::stderr().flush();
            }
        },
    )
    .await;
    if tty {
        eprintln!();
    }
    let verb = if dry_run { "would import" } else { "imported" };
    println!(
        "{verb} {} ({} flagged), skipped {} already there, refused {}; {} lines in {:.1} s{}",
        summary.imported,
        summary.flagged,
        summary.skipped,
        summary.refused,
        summary.lines,
        started.elapsed().as_secs_f64(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    if let Some((line, why)) = &summary.stopped {
        eprintln!(
            "import-users: stopped at line {line}: {why}. Nothing of that line is half-written; \
             run the same command again to go on (users already there are skipped)."
        );
        return ExitCode::FAILURE;
    }
    if summary.refused > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
