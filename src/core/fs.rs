//! Writing files so that a crash never leaves half of one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: to a temporary file beside it,
/// synced, given the permissions of the file it replaces, then renamed over
/// it. On failure the temporary file is removed and `path` is untouched.
///
/// ```
/// let path = std::env::temp_dir().join(format!("mxrules-doc-{}.txt", std::process::id()));
/// mxrules::core::fs::write_atomically(&path, b"hello\n").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello\n");
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.mxrules-tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
