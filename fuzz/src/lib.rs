//! What the fuzz targets share: the network their files are for, and a scratch file per
//! process on a RAM disk (the loaders read files, as users call them).

use std::path::PathBuf;

typenet::network! {
    /// A network small enough that mutated files often still match its tensors.
    pub struct Small< Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss >
}

/// Writes `bytes` to this process's scratch file and returns its path.
pub fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("typenet-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("the scratch file can be written");
    path
}

/// Whether every parameter of `net` is finite.
pub fn finite<N: typenet::Network<f32>>(net: &N) -> bool {
    (0..N::TENSOR_COUNT).all(|i| {
        net.tensor(i)
            .is_some_and(|t| t.iter().all(|v| v.is_finite()))
    })
}
