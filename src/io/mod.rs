//! Files (feature `std`): MNIST-format data, weights, checkpoints.
//!
//! Nothing read from a file is trusted: every loader checks sizes, counts, names, shapes,
//! dtypes and finiteness and returns an [`Error`] that says what is wrong and in which
//! file. Every writer writes a temporary file beside the target and renames it into place,
//! so an interrupted save never destroys the previous file.

mod checkpoint;
mod idx;
mod int8;
mod pytorch;
mod weights;

pub use checkpoint::{load_checkpoint, save_checkpoint, Checkpoint};
pub use idx::{
    load_idx_images, load_idx_labels, load_idx_pixels, load_mnist, load_mnist_pixels, Mnist,
};
pub use int8::{load_int8, save_int8};
pub use pytorch::load_pytorch_safetensors;
pub use weights::{
    load_raw, load_safetensors, load_safetensors_ignoring_layers, save_raw, save_safetensors,
};

use std::fmt;
use std::format;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::string::String;

/// What went wrong with a file, and which file.
#[derive(Debug)]
pub enum Error {
    /// The file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file's content is not what it should be.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
    /// The file is well-formed but its data does not fit.
    Data {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        source: crate::data::DataError,
    },
}

impl Error {
    pub(crate) fn format(path: &Path, what: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. } | Error::Format { path, .. } | Error::Data { path, .. } => path,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Format { path, what } => write!(f, "{}: {what}", path.display()),
            Error::Data { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Data { source, .. } => Some(source),
            Error::Format { .. } => None,
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over `path`. On any error the temporary file is removed and `path`
/// is untouched.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("typenet-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("a.bin");
/// typenet::io::write_atomically(&file, b"new").unwrap();
/// assert_eq!(std::fs::read(&file).unwrap(), b"new");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), Error> {
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::format(path, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the folder (where the system allows it).
        if let Ok(folder) = fs::File::open(&dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

pub(crate) fn read(path: &Path) -> Result<std::vec::Vec<u8>, Error> {
    fs::read(path).map_err(|e| Error::io(path, e))
}
