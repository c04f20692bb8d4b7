//! The book's two-layer net in candle, for typenet's speed comparison: same data, same
//! recipe (784-50-10, batch 100, SGD lr 0.1, 10,000 iterations, 0.01·N(0,1) weights, f32),
//! same batches (read from the file typenet's `speed` example writes). One JSON line out.
//!
//! `cargo run --release -- --data DIR --batches FILE [--repeat N]`

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{loss, Optimizer, SGD};
use std::io::Read;
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn idx(dir: &str, name: &str) -> Result<(Vec<u8>, Vec<usize>)> {
    let gz = format!("{dir}/{name}.gz");
    let mut bytes = Vec::new();
    if std::path::Path::new(&gz).exists() {
        flate2::read::GzDecoder::new(std::fs::File::open(gz)?).read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(format!("{dir}/{name}"))?;
    }
    let ndim = bytes[3] as usize;
    let dims: Vec<usize> = (0..ndim)
        .map(|k| u32::from_be_bytes(bytes[4 + 4 * k..8 + 4 * k].try_into().unwrap()) as usize)
        .collect();
    Ok((bytes[4 + 4 * ndim..].to_vec(), dims))
}

fn images(dir: &str, name: &str, dev: &Device) -> Result<Tensor> {
    let (b, d) = idx(dir, name)?;
    let v: Vec<f32> = b.iter().map(|&p| p as f32 / 255.0).collect();
    Ok(Tensor::from_vec(v, (d[0], d[1] * d[2]), dev)?)
}

fn labels(dir: &str, name: &str, dev: &Device) -> Result<Tensor> {
    let (b, d) = idx(dir, name)?;
    Ok(Tensor::from_vec(b.iter().map(|&l| l as u32).collect::<Vec<_>>(), d[0], dev)?)
}

struct Net {
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
}

impl Net {
    fn new(dev: &Device) -> Result<Net> {
        Ok(Net {
            w1: Var::from_tensor(&(Tensor::randn(0f32, 1.0, (784, 50), dev)? * 0.01)?)?,
            b1: Var::zeros(50, DType::F32, dev)?,
            w2: Var::from_tensor(&(Tensor::randn(0f32, 1.0, (50, 10), dev)? * 0.01)?)?,
            b2: Var::zeros(10, DType::F32, dev)?,
        })
    }
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w1)?
            .broadcast_add(&self.b1)?
            .relu()?
            .matmul(&self.w2)?
            .broadcast_add(&self.b2)
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let data = arg("--data").ok_or("--data DIR")?;
    let batches = std::fs::read(arg("--batches").ok_or("--batches FILE")?)?;
    let repeat: usize = arg("--repeat").map_or(Ok(3), |r| r.parse())?;
    let dev = Device::Cpu;
    let x = images(&data, "train-images-idx3-ubyte", &dev)?;
    let t = labels(&data, "train-labels-idx1-ubyte", &dev)?;
    let xt = images(&data, "t10k-images-idx3-ubyte", &dev)?;
    let tt = labels(&data, "t10k-labels-idx1-ubyte", &dev)?;
    let index: Vec<u32> = batches.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();

    let mut times = Vec::new();
    let mut net = Net::new(&dev)?;
    for _ in 0..repeat {
        net = Net::new(&dev)?;
        let mut sgd = SGD::new(vec![net.w1.clone(), net.b1.clone(), net.w2.clone(), net.b2.clone()], 0.1)?;
        let start = Instant::now();
        for batch in index.chunks_exact(100) {
            let ids = Tensor::from_slice(batch, 100, &dev)?;
            let (xb, tb) = (x.index_select(&ids, 0)?, t.index_select(&ids, 0)?);
            let loss = loss::cross_entropy(&net.forward(&xb)?, &tb)?;
            sgd.backward_step(&loss)?;
        }
        times.push(start.elapsed().as_secs_f64());
    }
    let predicted = net.forward(&xt)?.argmax(D::Minus1)?;
    let acc = predicted.eq(&tt)?.to_dtype(DType::F32)?.mean_all()?.to_scalar::<f32>()?;

    let mut predict = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for i in 0..1000 {
            let c = net.forward(&xt.narrow(0, i, 1)?)?.argmax(D::Minus1)?;
            std::hint::black_box(c);
        }
        predict.push(start.elapsed().as_secs_f64() / 1000.0 * 1e6);
    }
    times.sort_by(f64::total_cmp);
    predict.sort_by(f64::total_cmp);
    println!(
        "{{\"name\": \"candle 0.11\", \"train_s\": {:.3}, \"predict_us\": {:.3}, \"test_acc\": {:.4}}}",
        times[times.len() / 2],
        predict[2],
        acc
    );
    Ok(())
}
