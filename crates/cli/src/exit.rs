//! Error printing and exit codes: bad input exits 2, anything else 1; always one readable paragraph.

use std::fmt;

/// A problem with what the user gave (arguments, scenario keys): exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Shorthand: `Err(bad_input(format!(...)))?`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}

/// True when the error (or any cause) is the user's input at fault.
pub fn is_bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<BadInput>()
            || e.is::<ringfence_data::DataError>()
            || e.is::<ringfence_sim::SimError>()
    })
}

/// Prints `error: ...` with its causes on stderr and returns the exit code.
pub fn report(err: &anyhow::Error) -> i32 {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if is_bad_input(err) { 2 } else { 1 }
}
