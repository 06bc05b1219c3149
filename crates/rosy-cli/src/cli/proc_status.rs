//! A process's `/proc/<pid>/status`, read for the figures tools show (threads, resident memory).

/// The status of process `pid` ("self" for this one), if /proc shows it.
pub struct ProcStatus(String);

impl ProcStatus {
    pub fn read(pid: &str) -> Option<ProcStatus> {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .map(ProcStatus)
    }

    /// The first number of line `name:` (`Threads`, `VmRSS` in kB...).
    pub fn field(&self, name: &str) -> Option<u64> {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }
}
