//! Training on real digits, determinism, checkpoints and weights files.

mod common;

use common::{bundled, scratch};
use std::path::PathBuf;
use typenet::prelude::*;
use typenet::train::{accuracy, Trainer};
use typenet::{data::Dataset, io};

network! {
    /// The two-layer net of chapter 5.
    pub struct TwoLayerNet< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >
}
type Net = TwoLayerNet<f32>;

/// Trains with the book's recipe and returns (train accuracy, test accuracy).
fn book_recipe(data: &io::Mnist<f32>, iters: u64) -> (f64, f64, Box<Net>) {
    let (x, t) = data.train.check_for::<Net>().unwrap();
    let (xt, tt) = data.test.check_for::<Net>().unwrap();
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(0.1), 0);
    for _ in 0..iters {
        trainer.step(x, &t).unwrap();
    }
    (
        accuracy(&*trainer.net, x, &t),
        accuracy(&*trainer.net, xt, &tt),
        trainer.net,
    )
}

#[test]
fn the_books_recipe_reaches_092_on_the_bundled_digits() {
    let data = bundled::<f32>();
    assert_eq!((data.train.len(), data.test.len()), (8_000, 2_000));
    let (train, test, _) = book_recipe(&data, 10_000);
    println!("bundled digits: train {train:.4}, test {test:.4}");
    assert!(test >= 0.92, "test accuracy {test}");
    assert!(
        train > test,
        "a 39,760-parameter net fits its 8,000 training digits better than unseen ones"
    );
}

#[test]
fn training_on_byte_pixels_gives_the_same_network_as_on_f32_samples() {
    let pixels = io::load_mnist_pixels(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data"
    )))
    .unwrap();
    let scaled = pixels.train.scaled::<f32>();
    assert_eq!(
        scaled,
        bundled::<f32>().train,
        "the same values as load_mnist"
    );
    let (xp, tp) = pixels.train.pixels_for::<f32, Net>().unwrap();
    let (x, t) = scaled.check_for::<Net>().unwrap();
    assert_eq!((tp.len(), tp[..5].to_vec()), (t.len(), t[..5].to_vec()));
    let mut on_pixels = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(0.1), 3);
    let mut on_f32 = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(0.1), 3);
    for _ in 0..200 {
        let a = on_pixels.step(&xp, &tp).unwrap();
        let b = on_f32.step(x, &t).unwrap();
        assert_eq!(a.to_bits(), b.to_bits(), "the same loss, bit for bit");
    }
    assert!(*on_pixels.net == *on_f32.net);
    // The source refuses what it does not hold.
    let mut out = [0.0f32; 784];
    assert!(typenet::data::Samples::read_into(&xp, 7_999, &mut out));
    assert_eq!(out, x[7_999]);
    assert!(!typenet::data::Samples::read_into(&xp, 8_000, &mut out));
    assert!(!typenet::data::Samples::read_into(
        &xp,
        usize::MAX,
        &mut out
    ));
    // Images of the wrong size, or labels outside the classes, are refused up front.
    let small = Dataset::from_pixels(vec![0u8; 2 * 27 * 28], vec![1, 2], [27, 28]).unwrap();
    assert_eq!(
        small.pixels_for::<f32, Net>().unwrap_err().to_string(),
        "samples are 27×28 = 756 values but the network takes 784"
    );
    let labels = Dataset::from_pixels(vec![0u8; 2 * 784], vec![1, 12], [28, 28]).unwrap();
    assert_eq!(
        labels.pixels_for::<f32, Net>().unwrap_err().to_string(),
        "sample 1 has label 12, outside the network's 10 classes (0..10)"
    );
}

/// The full Fashion-MNIST set (`apt-get install dataset-fashion-mnist`). Run in release:
/// `cargo test --release --test training -- --ignored`.
#[test]
#[ignore = "needs /usr/share/datasets/fashion-mnist (60,000 images); .ci/run runs it in release mode"]
fn the_books_recipe_reaches_086_on_fashion_mnist() {
    let dir = std::env::var_os("TYPENET_FASHION_MNIST").map_or_else(
        || PathBuf::from("/usr/share/datasets/fashion-mnist"),
        PathBuf::from,
    );
    let data = io::load_mnist::<f32>(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    let (train, test, _) = book_recipe(&data, 10_000);
    println!("Fashion-MNIST: train {train:.4}, test {test:.4}");
    assert!(test >= 0.86, "test accuracy {test}");
}

#[test]
fn same_seed_same_network_other_seed_other_network() {
    let data = bundled::<f32>().train.take(1000);
    let (x, t) = data.check_for::<Net>().unwrap();
    let run = |seed| {
        let mut tr = Trainer::<f32, Net, _, 100>::new(Net::new(seed), Momentum::default(), seed);
        for _ in 0..50 {
            tr.step(x, &t).unwrap();
        }
        tr.net
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

/// 60 iterations straight, or 25 + checkpoint to disk + 35 after loading it: identical.
fn resume_is_bit_identical<O: Optimizer<f32, Net> + Clone + PartialEq + std::fmt::Debug>(
    fresh: O,
    name: &str,
) {
    let data = bundled::<f32>().train.take(2000);
    let (x, t) = data.check_for::<Net>().unwrap();
    let mut straight = Trainer::<f32, Net, _, 100>::new(Net::new(1), fresh.clone(), 9);
    for _ in 0..60 {
        straight.step(x, &t).unwrap();
    }

    let dir = scratch(&format!("resume-{name}"));
    let path = dir.join("checkpoint.safetensors");
    let mut first = Trainer::<f32, Net, _, 100>::new(Net::new(1), fresh.clone(), 9);
    for _ in 0..25 {
        first.step(x, &t).unwrap();
    }
    io::save_checkpoint(
        &path,
        &*first.net,
        &*first.optimizer,
        first.iteration(),
        first.rng(),
    )
    .unwrap();
    drop(first);

    let mut optimizer = fresh;
    let ckpt = io::load_checkpoint(&path, &mut optimizer).unwrap();
    assert_eq!(ckpt.iteration, 25);
    let mut second =
        Trainer::<f32, Net, _, 100>::resume(ckpt.net, optimizer, ckpt.iteration, ckpt.rng);
    while second.iteration() < 60 {
        second.step(x, &t).unwrap();
    }
    assert!(
        *second.net == *straight.net,
        "{name}: resumed parameters differ"
    );
    assert_eq!(
        *second.optimizer, *straight.optimizer,
        "{name}: resumed optimizer state differs"
    );
}

#[test]
fn resuming_from_a_checkpoint_is_bit_identical() {
    resume_is_bit_identical(Sgd::new(0.1), "sgd");
    resume_is_bit_identical(Adam::<f32, Net>::default(), "adam");
    resume_is_bit_identical(RmsProp::<f32, Net>::default(), "rmsprop");
}

#[test]
fn a_checkpoint_refuses_another_optimizer() {
    let dir = scratch("ckpt-optimizer");
    let path = dir.join("c.safetensors");
    io::save_checkpoint(&path, &Net::new(0), &Sgd::new(0.1f32), 3, &Rng::new(1)).unwrap();
    let err = io::load_checkpoint(&path, &mut Adam::<f32, Net>::default()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("was saved with optimizer `sgd`, not `adam`"),
        "{err}"
    );
}

#[test]
fn weights_round_trip_bit_exactly() {
    let dir = scratch("round-trip");
    let net = Net::with_init(Init::He, 5);
    io::save_safetensors(&net, &dir.join("w.safetensors")).unwrap();
    io::save_raw(&net, &dir.join("w.bin")).unwrap();
    let a: Net = io::load_safetensors(&dir.join("w.safetensors")).unwrap();
    let b: Net = io::load_raw(&dir.join("w.bin")).unwrap();
    assert!(a == net && b == net);
    let bytes: [u8; Net::BYTE_LEN] = std::fs::read(dir.join("w.bin"))
        .unwrap()
        .try_into()
        .unwrap();
    assert!(Net::from_le_bytes(&bytes) == net);
    let net64 = TwoLayerNet::<f64>::with_init(Init::He, 5);
    io::save_safetensors(&net64, &dir.join("w64.safetensors")).unwrap();
    assert!(
        io::load_safetensors::<f64, TwoLayerNet<f64>>(&dir.join("w64.safetensors")).unwrap()
            == net64
    );
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

network! { struct Wider< Affine<784, 64>, Relu, Affine<64, 10>, SoftmaxWithLoss > }
network! { struct Other< fc: Affine<784, 10>, SoftmaxWithLoss > }

#[test]
fn loading_weights_of_another_network_names_the_tensor_and_both_shapes() {
    let dir = scratch("other-net");
    io::save_safetensors(&Wider::<f32>::new(0), &dir.join("wider.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("wider.safetensors")).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "tensor `affine1.W` has shape [784, 64] but `TwoLayerNet` expects [784, 50]"
        ),
        "{err}"
    );

    io::save_safetensors(&Other::<f32>::new(0), &dir.join("other.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("other.safetensors")).unwrap_err();
    assert!(
        err.to_string().contains("has no tensor `affine1.W`"),
        "{err}"
    );

    io::save_safetensors(&TwoLayerNet::<f64>::new(0), &dir.join("f64.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("f64.safetensors")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("tensor `affine1.W` is F64 but the network is F32"),
        "{err}"
    );

    io::save_raw(&Other::<f32>::new(0), &dir.join("other.bin")).unwrap();
    let err = io::load_raw::<f32, Net>(&dir.join("other.bin")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("is 31400 bytes but `TwoLayerNet` has 39760 F32 parameters (159040 bytes)"),
        "{err}"
    );

    std::fs::write(dir.join("junk.safetensors"), b"not a safetensors file").unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("junk.safetensors")).unwrap_err();
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );

    let mut nan = Net::new(0);
    nan.affine2.b[3] = f32::NAN;
    io::save_safetensors(&nan, &dir.join("nan.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("nan.safetensors")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("tensor `affine2.b` holds a non-finite value at index 3"),
        "{err}"
    );
}

#[test]
fn a_failed_save_leaves_the_previous_file_intact() {
    let dir = scratch("atomic");
    let path = dir.join("weights.safetensors");
    let old = Net::new(1);
    io::save_safetensors(&old, &path).unwrap();
    // Block the temporary file's name so the next save fails before it can rename.
    let blocker = dir.join(format!(".weights.safetensors.tmp-{}", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();
    assert!(io::save_safetensors(&Net::new(2), &path).is_err());
    std::fs::remove_dir(&blocker).unwrap();
    assert!(io::load_safetensors::<f32, Net>(&path).unwrap() == old);
}

#[test]
fn a_diverging_run_stops_with_an_error_and_keeps_its_parameters() {
    let data = bundled::<f32>().train.take(500);
    let (x, t) = data.check_for::<Net>().unwrap();
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(1000.0), 0);
    let err = loop {
        let before = trainer.net.clone();
        match trainer.step(x, &t) {
            Ok(_) => assert!(trainer.iteration() < 20, "no divergence detected"),
            Err(e) => {
                assert!(
                    *trainer.net == *before,
                    "a diverged step must not touch the parameters"
                );
                break e;
            }
        }
    };
    assert!(
        err.to_string()
            .starts_with("training diverged at iteration 2: the loss reached"),
        "{err}"
    );
    let empty: [[f32; 784]; 0] = [];
    assert!(trainer.step(&empty, &[]).is_err());
}

#[test]
fn data_that_does_not_fit_the_network_is_refused() {
    let small = Dataset::new(vec![0.5f32; 3 * 27 * 28], vec![1, 2, 3], [27, 28]).unwrap();
    let err = small.check_for::<Net>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "samples are 27×28 = 756 values but the network takes 784"
    );
    let labels = Dataset::new(vec![0.5f32; 2 * 784], vec![1, 12], [28, 28]).unwrap();
    assert_eq!(
        labels.check_for::<Net>().unwrap_err().to_string(),
        "sample 1 has label 12, outside the network's 10 classes (0..10)"
    );
    assert_eq!(
        Dataset::new(vec![0.5f32; 784], vec![1, 2], [28, 28])
            .unwrap_err()
            .to_string(),
        "1 images but 2 labels"
    );
    assert!(Dataset::new(vec![f32::NAN; 784], vec![1], [28, 28]).is_err());
}
