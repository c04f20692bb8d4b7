//! Writes the seed corpus: one valid file of each kind the fuzz targets read
//! (`cargo run --bin seeds` in `fuzz/`).

use std::fs;
use std::io::Write;
use typenet::io;
use typenet::prelude::*;
use typenet_fuzz::Small;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = std::path::Path::new("corpus");
    for dir in ["idx", "weights", "checkpoint", "int8"] {
        fs::create_dir_all(corpus.join(dir))?;
    }
    // Two 3×2 images and their labels, raw and gzipped.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2];
    images.extend([0, 128, 255, 7, 9, 64, 1, 2, 3, 4, 5, 6]);
    fs::write(corpus.join("idx/images"), &images)?;
    fs::write(corpus.join("idx/labels"), [0, 0, 8, 1, 0, 0, 0, 2, 4, 7])?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&images)?;
    fs::write(corpus.join("idx/images.gz"), gz.finish()?)?;

    let net = Small::<f32>::new(3);
    io::save_safetensors(&net, corpus.join("weights/small.safetensors"))?;
    io::save_raw(&net, corpus.join("weights/small.bin"))?;

    let int8 = net.quantize(&[[0.0f32, 0.5, 1.0, 0.25], [1.0, 0.0, 0.5, 0.75]])?;
    io::save_int8(&int8, corpus.join("int8/small.safetensors"))?;

    let (mut trained, grads) = (net.clone(), Small::new(4));
    let mut adam = Adam::<f32, Small>::default();
    adam.step(&mut trained, &grads);
    io::save_checkpoint(
        corpus.join("checkpoint/adam.safetensors"),
        &trained,
        &adam,
        1,
        &Rng::new(5),
    )?;
    let sgd = Sgd::new(0.1f32);
    io::save_checkpoint(
        corpus.join("checkpoint/sgd.safetensors"),
        &net,
        &sgd,
        7,
        &Rng::new(6),
    )?;
    Ok(())
}
