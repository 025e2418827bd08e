//! sniff → limits → decode → orient → crop → resize → encode.
