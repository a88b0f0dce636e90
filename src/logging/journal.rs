//! Is stderr the systemd journal? systemd sets `JOURNAL_STREAM=DEVICE:INODE` for a service whose
//! stdout or stderr it connects to journald; a process that inherited the variable but whose
//! stderr goes elsewhere (a pipe, a file) must not write priority prefixes there.

use std::os::fd::AsRawFd;

/// `true` when `JOURNAL_STREAM` names the device and inode of our stderr.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stat) = nix::sys::stat::fstat(std::io::stderr().as_raw_fd()) else {
        return false;
    };
    names(&stream.to_string_lossy(), stat.st_dev, stat.st_ino)
}

/// Does `DEVICE:INODE` (decimal, as systemd writes it) name `device` and `inode`?
fn names(stream: &str, device: u64, inode: u64) -> bool {
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    dev.parse() == Ok(device) && ino.parse() == Ok(inode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_must_name_both_numbers() {
        assert!(names("23:4567", 23, 4567));
        assert!(!names("23:4568", 23, 4567));
        assert!(!names("24:4567", 23, 4567));
        assert!(!names("23", 23, 4567));
        assert!(!names("x:y", 23, 4567));
    }
}
