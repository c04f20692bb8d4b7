//! The MNIST IDX reader refuses every kind of broken file with a one-line error that says
//! what is wrong and in which file; the training example exits non-zero with it.

use flate2::{write::GzEncoder, Compression};
use std::io::Write;

use crate::common::scratch;
use std::path::{Path, PathBuf};
use std::process::Command;
use typenet::io;

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(data);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A valid MNIST-format folder with `n` train and test images of `r`×`c` (raw, not gzip).
fn folder(name: &str, n: u32, r: u32, c: u32) -> PathBuf {
    let dir = scratch(name);
    let images = idx(0x803, &[n, r, c], &vec![128; (n * r * c) as usize]);
    let labels = idx(
        0x801,
        &[n],
        &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
    );
    for set in ["train", "t10k"] {
        std::fs::write(dir.join(format!("{set}-images-idx3-ubyte")), &images).unwrap();
        std::fs::write(dir.join(format!("{set}-labels-idx1-ubyte")), &labels).unwrap();
    }
    dir
}

fn error_of(dir: &Path) -> String {
    io::load_mnist::<f32>(dir).unwrap_err().to_string()
}

#[test]
fn valid_raw_and_gzip_files_load() {
    let dir = folder("valid", 3, 2, 2);
    let m = io::load_mnist::<f64>(&dir).unwrap();
    assert_eq!((m.train.len(), m.train.shape()), (3, [2, 2]));
    assert!((m.train.values()[0] - 128.0 / 255.0).abs() < 1e-15);
    assert_eq!(m.test.labels(), [0, 1, 2]);
    let raw = std::fs::read(dir.join("train-images-idx3-ubyte")).unwrap();
    std::fs::remove_file(dir.join("train-images-idx3-ubyte")).unwrap();
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gz(&raw)).unwrap();
    assert_eq!(io::load_mnist::<f64>(&dir).unwrap(), m);
    let bytes = io::load_mnist_pixels(&dir).unwrap();
    assert_eq!(bytes.train.values()[0], 128);
    assert_eq!(
        (bytes.train.scaled(), bytes.test.scaled()),
        (m.train, m.test)
    );
}

#[test]
fn missing_file() {
    let dir = folder("missing", 3, 2, 2);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let e = error_of(&dir);
    assert!(
        e.contains(
            "t10k-labels-idx1-ubyte.gz: no such file (nor t10k-labels-idx1-ubyte uncompressed)"
        ),
        "{e}"
    );
}

#[test]
fn wrong_magic_number() {
    let dir = folder("magic", 3, 2, 2);
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx(0x803, &[3, 1, 1], &[0, 1, 2]),
    )
    .unwrap();
    let e = error_of(&dir);
    assert!(e.ends_with("train-labels-idx1-ubyte: wrong magic number 0x00000803, expected 0x00000801 (a label file: unsigned bytes, 1 dimension(s))"), "{e}");
}

#[test]
fn truncated_file() {
    let dir = folder("truncated", 3, 2, 2);
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx(0x803, &[3, 2, 2], &[7; 11]),
    )
    .unwrap();
    let e = error_of(&dir);
    assert!(e.ends_with("train-images-idx3-ubyte: truncated: the header promises 3 images of 2×2 (12 bytes) but only 11 bytes follow"), "{e}");
    std::fs::write(dir.join("train-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0]).unwrap();
    assert!(error_of(&dir).ends_with("truncated: the header is incomplete"));
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), &gz(&[0; 40])[..20]).unwrap();
    assert!(error_of(&dir).contains("train-images-idx3-ubyte.gz: corrupt gzip data"));
}

#[test]
fn image_and_label_counts_differ() {
    let dir = folder("counts", 3, 2, 2);
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        idx(0x801, &[2], &[0, 1]),
    )
    .unwrap();
    let e = error_of(&dir);
    assert!(
        e.ends_with("t10k-labels-idx1-ubyte: 3 images but 2 labels"),
        "{e}"
    );
}

/// Runs the training example on a folder; returns (success, stderr).
fn train_on(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO"))
        .args(["run", "-q", "--example", "train", "--"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_training_example_exits_non_zero_with_a_one_line_error() {
    let out = scratch("example-out");
    let out = out.to_str().unwrap();
    let check = |args: &[&str], expected: &str| {
        let (ok, stderr) = train_on(args);
        assert!(!ok, "{args:?} should fail");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    };

    let wrong_size = folder("example-size", 4, 27, 28);
    check(
        &["--data", wrong_size.to_str().unwrap(), "--out", out],
        "(training set): samples are 27×28 = 756 values but the network takes 784",
    );

    let bad_label = folder("example-label", 4, 28, 28);
    std::fs::write(
        bad_label.join("t10k-labels-idx1-ubyte"),
        idx(0x801, &[4], &[0, 1, 10, 3]),
    )
    .unwrap();
    check(
        &["--data", bad_label.to_str().unwrap(), "--out", out],
        "(test set): sample 2 has label 10, outside the network's 10 classes",
    );

    check(
        &["--data", "/nonexistent/typenet", "--out", out],
        "/nonexistent/typenet/train-images-idx3-ubyte.gz: no such file",
    );
    check(
        &["--lr", "1000", "--iters", "50", "--out", out],
        "training diverged at iteration 2",
    );
    check(
        &["--optimizer", "lbfgs", "--out", out],
        "unknown optimizer \"lbfgs\"; choose one of sgd, momentum, adagrad, rmsprop, adam",
    );
    check(
        &["--resume", "/nonexistent/ckpt.safetensors", "--out", out],
        "/nonexistent/ckpt.safetensors: No such file",
    );
    check(&["--iters", "ten"], "--iters takes a number, not \"ten\"");
}
