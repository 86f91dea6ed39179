//! The `lepton` command.

fn main() {}
