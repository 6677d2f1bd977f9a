//! Files that hold secrets.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to `path` with mode 0600, atomically: a temporary file in the same directory
/// is written, synced and renamed over `path`, so a reader sees the old content or the new, and
/// a crash never leaves a half-written key. Creates the parent directory if needed.
///
/// The temporary file has an unpredictable name and is created exclusively (`O_CREAT|O_EXCL`,
/// which never follows a symlink): whoever can write the directory cannot plant a link there
/// that makes Ward write a key into another file.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let (tmp, mut f) = create_temporary(path)?;
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

/// A new file next to `path`, named after it with a random suffix, created exclusively.
fn create_temporary(path: &Path) -> io::Result<(std::path::PathBuf, std::fs::File)> {
    let mut tries = 0;
    loop {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".tmp-{}", uuid::Uuid::now_v7().simple()));
        let tmp = path.with_file_name(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("writing {}: {e}", path.display()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_mode_0600_and_replaces() {
        let dir = std::env::temp_dir().join(format!("ward-fs-{}", std::process::id()));
        let path = dir.join("sub/secret");
        super::write_private(&path, b"one").expect("write");
        super::write_private(&path, b"two").expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_planted_symlink_is_never_written_through() {
        let dir = std::env::temp_dir().join(format!("ward-fs-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"untouched").expect("victim");
        // Links where a temporary file of a predictable name would be, and at the key itself.
        let key = dir.join("secret");
        for name in [format!("secret.tmp{}", std::process::id()), "secret".into()] {
            std::os::unix::fs::symlink(&victim, dir.join(name)).expect("symlink");
        }
        super::write_private(&key, b"key").expect("write");
        assert_eq!(std::fs::read(&victim).expect("read"), b"untouched");
        assert_eq!(std::fs::read(&key).expect("read"), b"key");
        assert!(
            !std::fs::symlink_metadata(&key)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
