//! The fuzz target's driver on stable: every seed of `fuzz/seeds/request_parsing` and many
//! deterministic mutations of them (byte flips, cuts, splices of JSON fragments) go through
//! request parsing, tensor building and response encoding, which must never panic.

use std::path::Path;

use lepton_runner::serve::fuzzing::{check_request_bytes, signatures};

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/request_parsing");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(seeds.len() >= 8, "seed corpus missing");
    seeds
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FRAGMENTS: [&[u8]; 16] = [
    b"null",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"-1",
    b"1e999",
    b"\"",
    b"[[[[",
    b"18446744073709551616",
    b"\"BYTES\"",
    b"\"shape\":[0,1]",
    b"\"data\":[]",
    b"\\u0000",
    b"\"binary_data_size\":4294967295",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data.truncate(i);
            }
            2 => {
                let i = rng.below(data.len() + 1);
                let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                data.splice(i..i, f.iter().copied());
            }
            3 if data.len() > 2 => {
                let (a, b) = (rng.below(data.len()), rng.below(data.len()));
                let (a, b) = (a.min(b), a.max(b));
                data.drain(a..b);
            }
            _ if !data.is_empty() => {
                // A different signature or protocol for the same body.
                data[0] = rng.next() as u8;
            }
            _ => {}
        }
    }
    data
}

#[test]
fn seeds_parse_and_mutations_never_panic() {
    let signatures = signatures();
    let seeds = seeds();
    for seed in &seeds {
        check_request_bytes(seed, &signatures);
    }
    let mut rng = Rng(0x5eed_1e97_0000_0001);
    for _ in 0..30_000 {
        let seed = &seeds[rng.below(seeds.len())];
        check_request_bytes(&mutate(&mut rng, seed), &signatures);
    }
}

#[test]
fn the_seeds_are_valid_requests() {
    use lepton_runner::serve::request::parse_infer;
    use lepton_runner::serve::v1::parse_predict;
    let signatures = signatures();
    for seed in seeds() {
        let (selector, rest) = seed.split_first().unwrap();
        let signature = &signatures[usize::from(*selector) % signatures.len()];
        let result = match (selector / 16) % 3 {
            0 => parse_infer(rest, None, signature),
            1 => {
                let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
                parse_infer(&rest[2..], Some(len), signature)
            }
            _ => parse_predict(rest, signature),
        };
        assert!(
            result.is_ok(),
            "{:?}: {:?}",
            String::from_utf8_lossy(rest),
            result.err()
        );
    }
}
