//! Training checkpoints: parameters, optimizer state, iteration and random state in one
//! `safetensors` file, so a resumed run ends bit-identical to an uninterrupted one.

use super::weights::{
    check_layers, network_metadata, read_tensors, refuse_non_finite, tensors_of, write_safetensors,
};
use super::{read, Error};
use crate::optim::MAX_STEPS;
use crate::{Network, Optimizer, Rng, Scalar};
use safetensors::tensor::SafeTensors;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

/// Where a training run stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<N> {
    /// The parameters.
    pub net: N,
    /// Iterations done.
    pub iteration: u64,
    /// The random generator that draws the next batch.
    pub rng: Rng,
}

/// Saves a checkpoint atomically: tensors `params.*` and `opt<k>.*` (one set per optimizer
/// state slot), with the iteration, optimizer name and step count, and random state in the
/// metadata.
///
/// ```
/// use typenet::{prelude::*, io};
/// network! { struct Net< Affine<2, 2>, SoftmaxWithLoss > }
/// let path = std::env::temp_dir().join(format!("typenet-ckpt-{}.safetensors", std::process::id()));
/// let (net, mut grads) = (Net::<f32>::new(3), Net::zeros());
/// grads.affine1.b = [0.5, -0.5];
/// let mut adam = Adam::<f32, Net>::default();
/// let mut trained = net.clone();
/// adam.step(&mut trained, &grads);
/// io::save_checkpoint(&path, &trained, &adam, 1, &Rng::new(9))?;
///
/// let mut resumed = Adam::<f32, Net>::default();
/// let ckpt = io::load_checkpoint(&path, &mut resumed)?;
/// assert_eq!((ckpt.net, ckpt.iteration, ckpt.rng), (trained, 1, Rng::new(9)));
/// assert_eq!(resumed, adam);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), typenet::io::Error>(())
/// ```
///
/// Nothing is written if a parameter or an optimizer state value is NaN or infinite, or the
/// optimizer's state is otherwise invalid: the previous checkpoint stays as it was.
pub fn save_checkpoint<T: Scalar, N: Network<T>, O: Optimizer<T, N>>(
    path: impl AsRef<Path>,
    net: &N,
    optimizer: &O,
    iteration: u64,
    rng: &Rng,
) -> Result<(), Error> {
    let path = path.as_ref();
    refuse_non_finite(path, net, "")?;
    for slot in optimizer.slots() {
        refuse_non_finite(path, slot, "optimizer state ")?;
    }
    optimizer.validate().map_err(|e| {
        Error::format(
            path,
            format!("not written: {e}; the file on disk is unchanged"),
        )
    })?;
    let mut tensors = tensors_of(net, "params.");
    for (k, slot) in optimizer.slots().iter().enumerate() {
        tensors.extend(tensors_of(slot, &format!("opt{k}.")));
    }
    let mut meta = network_metadata::<T, N>();
    meta.insert("checkpoint_iteration".to_string(), iteration.to_string());
    meta.insert("optimizer".to_string(), optimizer.name().to_string());
    meta.insert("optimizer_steps".to_string(), optimizer.steps().to_string());
    let state: Vec<String> = rng.state().iter().map(|w| format!("{w:016x}")).collect();
    meta.insert("rng_state".to_string(), state.join(" "));
    write_safetensors::<T>(path, &tensors, meta)
}

/// Loads a checkpoint written by [`save_checkpoint`], restoring the optimizer's state into
/// `optimizer` (which must be of the kind that was saved; its hyper-parameters are kept).
///
/// Refuses, besides what [`load_safetensors`](super::load_safetensors) refuses, a checkpoint
/// of other layers, and optimizer state that could not have been written by a run: a
/// non-finite value, a negative running square, a step or iteration count out of range.
/// When the file is refused, `optimizer` keeps its settings and starts from a fresh state
/// (zeros, step 0): nothing of the refused file stays in it.
pub fn load_checkpoint<T: Scalar, N: Network<T>, O: Optimizer<T, N>>(
    path: impl AsRef<Path>,
    optimizer: &mut O,
) -> Result<Checkpoint<N>, Error> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |key: &str| {
        meta.get(key).ok_or_else(|| {
            Error::format(
                path,
                format!("is not a typenet checkpoint (no `{key}` in its metadata)"),
            )
        })
    };
    check_layers::<T, N>(path, Some(&meta))?;
    let iteration: u64 = parse(path, "checkpoint_iteration", get("checkpoint_iteration")?)?;
    if iteration > MAX_STEPS {
        return Err(Error::format(
            path,
            format!("has an iteration count out of range: {iteration}"),
        ));
    }
    let saved_opt = get("optimizer")?;
    if saved_opt != optimizer.name() {
        return Err(Error::format(
            path,
            format!(
                "was saved with optimizer `{saved_opt}`, not `{}`",
                optimizer.name()
            ),
        ));
    }
    let steps: u64 = parse(path, "optimizer_steps", get("optimizer_steps")?)?;
    let words = get("rng_state")?
        .split(' ')
        .map(|w| u64::from_str_radix(w, 16))
        .collect::<Result<Vec<u64>, _>>()
        .ok()
        .and_then(|v| <[u64; 4]>::try_from(v).ok())
        .ok_or_else(|| Error::format(path, "has a malformed `rng_state`"))?;

    let mut net = N::zeros();
    read_tensors(path, &file, "params.", &mut net)?;
    let read_state = |optimizer: &mut O| -> Result<(), Error> {
        for (k, slot) in optimizer.slots_mut().iter_mut().enumerate() {
            read_tensors(path, &file, &format!("opt{k}."), slot)?;
        }
        optimizer.set_steps(steps);
        optimizer
            .validate()
            .map_err(|e| Error::format(path, format!("holds an invalid optimizer state: {e}")))
    };
    if let Err(e) = read_state(optimizer) {
        // Nothing of a refused file stays: the optimizer starts afresh.
        for slot in optimizer.slots_mut() {
            *slot = N::zeros();
        }
        optimizer.set_steps(0);
        return Err(e);
    }
    Ok(Checkpoint {
        net,
        iteration,
        rng: Rng::from_state(words),
    })
}

fn parse<V: core::str::FromStr>(path: &Path, key: &str, text: &str) -> Result<V, Error> {
    text.parse()
        .map_err(|_| Error::format(path, format!("has a malformed `{key}`: {text:?}")))
}
