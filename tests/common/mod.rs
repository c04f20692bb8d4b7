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

/// Runs `f` on a thread with a 512 MiB stack (reserved, not used): a convolutional network,
/// its optimizer and its cache are megabytes each, and a value on its way into a `Box`
/// may pass through the stack, which on a test thread is 2 MiB.
pub fn on_large_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(512 << 20)
            .spawn_scoped(s, f)
            .expect("a thread can be spawned")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}
