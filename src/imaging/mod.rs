//! sniff → limits → decode → orient → crop → resize → encode.

pub mod webp;
