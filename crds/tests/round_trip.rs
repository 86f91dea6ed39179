//! Complete specs and statuses, with every field set, survive YAML and JSON round trips, and
//! complete specs are admitted by the generated CRDs.

use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use lepton_crds::admission::lepton_validators;
use lepton_crds::v1alpha1::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

fn time() -> Time {
    Time(Timestamp::from_second(1_800_000_000).unwrap())
}

fn s3() -> S3Options {
    S3Options {
        endpoint: Some("https://minio.storage.svc:9000".into()),
        region: Some("eu-west-1".into()),
        credentials_secret: Some("minio-credentials".into()),
        force_path_style: Some(true),
    }
}

fn runner() -> RunnerOverrides {
    RunnerOverrides {
        image: Some("registry.example.org/lepton/runner:0.1.0".into()),
        image_pull_policy: Some(ImagePullPolicy::IfNotPresent),
        service_account_name: Some("lepton-runner".into()),
        env: vec![EnvVar {
            name: "HTTPS_PROXY".into(),
            value: Some("http://proxy:3128".into()),
            ..Default::default()
        }],
    }
}

fn resources(gpus: u32) -> ComputeResources {
    ComputeResources {
        node_pool: Some("a100-spot".into()),
        gpus,
        cpu: Some(Quantity("4".into())),
        memory: Some(Quantity("16Gi".into())),
    }
}

fn full_training_spec() -> TrainingJobSpec {
    TrainingJobSpec {
        data: DataSpec {
            source: "s3://datasets/islp/Default.csv.gz".into(),
            format: DataFormat::Csv,
            csv: CsvOptions {
                delimiter: Some(";".into()),
                header: false,
                null_values: vec!["-".into()],
            },
            s3: Some(s3()),
            target: "default".into(),
            task: Task::Binary,
            validation_fraction: 0.25,
            drop_columns: vec!["student".into()],
            preprocessing: Preprocessing {
                remove_duplicates: false,
                drop_id_and_constant_columns: false,
                imputation: Imputation {
                    enabled: true,
                    numeric: NumericImputation::Mean,
                    missing_indicator: false,
                },
                outliers: OutlierClipping {
                    enabled: false,
                    lower_quantile: 0.01,
                    upper_quantile: 0.99,
                },
                categorical: CategoricalEncoding {
                    enabled: true,
                    max_categories: 8,
                    min_frequency: 2,
                },
                standardize: false,
                stratify: false,
                class_weights: ClassWeights::None,
            },
        },
        model: ModelSpec {
            family: ModelFamily::Auto,
            candidates: Some(vec![ConcreteModelFamily::Gbdt, ConcreteModelFamily::Mlp]),
            metric: Some(Metric::LogLoss),
            hyperparameters: Hyperparameters {
                learning_rate: Some(0.01),
                epochs: Some(30),
                batch_size: Some(128),
                optimizer: Some(Optimizer::Sgd),
                hidden_layers: Some(vec![128, 64]),
                activation: Some(Activation::Gelu),
                dropout: Some(0.2),
                weight_decay: Some(0.001),
                num_trees: Some(500),
                max_depth: Some(5),
                min_samples_leaf: Some(10),
                subsample: Some(0.8),
                feature_fraction: Some(0.9),
                max_bins: Some(128),
            },
            early_stopping: EarlyStopping {
                enabled: true,
                patience: 5,
                min_delta: 0.001,
            },
            seed: 7,
        },
        resources: resources(1),
        output: Some(OutputSpec {
            uri: "s3://models/credit".into(),
            s3: Some(s3()),
        }),
        run_policy: RunPolicy {
            backoff_limit: 3,
            active_deadline_seconds: Some(3600),
            ttl_seconds_after_finished: Some(600),
            suspend: true,
            priority_class_name: Some("ml-batch".into()),
        },
        runner: Some(runner()),
    }
}

fn full_training_status() -> TrainingJobStatus {
    TrainingJobStatus {
        phase: Some(TrainingJobPhase::Succeeded),
        conditions: vec![Condition {
            type_: "Succeeded".into(),
            status: "True".into(),
            reason: "TrainingCompleted".into(),
            message: "trained gbdt".into(),
            observed_generation: Some(2),
            last_transition_time: time(),
        }],
        observed_generation: Some(2),
        start_time: Some(time()),
        completion_time: Some(time()),
        attempts: Some(1),
        progress: Some(TrainingProgress {
            family: Some(ConcreteModelFamily::Gbdt),
            step: Some(120),
            total_steps: Some(500),
            metrics: BTreeMap::from([("auc".into(), 0.95)]),
            objective_curve: vec![
                CurvePoint {
                    step: 10,
                    value: 0.9,
                },
                CurvePoint {
                    step: 120,
                    value: 0.95,
                },
            ],
            updated_at: Some(time()),
        }),
        objective: Some(ObjectiveValue {
            metric: Metric::Auc,
            value: 0.951,
        }),
        metrics: BTreeMap::from([("auc".into(), 0.951), ("logLoss".into(), 0.08)]),
        data: Some(DataSummary {
            rows_read: Some(10_000),
            training_rows: Some(8_000),
            validation_rows: Some(2_000),
            features: Some(4),
            task: Some(Task::Binary),
        }),
        cost: Some(TrainingCost {
            gpu_hours: Some(0.1),
            pod_hours: Some(0.1),
            price_per_hour: Some(2.5),
            total: Some(0.25),
            currency: Some("USD".into()),
        }),
        model: Some(ModelArtifact {
            uri: Some("s3://models/credit/model.onnx".into()),
            sha256: Some("a".repeat(64)),
            size_bytes: Some(123_456),
            family: Some(ConcreteModelFamily::Gbdt),
            latency_p50_ms: Some(0.05),
            latency_p99_ms: Some(0.2),
            input_columns: Some(3),
            input_schema: Some("student:string,balance:double,income:double".into()),
        }),
    }
}

fn full_sweep_spec() -> TuningSweepSpec {
    let mut template = full_training_spec();
    template.model.family = ModelFamily::Mlp;
    template.model.candidates = None;
    TuningSweepSpec {
        objective: Objective {
            metric: Metric::Auc,
            goal: Some(Goal::Maximize),
            target_value: Some(0.97),
        },
        pareto_objectives: vec![ParetoObjective::Latency, ParetoObjective::ModelSize],
        algorithm: Algorithm {
            type_: AlgorithmType::Tpe,
            seed: 3,
            grid: GridSettings {
                points_per_parameter: 5,
            },
            tpe: TpeSettings {
                startup_trials: 4,
                candidates: 32,
                gamma: 0.2,
            },
            fidelity: FidelitySettings {
                parameter: FidelityParameter::NumTrees,
                min_resource: 10,
                max_resource: 810,
                reduction_factor: 3,
                sampler: FidelitySampler::Random,
            },
        },
        early_stopping: Some(SweepEarlyStopping {
            median_stop: MedianStop {
                min_trials: 4,
                start_step: 3,
            },
        }),
        parameters: vec![
            ParameterSpec {
                name: TunableParameter::LearningRate,
                type_: ParameterType::Double,
                min: Some(0.0001),
                max: Some(0.1),
                scale: Scale::Log,
                values: None,
                families: Some(vec![ConcreteModelFamily::Mlp]),
            },
            ParameterSpec {
                name: TunableParameter::HiddenLayers,
                type_: ParameterType::Categorical,
                min: None,
                max: None,
                scale: Scale::Linear,
                values: Some(vec!["32".into(), "64,32".into()]),
                families: None,
            },
        ],
        max_trials: 40,
        parallel_trials: 4,
        max_failed_trials: 5,
        budget: Some(Budget {
            max_duration_seconds: Some(7200),
            max_cost: Some(20.0),
        }),
        template: TrialTemplate {
            metadata: Some(TrialMetadata {
                labels: BTreeMap::from([("kueue.x-k8s.io/queue-name".into(), "ml".into())]),
                annotations: BTreeMap::from([("team".into(), "risk".into())]),
            }),
            spec: template,
        },
    }
}

fn full_sweep_status() -> TuningSweepStatus {
    let trial = TrialSummary {
        name: "credit-sweep-t3".into(),
        parameters: BTreeMap::from([("learningRate".into(), "0.0031".into())]),
        objective: Some(0.95),
        metrics: BTreeMap::from([("auc".into(), 0.95)]),
        cost: Some(0.02),
        latency_p50_ms: Some(0.04),
        model_size_bytes: Some(40_000),
        training_seconds: Some(31.5),
    };
    TuningSweepStatus {
        phase: Some(TuningSweepPhase::Succeeded),
        conditions: full_training_status().conditions,
        observed_generation: Some(1),
        start_time: Some(time()),
        completion_time: Some(time()),
        progress: Some("12/12".into()),
        trials: TrialCounts {
            created: 12,
            pending: 0,
            running: 0,
            succeeded: 9,
            failed: 1,
            early_stopped: 1,
            stopped: 1,
        },
        next_trial_index: Some(12),
        best_trial: Some(trial.clone()),
        pareto_front: vec![trial],
        total_cost: Some(0.3),
        finish_reason: Some(FinishReason::MaxTrialsReached),
    }
}

fn full_deployment_spec() -> ModelDeploymentSpec {
    ModelDeploymentSpec {
        model: ModelSource {
            tuning_sweep: Some(SweepModelSelection {
                name: "credit-sweep".into(),
                select: SelectionPolicy::CheapestWithin,
                tolerance: Some(0.005),
            }),
            ..Default::default()
        },
        replicas: None,
        autoscaling: Some(Autoscaling {
            min_replicas: 2,
            max_replicas: 10,
            target_cpu_utilization_percent: 60,
            scale_down_stabilization_seconds: 120,
        }),
        resources: resources(1),
        runtime: ServingRuntime {
            execution_provider: ExecutionProvider::Cuda,
            intra_op_threads: 4,
            inter_op_threads: 2,
            batching: Batching {
                enabled: true,
                max_batch_size: 256,
                max_delay_micros: 500,
            },
            max_queued_requests: 4096,
            request_timeout_ms: 2000,
            max_request_bytes: 1 << 20,
            port: 9000,
        },
        canary: Some(Canary {
            model: ModelSource {
                uri: Some("s3://models/credit-v2/model.onnx".into()),
                sha256: Some("b".repeat(64)),
                s3: Some(s3()),
                ..Default::default()
            },
            traffic_percent: 10,
            replicas: 1,
        }),
        monitoring: Monitoring {
            drift_threshold: 0.25,
            latency_slo_ms: Some(20.0),
            window_seconds: 600,
        },
        runner: Some(runner()),
    }
}

fn full_deployment_status() -> ModelDeploymentStatus {
    let metrics = ServingMetrics {
        requests_per_second: Some(850.0),
        latency_p50_ms: Some(1.2),
        latency_p99_ms: Some(4.8),
        error_rate: Some(0.001),
        drift_score: Some(0.05),
        most_drifted_column: Some("balance".into()),
        updated_at: Some(time()),
    };
    let model = ServedModel {
        source: Some("tuningSweep/credit-sweep/credit-sweep-t3".into()),
        uri: Some("s3://models/credit/model.onnx".into()),
        sha256: Some("a".repeat(64)),
        family: Some(ConcreteModelFamily::Mlp),
    };
    ModelDeploymentStatus {
        phase: Some(ModelDeploymentPhase::Ready),
        conditions: full_training_status().conditions,
        observed_generation: Some(3),
        url: Some("http://credit.ml.svc".into()),
        replicas: Some(2),
        ready_replicas: Some(2),
        selector: Some("lepton.ai/model-deployment=credit".into()),
        model: Some(model.clone()),
        canary: Some(CanaryStatus {
            model: Some(model),
            traffic_percent: Some(10),
            ready_replicas: Some(1),
            metrics: Some(metrics.clone()),
        }),
        execution_provider: Some(ExecutionProvider::Cpu),
        metrics: Some(metrics),
    }
}

fn assert_round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let yaml = serde_yaml_ng::to_string(value).expect("serializes to YAML");
    let from_yaml: T = serde_yaml_ng::from_str(&yaml).expect("YAML deserializes");
    assert_eq!(&from_yaml, value, "YAML round trip");
    let json = serde_json::to_string(value).expect("serializes to JSON");
    let from_json: T = serde_json::from_str(&json).expect("JSON deserializes");
    assert_eq!(&from_json, value, "JSON round trip");
}

fn admit<K: Resource<DynamicType = ()> + Serialize>(object: &K) {
    let value = serde_json::to_value(object).unwrap();
    let kind = K::kind(&());
    let validators = lepton_validators();
    let validator = validators.iter().find(|v| v.kind() == kind).unwrap();
    if let Err(rejection) = validator.admit_create(&value) {
        panic!("a complete {kind} is refused: {rejection}");
    }
}

#[test]
fn training_job_round_trips_and_is_admitted() {
    let mut job = TrainingJob::new("credit", full_training_spec());
    admit(&job);
    job.status = Some(full_training_status());
    assert_round_trips(&job);
}

#[test]
fn tuning_sweep_round_trips_and_is_admitted() {
    let mut sweep = TuningSweep::new("credit-sweep", full_sweep_spec());
    admit(&sweep);
    sweep.status = Some(full_sweep_status());
    assert_round_trips(&sweep);
}

#[test]
fn model_deployment_round_trips_and_is_admitted() {
    let mut deployment = ModelDeployment::new("credit", full_deployment_spec());
    admit(&deployment);
    deployment.status = Some(full_deployment_status());
    assert_round_trips(&deployment);
}

#[test]
fn api_version_and_kind_are_set() {
    let job = TrainingJob::new("credit", full_training_spec());
    let value = serde_json::to_value(&job).unwrap();
    assert_eq!(value["apiVersion"], "lepton.ai/v1alpha1");
    assert_eq!(value["kind"], "TrainingJob");
}
