//! Key material and AEAD: the only module that touches master-key bytes.
