//! IDX files (raw or gzip): whatever loads has the shape its header promises, and image
//! values lie in [0, 1].
#![no_main]

use libfuzzer_sys::fuzz_target;
use typenet::io;

fuzz_target!(|bytes: &[u8]| {
    let path = typenet_fuzz::scratch("idx", bytes);
    if let Ok((pixels, [rows, cols])) = io::load_idx_pixels(&path) {
        assert!(rows > 0 && cols > 0);
        assert_eq!(pixels.len() % (rows * cols), 0);
    }
    if let Ok((values, [rows, cols])) = io::load_idx_images::<f32>(&path) {
        assert_eq!(values.len() % (rows * cols), 0);
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    if let Ok(labels) = io::load_idx_labels(&path) {
        assert!(labels.len() <= bytes.len().max(1 << 30));
    }
});
