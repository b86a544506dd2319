//! Errors of every stage, with the exit codes the CLI maps them to.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Malformed or invalid module (parse/validation/lowering), with the byte offset when known.
    Invalid {
        offset: Option<u64>,
        message: String,
    },
    /// An import could not be resolved or has the wrong type.
    Link(String),
    /// Instantiation failed for lack of resources (e.g. a huge initial memory).
    Instantiate(String),
    /// A trap outside of a machine run (while applying segments at instantiation).
    Trap(String),
    /// A valid checkpoint that cannot be applied in this run's environment (a preopen missing
    /// from `--dir`, a file deleted since): fixable by the user, so no generation is skipped.
    Environment(String),
    /// A checkpoint or undo journal that would make chiwawa act outside the guest's preopens
    /// (a descriptor path that now leads out, through a symlink or `..`), or whose WASI state is
    /// inconsistent: refused before anything on disk changed, and no generation is skipped.
    Refused(String),
    /// Anything else, with context.
    Other(String),
    Io(std::io::Error),
}

impl Error {
    pub fn from_parser(e: wasmparser::BinaryReaderError) -> Error {
        Error::Invalid { offset: Some(e.offset()), message: e.message().to_string() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { offset: Some(o), message } => {
                write!(f, "invalid module: {message} (at offset 0x{o:x})")
            }
            Error::Invalid { offset: None, message } => write!(f, "invalid module: {message}"),
            Error::Link(m) => write!(f, "link error: {m}"),
            Error::Instantiate(m) => write!(f, "instantiation failed: {m}"),
            Error::Trap(m) => write!(f, "wasm trap: {m}"),
            Error::Environment(m) | Error::Refused(m) => f.write_str(m),
            Error::Other(m) => f.write_str(m),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
