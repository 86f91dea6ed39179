//! Dense-network training on an NVIDIA GPU (`cuda` cargo feature). The algorithm is the CPU
//! trainer's (same initialisation, batch order, losses, AdamW/SGD, early stopping and the same
//! `DenseNetwork` out); matrix products run in cuBLAS and the element-wise steps in small kernels
//! compiled with NVRTC when training starts. CUDA is loaded at run time, so a build with the
//! feature needs no CUDA toolkit and a machine without a GPU falls back to the CPU trainer.
//!
//! Validation runs on the CPU from a copy of the weights after each epoch, so metrics, early
//! stopping and the exported model come from exactly the code the CPU path uses.

// Kernel launches and cuBLAS calls are `unsafe` in cudarc: the compiler cannot check argument
// types against a kernel's signature or buffer sizes against the shapes given to cuBLAS. Each
// call below states the invariant that makes it sound.
#![allow(unsafe_code)]

use std::sync::Arc;

use cudarc::cublas::{CudaBlas, Gemm, GemmConfig, sys::cublasOperation_t};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use lepton_crds::v1alpha1::{Activation, Optimizer};
use ndarray::{Array1, Array2};

use super::dense::{DenseConfig, DenseNetwork, Layer, initialise, target_matrix, validate_epoch};
use super::{Evaluations, FitContext, Fitted, Model, TrainingSet, ValidationSet};
use crate::error::TrainError;
use crate::metrics::TaskKind;
use crate::rng::Rng;

const OP_N: cublasOperation_t = cublasOperation_t::CUBLAS_OP_N;
const OP_T: cublasOperation_t = cublasOperation_t::CUBLAS_OP_T;

const KERNELS: &str = r#"
extern "C" __global__ void gather_rows(const float* src, const unsigned int* rows, float* dst, int n, int cols) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n * cols) { dst[i] = src[(size_t)rows[i / cols] * cols + i % cols]; }
}
__device__ float activate(int kind, float x) {
    if (kind == 0) return x > 0.0f ? x : 0.0f;
    if (kind == 1) return tanhf(x);
    float t = tanhf(0.7978846f * (x + 0.044715f * x * x * x));
    return 0.5f * x * (1.0f + t);
}
__device__ float slope(int kind, float x) {
    if (kind == 0) return x > 0.0f ? 1.0f : 0.0f;
    if (kind == 1) { float t = tanhf(x); return 1.0f - t * t; }
    float t = tanhf(0.7978846f * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * 0.7978846f * (1.0f + 3.0f * 0.044715f * x * x);
}
__device__ float uniform(unsigned long long seed, unsigned long long i) {
    unsigned long long z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}
extern "C" __global__ void add_bias(float* z, const float* bias, int n, int cols) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n * cols) { z[i] += bias[i % cols]; }
}
extern "C" __global__ void activate_dropout(const float* z, float* h, float* mask, int n, int kind, float keep, unsigned long long seed) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float m = keep < 1.0f ? (uniform(seed, i) < keep ? 1.0f / keep : 0.0f) : 1.0f;
        mask[i] = m;
        h[i] = activate(kind, z[i]) * m;
    }
}
extern "C" __global__ void output_gradient(float* z, const float* y, const float* w, int rows, int cols, int task, float total_weight) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float* zr = z + r * cols;
    const float* yr = y + r * cols;
    float scale = w[r] / total_weight;
    if (task == 0) { zr[0] = (1.0f / (1.0f + expf(-zr[0])) - yr[0]) * scale; return; }
    if (task == 2) { zr[0] = (zr[0] - yr[0]) * scale; return; }
    float m = zr[0];
    for (int j = 1; j < cols; j++) m = fmaxf(m, zr[j]);
    float s = 0.0f;
    for (int j = 0; j < cols; j++) { zr[j] = expf(zr[j] - m); s += zr[j]; }
    for (int j = 0; j < cols; j++) zr[j] = (zr[j] / s - yr[j]) * scale;
}
extern "C" __global__ void column_sums(const float* m, float* out, int rows, int cols) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += m[r * cols + j];
    out[j] = s;
}
extern "C" __global__ void backward_activation(float* d, const float* z, const float* mask, int n, int kind) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { d[i] *= slope(kind, z[i]) * mask[i]; }
}
extern "C" __global__ void adamw(float* p, const float* g, float* m, float* v, int n, float lr, float wd, float c1, float c2) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        m[i] = 0.9f * m[i] + 0.1f * g[i];
        v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
        float update = (m[i] / c1) / (sqrtf(v[i] / c2) + 1e-8f);
        p[i] -= lr * (update + wd * p[i]);
    }
}
extern "C" __global__ void sgd(float* p, const float* g, float* velocity, int n, float lr, float l2) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        velocity[i] = 0.9f * velocity[i] + g[i] + l2 * p[i];
        p[i] -= lr * velocity[i];
    }
}
"#;

/// Why the GPU cannot be used; training then runs on the CPU.
pub fn gpu_unavailable() -> Option<String> {
    // cudarc panics when a library it needs cannot be loaded, so each one is probed first.
    // SAFETY: each probe only tries to open the shared library (dlopen) and closes it again.
    let present = unsafe {
        [
            (
                cudarc::driver::sys::is_culib_present(),
                "the CUDA driver (libcuda.so)",
            ),
            (
                cudarc::cublas::sys::is_culib_present(),
                "cuBLAS (libcublas.so)",
            ),
            (
                cudarc::nvrtc::sys::is_culib_present(),
                "NVRTC (libnvrtc.so)",
            ),
        ]
    };
    if let Some((_, missing)) = present.iter().find(|(found, _)| !found) {
        return Some(format!(
            "{missing} is not installed or not on the library path"
        ));
    }
    match CudaContext::device_count() {
        Ok(n) if n > 0 => None,
        Ok(_) => Some("no CUDA device is visible".into()),
        Err(e) => Some(format!("CUDA is not usable: {e}")),
    }
}

struct Kernels {
    gather_rows: CudaFunction,
    add_bias: CudaFunction,
    activate_dropout: CudaFunction,
    output_gradient: CudaFunction,
    column_sums: CudaFunction,
    backward_activation: CudaFunction,
    adamw: CudaFunction,
    sgd: CudaFunction,
}

struct DeviceLayer {
    weights: CudaSlice<f32>,
    bias: CudaSlice<f32>,
    inputs: usize,
    outputs: usize,
    m_w: CudaSlice<f32>,
    v_w: CudaSlice<f32>,
    m_b: CudaSlice<f32>,
    v_b: CudaSlice<f32>,
    grad_w: CudaSlice<f32>,
    grad_b: CudaSlice<f32>,
}

/// Trains a dense network on GPU 0.
pub fn fit(
    config: &DenseConfig,
    ctx: &FitContext,
    train: &TrainingSet,
    validation: &ValidationSet,
) -> Result<Fitted, TrainError> {
    let family = config.family();
    let family_name = super::family_name(family);
    let fail = |what: &str, e: &dyn std::fmt::Display| TrainError::TrainingDiverged {
        family: family_name,
        detail: format!("the GPU failed while {what}: {e}"),
    };
    let device = CudaContext::new(0).map_err(|e| fail("opening device 0", &e))?;
    let stream = device.default_stream();
    let blas = CudaBlas::new(stream.clone()).map_err(|e| fail("starting cuBLAS", &e))?;
    let ptx = cudarc::nvrtc::compile_ptx(KERNELS).map_err(|e| fail("compiling kernels", &e))?;
    let module = device
        .load_module(ptx)
        .map_err(|e| fail("loading kernels", &e))?;
    let load = |name: &str| {
        module
            .load_function(name)
            .map_err(|e| fail("loading a kernel", &e))
    };
    let k = Kernels {
        gather_rows: load("gather_rows")?,
        add_bias: load("add_bias")?,
        activate_dropout: load("activate_dropout")?,
        output_gradient: load("output_gradient")?,
        column_sums: load("column_sums")?,
        backward_activation: load("backward_activation")?,
        adamw: load("adamw")?,
        sgd: load("sgd")?,
    };

    let mut rng = Rng::new(ctx.seed);
    let (inputs, outputs, rows) = (train.x.cols, ctx.head.raw_width(), train.x.rows);
    let initial = initialise(config, inputs, outputs, &mut rng.fork(1));
    let mut layers = upload(&stream, &initial).map_err(|e| fail("uploading weights", &e))?;
    let targets = target_matrix(ctx, train.y);
    let x_all = stream
        .clone_htod(&train.x.values)
        .map_err(|e| fail("uploading features", &e))?;
    let y_all = stream
        .clone_htod(targets.as_slice().unwrap_or(&[]))
        .map_err(|e| fail("uploading targets", &e))?;
    let w_all = stream
        .clone_htod(train.weights)
        .map_err(|e| fail("uploading weights", &e))?;
    let batch = config.batch_size.clamp(1, rows.max(1));
    let widths: Vec<usize> = std::iter::once(inputs)
        .chain(config.hidden_layers.iter().copied())
        .chain([outputs])
        .collect();
    let alloc = |n: usize| {
        stream
            .alloc_zeros::<f32>(n.max(1))
            .map_err(|e| fail("allocating", &e))
    };
    let mut acts: Vec<CudaSlice<f32>> = widths
        .iter()
        .map(|&w| alloc(batch * w))
        .collect::<Result<_, _>>()?;
    let mut pre: Vec<CudaSlice<f32>> = widths[1..]
        .iter()
        .map(|&w| alloc(batch * w))
        .collect::<Result<_, _>>()?;
    let mut masks: Vec<CudaSlice<f32>> = widths[1..]
        .iter()
        .map(|&w| alloc(batch * w))
        .collect::<Result<_, _>>()?;
    let mut grads: Vec<CudaSlice<f32>> = widths
        .iter()
        .map(|&w| alloc(batch * w))
        .collect::<Result<_, _>>()?;
    let mut batch_y = alloc(batch * outputs)?;
    let mut batch_w = alloc(batch)?;
    let mut index = stream
        .alloc_zeros::<u32>(batch)
        .map_err(|e| fail("allocating", &e))?;

    let mut evaluations = Evaluations::new(ctx, family, u64::from(config.epochs));
    let mut order: Vec<usize> = (0..rows).collect();
    let mut shuffle_rng = rng.fork(2);
    let mut dropout_rng = rng.fork(3);
    let mut step = 0i32;
    let task_code = match ctx.head.task {
        TaskKind::Binary => 0,
        TaskKind::Multiclass { .. } => 1,
        TaskKind::Regression => 2,
    };
    let kind = match config.activation {
        Activation::Relu => 0,
        Activation::Tanh => 1,
        Activation::Gelu => 2,
    };
    for epoch in 1..=u64::from(config.epochs) {
        shuffle_rng.shuffle(&mut order);
        for chunk in order.chunks(batch) {
            let n = chunk.len();
            let ids: Vec<u32> = chunk.iter().map(|&r| r as u32).collect();
            let total_weight: f32 = chunk
                .iter()
                .map(|&r| train.weights[r])
                .sum::<f32>()
                .max(f32::MIN_POSITIVE);
            stream
                .memcpy_htod(&ids, &mut index)
                .map_err(|e| fail("copying a batch", &e))?;
            let run = |e: cudarc::driver::DriverError| fail("running a kernel", &e);
            gather(
                &stream,
                &k.gather_rows,
                &x_all,
                &index,
                &mut acts[0],
                n,
                inputs,
            )
            .map_err(run)?;
            gather(
                &stream,
                &k.gather_rows,
                &y_all,
                &index,
                &mut batch_y,
                n,
                outputs,
            )
            .map_err(run)?;
            gather(&stream, &k.gather_rows, &w_all, &index, &mut batch_w, n, 1).map_err(run)?;
            let last = layers.len() - 1;
            for (l, layer) in layers.iter().enumerate() {
                let (lower, upper) = acts.split_at_mut(l + 1);
                let target = if l == last {
                    &mut grads[l + 1]
                } else {
                    &mut pre[l]
                };
                matmul_forward(&blas, layer, &lower[l], target, n)
                    .map_err(|e| fail("multiplying", &e))?;
                let size = n * layer.outputs;
                // SAFETY: `target` holds at least n * outputs floats and `bias` `outputs` floats.
                unsafe {
                    stream
                        .launch_builder(&k.add_bias)
                        .arg(target)
                        .arg(&layer.bias)
                        .arg(&(n as i32))
                        .arg(&(layer.outputs as i32))
                        .launch(LaunchConfig::for_num_elems(size as u32))
                }
                .map_err(run)?;
                if l < last {
                    let keep = 1.0 - config.dropout;
                    let seed = dropout_rng.next_u64();
                    // SAFETY: z, h and mask each hold at least `size` floats.
                    unsafe {
                        stream
                            .launch_builder(&k.activate_dropout)
                            .arg(&pre[l])
                            .arg(&mut upper[0])
                            .arg(&mut masks[l])
                            .arg(&(size as i32))
                            .arg(&kind)
                            .arg(&keep)
                            .arg(&seed)
                            .launch(LaunchConfig::for_num_elems(size as u32))
                    }
                    .map_err(run)?;
                }
            }
            // SAFETY: the logits (grads[last + 1]) and batch_y hold n * outputs floats, batch_w n.
            unsafe {
                stream
                    .launch_builder(&k.output_gradient)
                    .arg(&mut grads[last + 1])
                    .arg(&batch_y)
                    .arg(&batch_w)
                    .arg(&(n as i32))
                    .arg(&(outputs as i32))
                    .arg(&task_code)
                    .arg(&total_weight)
                    .launch(LaunchConfig::for_num_elems(n as u32))
            }
            .map_err(run)?;
            for l in (0..=last).rev() {
                let (below, above) = grads.split_at_mut(l + 1);
                let layer = &mut layers[l];
                matmul_weight_gradient(&blas, layer, &acts[l], &above[0], n)
                    .map_err(|e| fail("multiplying", &e))?;
                // SAFETY: the gradient holds n * outputs floats and grad_b `outputs` floats.
                unsafe {
                    stream
                        .launch_builder(&k.column_sums)
                        .arg(&above[0])
                        .arg(&mut layer.grad_b)
                        .arg(&(n as i32))
                        .arg(&(layer.outputs as i32))
                        .launch(LaunchConfig::for_num_elems(layer.outputs as u32))
                }
                .map_err(run)?;
                if l > 0 {
                    matmul_input_gradient(&blas, layer, &above[0], &mut below[l], n)
                        .map_err(|e| fail("multiplying", &e))?;
                    let size = n * layer.inputs;
                    // SAFETY: the input gradient, pre-activation and mask hold `size` floats.
                    unsafe {
                        stream
                            .launch_builder(&k.backward_activation)
                            .arg(&mut below[l])
                            .arg(&pre[l - 1])
                            .arg(&masks[l - 1])
                            .arg(&(size as i32))
                            .arg(&kind)
                            .launch(LaunchConfig::for_num_elems(size as u32))
                    }
                    .map_err(run)?;
                }
            }
            step = step.saturating_add(1);
            for layer in &mut layers {
                update(&stream, &k, layer, config, step).map_err(run)?;
            }
        }
        let network = download(&stream, &layers, config.activation)
            .map_err(|e| fail("copying weights back", &e))?;
        let metrics = validate_epoch(&network, ctx, validation, family_name, epoch)?;
        if evaluations.record(epoch, metrics, || network) {
            break;
        }
    }
    evaluations.finish(Model::Dense)
}

fn upload(
    stream: &Arc<CudaStream>,
    network: &DenseNetwork,
) -> Result<Vec<DeviceLayer>, cudarc::driver::DriverError> {
    network
        .layers
        .iter()
        .map(|l| {
            let (outputs, inputs) = l.weights.dim();
            let weights: Vec<f32> = l.weights.iter().copied().collect();
            Ok(DeviceLayer {
                weights: stream.clone_htod(&weights)?,
                bias: stream.clone_htod(&l.bias.to_vec())?,
                inputs,
                outputs,
                m_w: stream.alloc_zeros(weights.len())?,
                v_w: stream.alloc_zeros(weights.len())?,
                m_b: stream.alloc_zeros(outputs)?,
                v_b: stream.alloc_zeros(outputs)?,
                grad_w: stream.alloc_zeros(weights.len())?,
                grad_b: stream.alloc_zeros(outputs)?,
            })
        })
        .collect()
}

fn download(
    stream: &Arc<CudaStream>,
    layers: &[DeviceLayer],
    activation: Activation,
) -> Result<DenseNetwork, cudarc::driver::DriverError> {
    let layers = layers
        .iter()
        .map(|l| {
            let weights = stream.clone_dtoh(&l.weights)?;
            let bias = stream.clone_dtoh(&l.bias)?;
            Ok(Layer {
                weights: Array2::from_shape_vec((l.outputs, l.inputs), weights)
                    .unwrap_or_else(|_| Array2::zeros((l.outputs, l.inputs))),
                bias: Array1::from_vec(bias),
            })
        })
        .collect::<Result<_, cudarc::driver::DriverError>>()?;
    Ok(DenseNetwork { layers, activation })
}

fn gather(
    stream: &Arc<CudaStream>,
    f: &CudaFunction,
    src: &CudaSlice<f32>,
    rows: &CudaSlice<u32>,
    dst: &mut CudaSlice<f32>,
    n: usize,
    cols: usize,
) -> Result<(), cudarc::driver::DriverError> {
    let size = n * cols;
    // SAFETY: `rows` holds n indices below the source's row count; `dst` holds n * cols floats.
    unsafe {
        stream
            .launch_builder(f)
            .arg(src)
            .arg(rows)
            .arg(dst)
            .arg(&(n as i32))
            .arg(&(cols as i32))
            .launch(LaunchConfig::for_num_elems(size as u32))
    }
    .map(|_| ())
}

/// `C = op(A) · op(B)` in cuBLAS's column-major terms: `(op_a, op_b)`, `(m, n, k)`, `(lda, ldb, ldc)`.
fn gemm_config(
    (transa, transb): (cublasOperation_t, cublasOperation_t),
    (m, n, k): (usize, usize, usize),
    (lda, ldb, ldc): (usize, usize, usize),
) -> GemmConfig<f32> {
    GemmConfig {
        transa,
        transb,
        m: m as i32,
        n: n as i32,
        k: k as i32,
        alpha: 1.0,
        lda: lda as i32,
        ldb: ldb as i32,
        beta: 0.0,
        ldc: ldc as i32,
    }
}

/// Row-major `z (n × out) = a (n × in) · weightsᵀ`, as column-major `zᵀ = W · aᵀ`.
fn matmul_forward(
    blas: &CudaBlas,
    layer: &DeviceLayer,
    a: &CudaSlice<f32>,
    z: &mut CudaSlice<f32>,
    n: usize,
) -> Result<(), cudarc::cublas::result::CublasError> {
    let cfg = gemm_config(
        (OP_T, OP_N),
        (layer.outputs, n, layer.inputs),
        (layer.inputs, layer.inputs, layer.outputs),
    );
    // SAFETY: weights hold out * in floats, `a` at least n * in, `z` at least n * out.
    unsafe { blas.gemm(cfg, &layer.weights, a, z) }
}

/// Row-major `grad_w (out × in) = dzᵀ (out × n) · a (n × in)`, as column-major `grad_wᵀ = aᵀ · dz`.
fn matmul_weight_gradient(
    blas: &CudaBlas,
    layer: &mut DeviceLayer,
    a: &CudaSlice<f32>,
    dz: &CudaSlice<f32>,
    n: usize,
) -> Result<(), cudarc::cublas::result::CublasError> {
    let cfg = gemm_config(
        (OP_N, OP_T),
        (layer.inputs, layer.outputs, n),
        (layer.inputs, layer.outputs, layer.inputs),
    );
    // SAFETY: `a` holds n * in floats, `dz` n * out, grad_w out * in.
    unsafe { blas.gemm(cfg, a, dz, &mut layer.grad_w) }
}

/// Row-major `da (n × in) = dz (n × out) · weights (out × in)`, as column-major `daᵀ = Wᵀ · dzᵀ`.
fn matmul_input_gradient(
    blas: &CudaBlas,
    layer: &DeviceLayer,
    dz: &CudaSlice<f32>,
    da: &mut CudaSlice<f32>,
    n: usize,
) -> Result<(), cudarc::cublas::result::CublasError> {
    let cfg = gemm_config(
        (OP_N, OP_N),
        (layer.inputs, n, layer.outputs),
        (layer.inputs, layer.outputs, layer.inputs),
    );
    // SAFETY: weights hold out * in floats, `dz` n * out, `da` at least n * in.
    unsafe { blas.gemm(cfg, &layer.weights, dz, da) }
}

fn update(
    stream: &Arc<CudaStream>,
    k: &Kernels,
    layer: &mut DeviceLayer,
    config: &DenseConfig,
    step: i32,
) -> Result<(), cudarc::driver::DriverError> {
    let (nw, nb) = ((layer.outputs * layer.inputs) as i32, layer.outputs as i32);
    let (lr, wd) = (config.learning_rate, config.weight_decay);
    match config.optimizer {
        Optimizer::Adam => {
            let c1 = 1.0 - 0.9f32.powi(step);
            let c2 = 1.0 - 0.999f32.powi(step);
            // SAFETY: parameter, gradient and both moment buffers hold nw (nb) floats.
            unsafe {
                stream
                    .launch_builder(&k.adamw)
                    .arg(&mut layer.weights)
                    .arg(&layer.grad_w)
                    .arg(&mut layer.m_w)
                    .arg(&mut layer.v_w)
                    .arg(&nw)
                    .arg(&lr)
                    .arg(&wd)
                    .arg(&c1)
                    .arg(&c2)
                    .launch(LaunchConfig::for_num_elems(nw as u32))?;
                stream
                    .launch_builder(&k.adamw)
                    .arg(&mut layer.bias)
                    .arg(&layer.grad_b)
                    .arg(&mut layer.m_b)
                    .arg(&mut layer.v_b)
                    .arg(&nb)
                    .arg(&lr)
                    .arg(&0.0f32)
                    .arg(&c1)
                    .arg(&c2)
                    .launch(LaunchConfig::for_num_elems(nb as u32))?;
            }
        }
        Optimizer::Sgd => {
            // SAFETY: parameter, gradient and velocity buffers hold nw (nb) floats.
            unsafe {
                stream
                    .launch_builder(&k.sgd)
                    .arg(&mut layer.weights)
                    .arg(&layer.grad_w)
                    .arg(&mut layer.m_w)
                    .arg(&nw)
                    .arg(&lr)
                    .arg(&wd)
                    .launch(LaunchConfig::for_num_elems(nw as u32))?;
                stream
                    .launch_builder(&k.sgd)
                    .arg(&mut layer.bias)
                    .arg(&layer.grad_b)
                    .arg(&mut layer.m_b)
                    .arg(&nb)
                    .arg(&lr)
                    .arg(&0.0f32)
                    .launch(LaunchConfig::for_num_elems(nb as u32))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lepton_crds::v1alpha1::{EarlyStopping, Metric};

    use super::*;
    use crate::metrics::Targets;
    use crate::models::Head;
    use crate::preprocess::Features;
    use crate::progress::NullReporter;

    /// On a machine with a GPU, the GPU trainer learns XOR as the CPU trainer does; without one,
    /// the runner reports why it falls back.
    #[test]
    fn the_gpu_trainer_learns_what_the_cpu_trainer_learns() {
        if let Some(why) = gpu_unavailable() {
            assert!(
                std::env::var("LEPTON_REQUIRE_GPU").as_deref() != Ok("1"),
                "LEPTON_REQUIRE_GPU=1 but the GPU is unusable: {why}"
            );
            assert!(!why.is_empty());
            assert_eq!(
                crate::train::select_device(1),
                crate::train::Device::Cpu {
                    gpu_fallback: Some(why)
                }
            );
            return;
        }
        let mut rng = Rng::new(1);
        let (mut values, mut y) = (Vec::new(), Vec::new());
        for _ in 0..2000 {
            let (a, b) = (rng.uniform() * 2.0 - 1.0, rng.uniform() * 2.0 - 1.0);
            values.extend([a as f32, b as f32]);
            y.push(usize::from((a > 0.0) != (b > 0.0)));
        }
        let x = Features {
            values,
            rows: 2000,
            cols: 2,
        };
        let y = Targets::Classes(y);
        let weights = vec![1.0; 2000];
        let reporter = NullReporter;
        let ctx = FitContext {
            head: Head {
                task: TaskKind::Binary,
                target_mean: 0.0,
                target_std: 1.0,
            },
            metric: Metric::Accuracy,
            early_stopping: EarlyStopping {
                enabled: false,
                ..EarlyStopping::default()
            },
            seed: 7,
            deadline: None,
            reporter: &reporter,
        };
        let config = DenseConfig {
            hidden_layers: vec![16, 16],
            activation: Activation::Gelu,
            dropout: 0.1,
            learning_rate: 0.01,
            weight_decay: 1e-4,
            epochs: 40,
            batch_size: 64,
            optimizer: Optimizer::Adam,
        };
        let train = TrainingSet {
            x: &x,
            y: &y,
            weights: &weights,
        };
        let validation = ValidationSet { x: &x, y: &y };
        let gpu = fit(&config, &ctx, &train, &validation).unwrap();
        let cpu = crate::models::dense::fit(&config, &ctx, &train, &validation).unwrap();
        let accuracy = |f: &Fitted| {
            f.history
                .iter()
                .map(|h| h.metrics["accuracy"])
                .fold(0.0, f64::max)
        };
        assert!(accuracy(&gpu) > 0.93, "gpu {}", accuracy(&gpu));
        assert!(
            (accuracy(&gpu) - accuracy(&cpu)).abs() < 0.03,
            "gpu {} cpu {}",
            accuracy(&gpu),
            accuracy(&cpu)
        );
    }
}
