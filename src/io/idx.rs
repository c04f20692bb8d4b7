//! The IDX format of MNIST, Fashion-MNIST and their kin, gzip-compressed or raw.

use super::{read, Error};
use crate::data::Dataset;
use crate::Scalar;
use std::format;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

/// Decompressed files larger than this are refused (the full MNIST training set is 47 MB).
const MAX_BYTES: u64 = 1 << 30;

/// A training and a test set in MNIST layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist<T> {
    /// `train-images-idx3-ubyte` with `train-labels-idx1-ubyte`.
    pub train: Dataset<T>,
    /// `t10k-images-idx3-ubyte` with `t10k-labels-idx1-ubyte`.
    pub test: Dataset<T>,
}

/// Loads the four standard files from `dir` (each either `.gz` or raw), pixels scaled to
/// `[0, 1]`.
///
/// ```no_run
/// let mnist = typenet::io::load_mnist::<f32>("data")?;
/// assert_eq!(mnist.train.shape(), [28, 28]);
/// # Ok::<(), typenet::io::Error>(())
/// ```
pub fn load_mnist<T: Scalar>(dir: impl AsRef<Path>) -> Result<Mnist<T>, Error> {
    let dir = dir.as_ref();
    let pixels = load_mnist_pixels(dir)?;
    Ok(Mnist {
        train: pixels.train.scaled(),
        test: pixels.test.scaled(),
    })
}

/// Loads the four standard files from `dir` (each either `.gz` or raw) with pixels as
/// bytes, as the files store them: a quarter of the memory of `f32`. Train on them through
/// [`Dataset::pixels_for`]; [`Dataset::scaled`] gives the values [`load_mnist`] gives.
///
/// ```no_run
/// let mnist = typenet::io::load_mnist_pixels("data")?;
/// assert_eq!(mnist.train.shape(), [28, 28]);
/// let test = mnist.test.scaled::<f32>(); // for `accuracy`
/// # Ok::<(), typenet::io::Error>(())
/// ```
pub fn load_mnist_pixels(dir: impl AsRef<Path>) -> Result<Mnist<u8>, Error> {
    let dir = dir.as_ref();
    let set = |images: &str, labels: &str| -> Result<Dataset<u8>, Error> {
        let (ipath, lpath) = (find(dir, images)?, find(dir, labels)?);
        let (values, shape) = load_idx_pixels(&ipath)?;
        let labels = load_idx_labels(&lpath)?;
        Dataset::from_pixels(values, labels, shape).map_err(|source| Error::Data {
            path: lpath,
            source,
        })
    };
    Ok(Mnist {
        train: set("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        test: set("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
    })
}

/// `dir/name.gz` or `dir/name`, whichever exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        Err(Error::io(
            &gz,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no such file (nor {name} uncompressed)"),
            ),
        ))
    }
}

/// Reads a file, gunzipping it if it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = read(path)?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .take(MAX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path, format!("corrupt gzip data: {e}")))?;
    if out.len() as u64 > MAX_BYTES {
        return Err(Error::format(path, "decompresses to more than 1 GiB"));
    }
    Ok(out)
}

/// Parses an IDX header of unsigned bytes with `ndim` dimensions; returns the dimensions
/// and the data after the header, whose length is checked against them.
fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
    ndim: u8,
    what: &str,
) -> Result<(Vec<usize>, &'a [u8]), Error> {
    let header = 4 + 4 * ndim as usize;
    if bytes.len() < 4 {
        return Err(Error::format(
            path,
            format!("too short for an IDX file ({} bytes)", bytes.len()),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let want = 0x0800 | ndim as u32;
    if magic != want {
        return Err(Error::format(
            path,
            format!("wrong magic number 0x{magic:08x}, expected 0x{want:08x} ({what}: unsigned bytes, {ndim} dimension(s))"),
        ));
    }
    if bytes.len() < header {
        return Err(Error::format(path, "truncated: the header is incomplete"));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let data = &bytes[header..];
    match expected {
        Some(n) if n == data.len() => Ok((dims, data)),
        Some(n) if n > data.len() => Err(Error::format(
            path,
            format!(
                "truncated: the header promises {} ({n} bytes) but only {} bytes follow",
                shape_text(&dims),
                data.len()
            ),
        )),
        Some(n) => Err(Error::format(
            path,
            format!(
                "{} bytes follow the {} the header promises ({n} bytes)",
                data.len() - n,
                shape_text(&dims)
            ),
        )),
        None => Err(Error::format(path, "the header's dimensions overflow")),
    }
}

fn shape_text(dims: &[usize]) -> String {
    match dims {
        [n] => format!("{n} labels"),
        [n, r, c] => format!("{n} images of {r}×{c}"),
        _ => format!("{dims:?}"),
    }
}

/// Reads an IDX image file (`0x00000803`): values scaled from bytes to `[0, 1]`, and the
/// image shape `[rows, cols]`.
pub fn load_idx_images<T: Scalar>(path: impl AsRef<Path>) -> Result<(Vec<T>, [usize; 2]), Error> {
    let path = path.as_ref();
    let (pixels, shape) = load_idx_pixels(path)?;
    let scale = crate::data::pixel_scale::<T>();
    let values = pixels
        .iter()
        .map(|&b| crate::data::pixel(b, scale))
        .collect();
    Ok((values, shape))
}

/// Reads an IDX image file (`0x00000803`) as it stores its pixels, one byte each, and the
/// image shape `[rows, cols]`.
pub fn load_idx_pixels(path: impl AsRef<Path>) -> Result<(Vec<u8>, [usize; 2]), Error> {
    let path = path.as_ref();
    let mut bytes = read_maybe_gz(path)?;
    let (dims, data) = parse(path, &bytes, 3, "an image file")?;
    if dims[1] == 0 || dims[2] == 0 {
        return Err(Error::format(
            path,
            format!("images of {}×{} hold no pixels", dims[1], dims[2]),
        ));
    }
    let (shape, len) = ([dims[1], dims[2]], data.len());
    // The pixels are the file after its header: drop the header in place, no copy.
    let header = bytes.len() - len;
    bytes.drain(..header);
    bytes.truncate(len);
    Ok((bytes, shape))
}

/// Reads an IDX label file (`0x00000801`).
pub fn load_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
    let path = path.as_ref();
    let bytes = read_maybe_gz(path)?;
    let (_, data) = parse(path, &bytes, 1, "a label file")?;
    Ok(data.to_vec())
}
