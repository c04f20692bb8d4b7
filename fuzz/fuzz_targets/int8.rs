//! int8 network files: whatever loads has valid scales and zero points, gives the same
//! int8 logits as its own raw layout decoded again, and saves again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use typenet::io;
use typenet::quant::Int8Network;
use typenet_fuzz::SmallInt8;

fuzz_target!(|bytes: &[u8]| {
    let path = typenet_fuzz::scratch("int8", bytes);
    if let Ok(net) = io::load_int8::<SmallInt8>(&path) {
        let mut checked = net;
        assert!(checked.prepare().is_ok(), "a loaded int8 network has an invalid scale");
        let x = [-128, 0, 127, 5];
        let again = SmallInt8::from_le_bytes(&net.to_le_bytes());
        assert_eq!(again.predict(&x), net.predict(&x), "the raw layout changed the network");
        let saved = typenet_fuzz::scratch("int8-again", &[]);
        io::save_int8(&net, &saved).expect("a loaded int8 network saves");
    }
});
