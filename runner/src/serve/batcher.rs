//! Dynamic batching. Each model has one worker thread that runs its ONNX Runtime session.
//! Requests arrive already validated; the worker takes what is queued, waits up to
//! `maxDelay` only while more requests are on their way (being received or parsed), merges
//! requests with the same row shape along the batch dimension, runs the model once and
//! splits the outputs back. A lone request therefore never waits, and under load batches
//! fill from the queue that builds while the model runs.
//!
//! If a merged call fails, each request in it is run again on its own, so one request's
//! data can only ever fail that request.
//!
//! A request that finds the model idle, nothing queued and nothing else arriving has nobody to
//! be batched with: it runs at once on the thread that parsed it ([`Queue::try_inline`]),
//! which saves the two thread hand-offs (tens of microseconds) that dominate a small model's
//! latency. Only models whose warm-up showed fast calls run inline, so that a slow model never
//! holds up the HTTP threads.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ort::session::Session;
use tokio::sync::oneshot;

use super::config::BatchSettings;
use super::drift::DriftMonitor;
use super::error::ApiError;
use super::metrics::Metrics;
use super::session::{ShapedTensor, run};
use super::signature::Signature;

/// What a request gets back: every served output, in signature order.
pub type JobResult = Result<Vec<ShapedTensor>, ApiError>;

/// One validated request waiting for the model.
pub struct Job {
    /// Its inputs, in signature order.
    pub inputs: Vec<ShapedTensor>,
    /// Rows along the batch dimension.
    pub rows: usize,
    /// When it was queued.
    pub queued_at: Instant,
    /// Where the result goes; a closed receiver means the client gave up.
    pub reply: oneshot::Sender<JobResult>,
}

/// The sending side: admission control and the channel to the worker.
pub struct Queue {
    sender: Mutex<Option<Sender<Job>>>,
    queued: Arc<AtomicUsize>,
    arriving: Arc<AtomicUsize>,
    max_queued: usize,
    shared: Option<Arc<Shared>>,
    inline_max_rows: usize,
}

/// What the worker and the inline path share: the session and what a model call updates.
struct Shared {
    session: Mutex<Session>,
    signature: Arc<Signature>,
    metrics: Arc<Metrics>,
    drift: Arc<Mutex<DriftMonitor>>,
}

impl Shared {
    /// One model call, timed and counted.
    fn infer(&self, session: &mut Session, inputs: &[ShapedTensor], rows: usize) -> JobResult {
        let started = Instant::now();
        // ONNX Runtime errors come back as values; a panic in the bindings must not take the
        // worker (and every later request) down with it.
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| run(session, &self.signature, inputs)));
        self.metrics
            .inference_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batch_rows.observe(rows as f64);
        match outcome {
            Ok(Ok(outputs)) => Ok(outputs),
            Ok(Err(message)) => Err(ApiError::internal(message)),
            Err(_) => Err(ApiError::internal("the model run failed unexpectedly")),
        }
    }

    fn record_drift(&self, inputs: &[ShapedTensor], ok: bool) {
        if ok && let Ok(mut drift) = self.drift.lock() {
            drift.record(Instant::now(), inputs);
        }
    }
}

/// Marks a request as on its way to the queue while it is received and parsed; the worker
/// waits for such requests (up to `maxDelay`) rather than running a partial batch.
pub struct Arrival<'a>(&'a AtomicUsize);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Queue {
    /// Announces a request that will be submitted soon.
    pub fn arrival(&self) -> Arrival<'_> {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arrival(&self.arriving)
    }

    /// Requests waiting for the model.
    pub fn depth(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Queues `job`; 503 with Retry-After when `maxQueuedRequests` are already waiting, or
    /// when the worker has stopped. The request's `arrival` ends first: were it still counted
    /// once the job is in, the worker would wait for it as for another request.
    pub fn submit(&self, job: Job, arrival: Arrival<'_>) -> Result<(), ApiError> {
        drop(arrival);
        let before = self.queued.fetch_add(1, Ordering::AcqRel);
        if before >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::unavailable(
                format!(
                    "the server is overloaded: {} requests are already waiting (maxQueuedRequests); retry later",
                    self.max_queued
                ),
                Some(1),
            ));
        }
        let sent = match self.sender.lock() {
            Ok(guard) => guard.as_ref().is_some_and(|s| s.send(job).is_ok()),
            Err(_) => false,
        };
        if !sent {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::unavailable("the model is shutting down", Some(1)));
        }
        Ok(())
    }

    /// Runs a lone request at once on the calling thread when it is the only request in
    /// flight (`in_flight`, counting itself), the model is idle, nothing is queued and nothing
    /// else is arriving; `None` when it should be queued instead. Under concurrent load
    /// requests always go through the queue, where they are batched.
    pub fn try_inline(
        &self,
        inputs: &[ShapedTensor],
        rows: usize,
        in_flight: i64,
    ) -> Option<JobResult> {
        let shared = self.shared.as_ref()?;
        if in_flight > 1
            || rows > self.inline_max_rows
            || self.queued.load(Ordering::Acquire) > 0
            || self.arriving.load(Ordering::Acquire) > 1
        {
            return None;
        }
        let mut session = shared.session.try_lock().ok()?;
        let result = shared.infer(&mut session, inputs, rows);
        drop(session);
        shared.record_drift(inputs, result.is_ok());
        Some(result)
    }

    /// Stops taking requests; the worker finishes what is queued and exits.
    pub fn close(&self) {
        if let Ok(mut guard) = self.sender.lock() {
            guard.take();
        }
    }
}

/// What the worker needs besides the queue.
pub struct WorkerParts {
    /// The model's session.
    pub session: Session,
    /// The model's signature.
    pub signature: Arc<Signature>,
    /// Batching settings (already off for models without a batch dimension).
    pub settings: BatchSettings,
    /// Metrics to update.
    pub metrics: Arc<Metrics>,
    /// Drift state to feed.
    pub drift: Arc<Mutex<DriftMonitor>>,
    /// Largest request, in rows, that may run inline (0: never).
    pub inline_max_rows: usize,
}

/// Starts the worker thread; returns the queue that feeds it.
pub fn spawn(
    parts: WorkerParts,
    max_queued: usize,
) -> std::io::Result<(Queue, std::thread::JoinHandle<()>)> {
    let (sender, receiver) = channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let arriving = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        session: Mutex::new(parts.session),
        signature: parts.signature,
        metrics: parts.metrics,
        drift: parts.drift,
    });
    let mut worker = Worker {
        shared: shared.clone(),
        settings: parts.settings,
        receiver,
        queued: queued.clone(),
        arriving: arriving.clone(),
    };
    let handle = std::thread::Builder::new()
        .name("lepton-model".to_owned())
        .spawn(move || worker.run())?;
    Ok((
        Queue {
            sender: Mutex::new(Some(sender)),
            queued,
            arriving,
            max_queued: max_queued.max(1),
            shared: Some(shared),
            inline_max_rows: parts.inline_max_rows,
        },
        handle,
    ))
}

struct Worker {
    shared: Arc<Shared>,
    settings: BatchSettings,
    receiver: Receiver<Job>,
    queued: Arc<AtomicUsize>,
    arriving: Arc<AtomicUsize>,
}

impl Worker {
    fn take(&self, job: Job) -> Job {
        self.queued.fetch_sub(1, Ordering::AcqRel);
        job
    }

    fn run(&mut self) {
        let mut carried: Option<Job> = None;
        loop {
            let first = match carried.take() {
                Some(job) => job,
                None => match self.receiver.recv() {
                    Ok(job) => self.take(job),
                    Err(_) => return,
                },
            };
            let mut rows = first.rows;
            let mut jobs = vec![first];
            let settings = self.settings;
            if settings.enabled {
                let deadline = Instant::now() + settings.max_delay;
                while rows < settings.max_batch_size {
                    let next = match self.receiver.try_recv() {
                        Ok(job) => Some(job),
                        Err(TryRecvError::Disconnected) => None,
                        Err(TryRecvError::Empty) => {
                            let now = Instant::now();
                            if self.arriving.load(Ordering::Acquire) == 0 || now >= deadline {
                                None
                            } else {
                                self.receiver.recv_timeout(deadline - now).ok()
                            }
                        }
                    };
                    let Some(job) = next else { break };
                    let job = self.take(job);
                    if rows + job.rows > settings.max_batch_size {
                        carried = Some(job);
                        break;
                    }
                    rows += job.rows;
                    jobs.push(job);
                }
            }
            // Clients that timed out have dropped their receivers: skip their work.
            jobs.retain(|j| !j.reply.is_closed());
            for group in group_by_row_shape(jobs) {
                self.run_group(group);
            }
        }
    }

    fn run_group(&mut self, jobs: Vec<Job>) {
        let started = Instant::now();
        for job in &jobs {
            self.shared.metrics.queue_duration.observe(
                started
                    .saturating_duration_since(job.queued_at)
                    .as_secs_f64(),
            );
        }
        if jobs.len() == 1 {
            let job = jobs.into_iter().next().expect("one job");
            let result = self.infer(&job.inputs, job.rows);
            self.record_drift(&job.inputs, result.is_ok());
            let _ = job.reply.send(result);
            return;
        }
        let inputs = concatenate(&jobs);
        let total: usize = jobs.iter().map(|j| j.rows).sum();
        match self
            .infer(&inputs, total)
            .and_then(|outputs| split(&outputs, &jobs, total))
        {
            Ok(parts) => {
                for (job, outputs) in jobs.into_iter().zip(parts) {
                    let _ = job.reply.send(Ok(outputs));
                }
                self.record_drift(&inputs, true);
            }
            Err(e) => {
                tracing::warn!(error = %e.message, requests = jobs.len(), "a merged batch failed; running its requests one by one");
                for job in jobs {
                    let result = self.infer(&job.inputs, job.rows);
                    self.record_drift(&job.inputs, result.is_ok());
                    let _ = job.reply.send(result);
                }
            }
        }
    }

    fn infer(&mut self, inputs: &[ShapedTensor], rows: usize) -> JobResult {
        let mut session = self
            .shared
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.shared.infer(&mut session, inputs, rows)
    }

    fn record_drift(&self, inputs: &[ShapedTensor], ok: bool) {
        self.shared.record_drift(inputs, ok);
    }
}

/// Jobs whose inputs have the same dimensions after the first can share a model call.
fn group_by_row_shape(jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        let key = |j: &Job| -> Vec<Vec<usize>> {
            j.inputs
                .iter()
                .map(|t| t.shape[1.min(t.shape.len())..].to_vec())
                .collect()
        };
        match groups.iter_mut().find(|g| key(&g[0]) == key(&job)) {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}

fn concatenate(jobs: &[Job]) -> Vec<ShapedTensor> {
    let total: usize = jobs.iter().map(|j| j.rows).sum();
    let first = &jobs[0].inputs;
    first
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut data = t.data.clone();
            for job in &jobs[1..] {
                data.append(&job.inputs[i].data);
            }
            let mut shape = t.shape.clone();
            if let Some(d) = shape.first_mut() {
                *d = total;
            }
            ShapedTensor { shape, data }
        })
        .collect()
}

/// Splits each output along its first dimension by the jobs' rows.
fn split(
    outputs: &[ShapedTensor],
    jobs: &[Job],
    total: usize,
) -> Result<Vec<Vec<ShapedTensor>>, ApiError> {
    let mut parts: Vec<Vec<ShapedTensor>> = jobs
        .iter()
        .map(|_| Vec::with_capacity(outputs.len()))
        .collect();
    for output in outputs {
        if output.shape.first() != Some(&total) {
            return Err(ApiError::internal(format!(
                "an output has shape {:?}, not one row per input row, so a merged batch cannot be split",
                output.shape
            )));
        }
        let per_row: usize = output.shape[1..].iter().product();
        let mut offset = 0usize;
        for (job, part) in jobs.iter().zip(parts.iter_mut()) {
            let mut shape = output.shape.clone();
            shape[0] = job.rows;
            part.push(ShapedTensor {
                shape,
                data: output
                    .data
                    .slice(offset * per_row, (offset + job.rows) * per_row),
            });
            offset += job.rows;
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::tensor::TensorData;

    fn job(rows: usize, width: usize, base: f64) -> (Job, oneshot::Receiver<JobResult>) {
        let (reply, receiver) = oneshot::channel();
        let data = (0..rows * width).map(|i| base + i as f64).collect();
        let job = Job {
            inputs: vec![ShapedTensor {
                shape: vec![rows, width],
                data: TensorData::Fp64(data),
            }],
            rows,
            queued_at: Instant::now(),
            reply,
        };
        (job, receiver)
    }

    #[test]
    fn merged_inputs_split_back_to_each_request() {
        let (a, _ra) = job(1, 2, 0.0);
        let (b, _rb) = job(3, 2, 100.0);
        let (c, _rc) = job(2, 5, 0.0);
        let groups = group_by_row_shape(vec![a, b, c]);
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let merged = concatenate(&groups[0]);
        assert_eq!(merged[0].shape, [4, 2]);
        assert_eq!(
            merged[0].data,
            TensorData::Fp64(vec![0.0, 1.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
        );
        // An "output" with one value per row splits back by rows.
        let output = ShapedTensor {
            shape: vec![4],
            data: TensorData::Int64(vec![7, 8, 9, 10]),
        };
        let parts = split(&[output], &groups[0], 4).unwrap();
        assert_eq!(parts[0][0].data, TensorData::Int64(vec![7]));
        assert_eq!(parts[1][0].shape, [3]);
        assert_eq!(parts[1][0].data, TensorData::Int64(vec![8, 9, 10]));
        // One that does not follow the rows cannot be split.
        let scalar = ShapedTensor {
            shape: vec![1],
            data: TensorData::Fp32(vec![1.0]),
        };
        assert_eq!(split(&[scalar], &groups[0], 4).unwrap_err().status, 500);
    }

    #[test]
    fn a_full_queue_refuses_with_retry_after_and_a_closed_one_says_so() {
        let (sender, _receiver) = channel();
        let queue = Queue {
            sender: Mutex::new(Some(sender)),
            queued: Arc::new(AtomicUsize::new(0)),
            arriving: Arc::new(AtomicUsize::new(0)),
            max_queued: 2,
            shared: None,
            inline_max_rows: 0,
        };
        for _ in 0..2 {
            let arrival = queue.arrival();
            assert!(queue.submit(job(1, 1, 0.0).0, arrival).is_ok());
        }
        let e = queue.submit(job(1, 1, 0.0).0, queue.arrival()).unwrap_err();
        assert_eq!((e.status, e.retry_after), (503, Some(1)));
        assert_eq!(queue.depth(), 2);
        assert_eq!(queue.arriving.load(Ordering::Acquire), 0);
        queue.close();
        queue.queued.store(0, Ordering::Release);
        let e = queue.submit(job(1, 1, 0.0).0, queue.arrival()).unwrap_err();
        assert_eq!(e.message, "the model is shutting down");
    }
}
