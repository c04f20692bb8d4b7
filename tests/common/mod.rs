//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
use typenet::{io, Scalar};

/// The bundled digits (8,000 train + 2,000 test) in `data/`.
pub fn bundled<T: Scalar>() -> io::Mnist<T> {
    io::load_mnist(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")))
        .expect("the bundled digits load")
}

/// A fresh, empty folder under cargo's temporary directory for integration tests.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder can be created");
    dir
}

pub mod user_layers;
