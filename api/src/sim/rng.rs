//! A tiny deterministic random number generator (SplitMix64): the same `random_seed` must give
//! the same network on every machine, and this is all the randomness the simulation needs.

/// SplitMix64, as published by Sebastiano Vigna.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`low` when the range is empty).
    pub(super) fn range(&mut self, low: u64, high: u64) -> u64 {
        match high.checked_sub(low) {
            Some(span) if span > 0 => low + self.next_u64() % span,
            _ => low,
        }
    }

    /// 32 random bytes, as base58: a well-formed pubkey.
    pub(super) fn pubkey(&mut self) -> String {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        bs58::encode(bytes).into_string()
    }
}
