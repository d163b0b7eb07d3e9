//! What the tests that run the `mxrules` binary share: a scratch directory
//! and the runs themselves. Each test crate uses a part of it.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A scratch directory of this test crate, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "mxrules-{}-{}-{name}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `bytes` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mxrules"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .args(args);
    c
}

/// Runs `mxrules` in the crate's root with `args`.
pub fn mxrules(args: &[&str]) -> Output {
    command(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mxrules: {e}"))
}

/// Runs `mxrules` in the crate's root with `args`, feeding `stdin` from
/// another thread (so that a large input and a large output cannot block
/// each other).
pub fn mxrules_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run mxrules: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || input.write_all(&data));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("mxrules did not finish: {e}"));
    // A command that fails early may not read its input: a closed pipe is
    // not the test's concern, the exit code and output are.
    match feeder.join() {
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            panic!("cannot write to mxrules: {e}")
        }
        _ => out,
    }
}
