//! A partner's FTP server answers MLSD with whatever it likes: each line
//! gives an entry or is skipped, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portitor::fuzzing::mlsd_entry;

fuzz_target!(|listing: &str| {
    for line in listing.lines() {
        if let Some((name, _size, _modified, _is_dir)) = mlsd_entry(line) {
            assert!(name != "." && name != "..", "{line:?}");
        }
    }
});
