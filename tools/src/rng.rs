//! The one random number generator of the tools (SplitMix64): the same seed must give the same
//! network on every machine, for `generate` and the simulated network alike. Not for secrets.

/// SplitMix64, as published by Sebastiano Vigna.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`low` when the range is empty).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        match high.checked_sub(low) {
            Some(span) if span > 0 => low + self.next_u64() % span,
            _ => low,
        }
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.range(0, bound)
    }

    /// 32 random bytes, as base58: a well-formed pubkey.
    pub fn pubkey(&mut self) -> String {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        bs58::encode(bytes).into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_keys() {
        assert_eq!(Rng::new(7).pubkey(), Rng::new(7).pubkey());
        assert_ne!(Rng::new(8).pubkey(), Rng::new(7).pubkey());
    }

    #[test]
    fn ranges_stay_inside_their_bounds() {
        let mut rng = Rng::new(1);
        assert!((0..1000).all(|_| (5..9).contains(&rng.range(5, 9))));
        assert_eq!(rng.range(4, 4), 4);
        assert_eq!(rng.below(0), 0);
    }
}
