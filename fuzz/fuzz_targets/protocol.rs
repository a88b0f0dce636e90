//! Fuzzes the control-protocol decoder: any bytes decode to a request or an error, never a
//! panic; whatever decodes survives a round trip through serde_json unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use supervisor::control::protocol::{MAX_REQUEST_BYTES, decode};

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(request) => {
            assert!(data.len() <= MAX_REQUEST_BYTES);
            let line = serde_json::to_vec(&request).expect("a request serializes");
            assert_eq!(decode(&line), Ok(request), "round trip");
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
