//! Node identities: the base58 encoding of a 32-byte key. Gossip and the credits source both
//! carry strings that are not ("TestPubkey14", empty, truncated); those are skipped and counted.

/// Whether `key` is the base58 encoding of exactly 32 bytes.
pub(crate) fn is_valid(key: &str) -> bool {
    bs58::decode(key)
        .into_vec()
        .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubkeys_must_be_base58_of_32_bytes() {
        assert!(is_valid("7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR"));
        assert!(!is_valid("TestPubkey14"));
        assert!(!is_valid("0OIl"), "0, O, I and l are not base58");
        assert!(!is_valid(""));
        assert!(is_valid(&bs58::encode([7_u8; 32]).into_string()));
        assert!(
            !is_valid(&bs58::encode([7_u8; 31]).into_string()),
            "31 bytes"
        );
        assert!(
            !is_valid(&bs58::encode([7_u8; 33]).into_string()),
            "33 bytes"
        );
    }
}
