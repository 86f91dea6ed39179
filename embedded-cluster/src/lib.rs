//! An in-process, Kubernetes-compatible API server and a local executor.
