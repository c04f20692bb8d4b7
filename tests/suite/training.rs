//! Training on real digits, determinism, checkpoints and weights files.

use crate::common::{bundled, scratch};
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
fn book_recipe(data: &io::Mnist<f32>, iters: u64) -> (f32, f32, Box<Net>) {
    let (x, t) = data.train.check_for::<Net>().unwrap();
    let (xt, tt) = data.test.check_for::<Net>().unwrap();
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(0.1), 0);
    for _ in 0..iters {
        trainer.step(x, &t).unwrap();
    }
    (
        accuracy(trainer.net(), x, &t),
        accuracy(trainer.net(), xt, &tt),
        trainer.into_net(),
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
    assert!(on_pixels.net() == on_f32.net());
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
        tr.into_net()
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
        first.net(),
        first.optimizer(),
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
        second.net() == straight.net(),
        "{name}: resumed parameters differ"
    );
    assert_eq!(
        second.optimizer(),
        straight.optimizer(),
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
    io::save_safetensors(&net, dir.join("w.safetensors")).unwrap();
    io::save_raw(&net, dir.join("w.bin")).unwrap();
    let a: Net = io::load_safetensors(dir.join("w.safetensors")).unwrap();
    let b: Net = io::load_raw(dir.join("w.bin")).unwrap();
    assert!(a == net && b == net);
    let bytes: [u8; Net::BYTE_LEN] = std::fs::read(dir.join("w.bin"))
        .unwrap()
        .try_into()
        .unwrap();
    assert!(Net::from_le_bytes(&bytes) == net);
    let net64 = TwoLayerNet::<f64>::with_init(Init::He, 5);
    io::save_safetensors(&net64, dir.join("w64.safetensors")).unwrap();
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
    io::save_safetensors(&Wider::<f32>::new(0), dir.join("wider.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("wider.safetensors")).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "tensor `affine1.W` has shape [784, 64] but `TwoLayerNet` expects [784, 50]"
        ),
        "{err}"
    );

    io::save_safetensors(&Other::<f32>::new(0), dir.join("other.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("other.safetensors")).unwrap_err();
    assert!(
        err.to_string().contains(
            "was saved from the layers Affine<784, 10>, SoftmaxWithLoss, but `TwoLayerNet` has"
        ),
        "{err}"
    );
    let err = io::load_safetensors_ignoring_layers::<f32, Net>(&dir.join("other.safetensors"))
        .unwrap_err();
    assert!(
        err.to_string().contains("has no tensor `affine1.W`"),
        "{err}"
    );

    io::save_safetensors(&TwoLayerNet::<f64>::new(0), dir.join("f64.safetensors")).unwrap();
    let err = io::load_safetensors::<f32, Net>(&dir.join("f64.safetensors")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("tensor `affine1.W` is F64 but the network is F32"),
        "{err}"
    );

    io::save_raw(&Other::<f32>::new(0), dir.join("other.bin")).unwrap();
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

    // typenet never writes NaN; another tool might.
    io::save_safetensors(&Net::new(0), dir.join("nan.safetensors")).unwrap();
    tamper(&dir.join("nan.safetensors"), |tensors, _| {
        tensors.iter_mut().find(|t| t.0 == "affine2.b").unwrap().1[3] = f32::NAN;
    });
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
        let before = trainer.net().clone();
        match trainer.step(x, &t) {
            Ok(_) => assert!(trainer.iteration() < 20, "no divergence detected"),
            Err(e) => {
                assert!(
                    *trainer.net() == before,
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

// ---- nothing lost, nothing trusted --------------------------------------------------

network! {
    /// The same sizes as `TwoLayerNet`, another activation.
    pub struct SigmoidNet< Affine<784, 50>, Sigmoid, Affine<50, 10>, SoftmaxWithLoss >
}

/// Rewrites a safetensors file with `edit` applied to its tensors and metadata, as a
/// hostile or broken tool could.
fn tamper(
    path: &std::path::Path,
    edit: impl FnOnce(
        &mut Vec<(String, Vec<f32>, Vec<usize>)>,
        &mut std::collections::HashMap<String, String>,
    ),
) {
    use safetensors::tensor::{Dtype, SafeTensors, TensorView};
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap_or_default();
    let mut tensors: Vec<(String, Vec<f32>, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (name, values, view.shape().to_vec())
        })
        .collect();
    edit(&mut tensors, &mut meta);
    let raw: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .into_iter()
        .map(|(n, v, s)| (n, v.iter().flat_map(|x| x.to_le_bytes()).collect(), s))
        .collect();
    let views = raw.iter().map(|(n, b, s)| {
        (
            n.clone(),
            TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
        )
    });
    std::fs::write(path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

#[test]
fn a_step_that_would_make_a_parameter_non_finite_is_refused_before_it_lands() {
    let data = bundled::<f32>().train.take(200);
    let (x, t) = data.check_for::<Net>().unwrap();
    // Bright inputs: the loss and the gradients are finite, but lr · gradient overflows f32.
    let x: Vec<[f32; 784]> = x.iter().map(|s| s.map(|v| v * 1000.0)).collect();
    let mut trainer = Trainer::<f32, Net, _, 100>::new(Net::new(0), Sgd::new(1e38), 0);
    let before = trainer.net().clone();
    let err = trainer.step(&x, &t).unwrap_err();
    assert!(
        *trainer.net() == before,
        "the refused step changed the parameters"
    );
    assert!(
        err.to_string()
            .contains("its step would make a parameter or the optimizer's state NaN or infinite"),
        "{err}"
    );

    // The optimizers report a step that is not finite, state included.
    let (net, mut grads) = (Box::new(Net::new(0)), Box::new(Net::zeros()));
    let (adam, mut next) = (
        Box::new(Adam::<f32, Net>::default()),
        Box::new(Adam::default()),
    );
    assert!(adam.step_into(&net, &mut grads.clone(), &mut next));
    grads.affine2.b[3] = f32::NAN;
    assert!(!adam.step_into(&net, &mut grads, &mut next));
}

#[test]
fn a_network_with_a_non_finite_value_is_never_written() {
    let dir = scratch("non-finite");
    let good = Net::new(1);
    let (weights, raw, ckpt) = (
        dir.join("w.safetensors"),
        dir.join("w.bin"),
        dir.join("c.safetensors"),
    );
    io::save_safetensors(&good, &weights).unwrap();
    io::save_raw(&good, &raw).unwrap();
    let sgd = Sgd::new(0.1f32);
    io::save_checkpoint(&ckpt, &good, &sgd, 80, &Rng::new(1)).unwrap();

    let mut bad = good.clone();
    bad.affine2.w[3][4] = f32::NAN;
    let err = io::save_safetensors(&bad, &weights)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not written: tensor `affine2.W` holds a non-finite value at index 34"),
        "{err}"
    );
    assert!(io::save_raw(&bad, &raw).is_err());
    assert!(io::save_checkpoint(&ckpt, &bad, &sgd, 81, &Rng::new(1)).is_err());
    // An optimizer whose state or settings are not finite is not saved either.
    let mut adam = Box::new(Adam::<f32, Net>::default());
    adam.step(&mut good.clone(), &Net::new(2));
    adam.lr = f32::INFINITY;
    assert!(io::save_checkpoint(&ckpt, &good, &*adam, 81, &Rng::new(1)).is_err());

    // What was on disk is untouched and loads.
    assert!(io::load_safetensors::<f32, Net>(&weights).unwrap() == good);
    assert!(io::load_raw::<f32, Net>(&raw).unwrap() == good);
    let loaded = io::load_checkpoint::<f32, Net, _>(&ckpt, &mut Sgd::new(0.1)).unwrap();
    assert_eq!(loaded.iteration, 80);
}

#[test]
fn a_checkpoint_with_an_impossible_optimizer_state_is_refused() {
    let dir = scratch("bad-state");
    let path = dir.join("c.safetensors");
    // Boxed: an Adam of this network holds two copies of its 159 KB of parameters.
    let (mut net, grads) = (Box::new(Net::new(1)), Box::new(Net::new(2)));
    let mut adam = Box::new(Adam::<f32, Net>::default());
    adam.step(&mut net, &grads);
    let write = |path: &std::path::Path| {
        io::save_checkpoint(path, &*net, &*adam, 1, &Rng::new(3)).unwrap();
    };
    let load = |path: &std::path::Path| {
        let (mut fresh, untouched) = (Box::new(Adam::default()), Box::new(Adam::default()));
        let result = io::load_checkpoint::<f32, Net, _>(path, &mut *fresh);
        if result.is_err() {
            assert!(*fresh == *untouched, "a refused file changed the optimizer");
        }
        result.map(|_| ()).map_err(|e| e.to_string())
    };
    write(&path);
    assert!(load(&path).is_ok());

    // A negative second moment would make the first step NaN.
    tamper(&path, |tensors, _| {
        let v = tensors
            .iter_mut()
            .find(|t| t.0 == "opt1.affine1.W")
            .unwrap();
        v.1[17] = -1.0;
    });
    let err = load(&path).unwrap_err();
    assert!(
        err.ends_with("holds an invalid optimizer state: a running mean of squares is negative"),
        "{err}"
    );

    // A step counter at the end of u64 used to overflow in a debug build.
    write(&path);
    tamper(&path, |_, meta| {
        meta.insert("optimizer_steps".into(), u64::MAX.to_string());
    });
    let err = load(&path).unwrap_err();
    assert!(err.ends_with("the step count is out of range"), "{err}");
    write(&path);
    tamper(&path, |_, meta| {
        meta.insert("checkpoint_iteration".into(), u64::MAX.to_string());
    });
    assert!(load(&path)
        .unwrap_err()
        .contains("iteration count out of range"));
    // And stepping from the largest count never overflows.
    let mut sgd = Sgd::new(0.1f32);
    Optimizer::<f32, Net>::set_steps(&mut sgd, u64::MAX);
    sgd.step(&mut *net, &grads);
    assert_eq!(Optimizer::<f32, Net>::steps(&sgd), u64::MAX);
}

#[test]
fn weights_of_other_layers_are_refused_unless_asked_for() {
    let dir = scratch("other-layers");
    let path = dir.join("sigmoid.safetensors");
    let sigmoid = SigmoidNet::<f32>::new(4);
    io::save_safetensors(&sigmoid, &path).unwrap();
    let err = io::load_safetensors::<f32, Net>(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(
            "was saved from the layers Affine<784, 50>, Sigmoid, Affine<50, 10>, SoftmaxWithLoss, \
             but `TwoLayerNet` has Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss; \
             to load these weights into other layers on purpose, use `load_safetensors_ignoring_layers`"
        ),
        "{err}"
    );
    let relu: Net = io::load_safetensors_ignoring_layers(&path).unwrap();
    assert_eq!(relu.affine1.w, sigmoid.affine1.w);

    // A checkpoint of other layers is refused too, so `--resume` cannot train on.
    let ckpt = dir.join("c.safetensors");
    io::save_checkpoint(&ckpt, &sigmoid, &Sgd::new(0.1f32), 5, &Rng::new(1)).unwrap();
    assert!(io::load_checkpoint::<f32, Net, _>(&ckpt, &mut Sgd::new(0.1)).is_err());
}

/// The `train` example, built by `cargo test` next to the test binaries.
fn train_example(args: &[&str]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let train = dir
        .join("examples")
        .join(format!("train{}", std::env::consts::EXE_SUFFIX));
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&train), modified(&exe)), (Some(a), Some(b))
        if b.duration_since(a).unwrap_or_default() < std::time::Duration::from_secs(600));
    assert!(
        fresh,
        "{} is missing or older than this test: run `cargo test` (which builds the examples)",
        train.display()
    );
    std::process::Command::new(train)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_train_example_keeps_its_checkpoint_through_a_bad_resume() {
    let dir = scratch("train-example");
    let out = dir.to_str().unwrap();
    let ckpt = dir.join("checkpoint.safetensors");
    let run = train_example(&["--iters", "80", "--out", out]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let saved = std::fs::read(&ckpt).unwrap();

    // A learning rate that is infinite in f32 is refused before anything runs.
    let ckpt_arg = ckpt.to_str().unwrap();
    let run = train_example(&[
        "--resume", ckpt_arg, "--lr", "1e39", "--iters", "200", "--out", out,
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("--lr 1e39: the learning rate is not a finite positive number in f32"),
        "{stderr}"
    );
    // A finite learning rate that makes the step overflow stops the run at that step.
    let run = train_example(&[
        "--resume", ckpt_arg, "--lr", "3e38", "--iters", "200", "--out", out,
    ]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("training diverged at iteration 8"));
    assert_eq!(
        std::fs::read(&ckpt).unwrap(),
        saved,
        "the checkpoint changed"
    );
    let mut sgd = Sgd::new(0.1f32);
    assert_eq!(
        io::load_checkpoint::<f32, Net, _>(&ckpt, &mut sgd)
            .unwrap()
            .iteration,
        80
    );

    // Nothing to do: no checkpoint is claimed.
    let run = train_example(&["--resume", ckpt_arg, "--iters", "80", "--out", out]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && !stdout.contains("checkpoint.safetensors,"),
        "{stdout}"
    );
    // `--help` is not an error.
    let run = train_example(&["--help"]);
    assert!(run.status.success() && String::from_utf8_lossy(&run.stdout).starts_with("usage:"));
}

/// The versions of the network the saving child cycles through.
fn version(k: u64) -> Net {
    Net::new(100 + k % 4)
}

/// The child of the kill test: saves weights and a checkpoint in a loop until it is killed.
/// Ignored, so that it runs only when the kill test starts it.
#[test]
#[ignore = "started by a_save_killed_at_any_moment_leaves_the_old_file_or_the_new_one"]
fn save_until_killed() {
    let Some(dir) = std::env::var_os("TYPENET_SAVE_LOOP") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let sgd = Sgd::new(0.1f32);
    for k in 0.. {
        let net = version(k);
        io::save_safetensors(&net, dir.join("weights.safetensors")).unwrap();
        io::save_raw(&net, dir.join("weights.bin")).unwrap();
        io::save_checkpoint(
            dir.join("checkpoint.safetensors"),
            &net,
            &sgd,
            k,
            &Rng::new(k),
        )
        .unwrap();
    }
}

#[test]
fn a_save_killed_at_any_moment_leaves_the_old_file_or_the_new_one() {
    let dir = scratch("kill");
    let sgd = Sgd::new(0.1f32);
    io::save_safetensors(&version(0), dir.join("weights.safetensors")).unwrap();
    io::save_raw(&version(0), dir.join("weights.bin")).unwrap();
    io::save_checkpoint(
        dir.join("checkpoint.safetensors"),
        &version(0),
        &sgd,
        0,
        &Rng::new(0),
    )
    .unwrap();
    let versions: Vec<Net> = (0..4).map(version).collect();
    let mut rng = Rng::new(42);
    for round in 0..40 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "training::save_until_killed",
                "--ignored",
                "--quiet",
            ])
            .env("TYPENET_SAVE_LOOP", &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from before the first save to a few dozen saves in.
        std::thread::sleep(std::time::Duration::from_micros(
            2_000 + rng.below(40_000) as u64,
        ));
        child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush
        child.wait().unwrap();

        let weights: Net = io::load_safetensors(dir.join("weights.safetensors"))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            versions.contains(&weights),
            "round {round}: weights of no saved version"
        );
        let raw: Net =
            io::load_raw(dir.join("weights.bin")).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            versions.contains(&raw),
            "round {round}: raw weights of no saved version"
        );
        let ckpt = io::load_checkpoint::<f32, Net, _>(
            dir.join("checkpoint.safetensors"),
            &mut Sgd::new(0.1),
        )
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            ckpt.net == version(ckpt.iteration),
            "round {round}: a torn checkpoint"
        );
        assert_eq!(ckpt.rng, Rng::new(ckpt.iteration), "round {round}");
    }
}

/// Weight decay adds `λ·W` to the gradient of the weights (not the biases): the gradient
/// of `½·λ·ΣW²`. Checked against the numerical gradient of that penalised loss, and by
/// training: the decayed network ends with smaller weights.
#[test]
fn weight_decay_is_the_gradient_of_the_l2_penalty_and_shrinks_the_weights() {
    use typenet::optim::WeightDecay;
    network! { struct Small< Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss > }
    let lambda = 0.3;
    let mut net = Small::<f64>::with_init(Init::He, 1);
    let x = [[0.5, -1.0, 2.0, 0.1], [1.5, 0.3, -0.7, 0.2]];
    let t = [Class::new(0).unwrap(), Class::new(1).unwrap()];
    // One SGD step of learning rate 1 from the decayed gradient lands at params − grad.
    let mut grads = Small::zeros();
    net.gradient(&x, &t, &mut Small::new_cache(), &mut grads);
    let (opt, mut next) = (
        WeightDecay::new(Sgd::new(1.0), lambda),
        WeightDecay::new(Sgd::new(0.0), 0.0),
    );
    assert!(opt.step_into(&net, &mut grads, &mut next));
    let penalised = |n: &Small<f64>| {
        let w2: f64 = [n.affine1.w.as_flattened(), n.affine2.w.as_flattened()]
            .iter()
            .flat_map(|w| w.iter())
            .map(|w| w * w)
            .sum();
        n.loss(&x, &t) + 0.5 * lambda * w2
    };
    let mut numerical = Small::zeros();
    typenet::gradcheck::numerical_gradient(&mut net, &mut numerical, penalised);
    for i in 0..<Small<f64> as Network<f64>>::TENSOR_COUNT {
        let (p, stepped, g) = (
            net.tensor(i).unwrap(),
            grads.tensor(i).unwrap(),
            numerical.tensor(i).unwrap(),
        );
        for ((p, s), g) in p.iter().zip(stepped).zip(g) {
            assert!((p - s - g).abs() < 1e-9, "tensor {i}: {} vs {g}", p - s);
        }
    }

    // Training on digits: λ = 0.01 against none, the same batches.
    let data = bundled::<f32>().train.take(2000);
    let (x, t) = data.check_for::<Net>().unwrap();
    let run = |lambda: f32| {
        let opt = WeightDecay::new(Sgd::new(0.1), lambda);
        let mut tr = Trainer::<f32, Net, _, 100>::new(Net::new(0), opt, 0);
        for _ in 0..300 {
            tr.step(x, &t).unwrap();
        }
        let w = &tr.net().affine1.w;
        w.as_flattened().iter().map(|v| v * v).sum::<f32>()
    };
    let (plain, decayed) = (run(0.0), run(0.01));
    assert!(
        decayed < 0.9 * plain,
        "ΣW² {decayed} with decay, {plain} without"
    );
}
