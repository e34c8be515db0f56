//! Parse and check arbitrary bytes: any panic or stack overflow is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // As the binary does: deep (but accepted) trees recurse deeply.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let _ = flowc::driver::check_source("fuzz.flow", &text, &flowc::check::NoFiles);
        })
        .expect("spawn")
        .join()
        .expect("parse and check do not panic");
});
