//! Files a person uploaded for attaching, per session: each in an unlinked
//! temporary file, never in memory, until it is sent, let go, or the session ends.
//! The HTTP route that fills it is [`crate::upload`]; a send reads it back.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The most files one session keeps at a time.
pub const MAX_FILES: usize = 100;

/// One session's uploaded files.
#[derive(Default)]
pub struct Uploads {
    files: Mutex<HashMap<String, Arc<Upload>>>,
    /// The largest message this session may send (kept up to date by sending): no
    /// file may be larger, and all kept files together at most twice that, so
    /// that a person can replace files without sending.
    limit: AtomicU64,
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads").finish_non_exhaustive()
    }
}

/// Two registries are the same only if they are one.
impl PartialEq for Uploads {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Uploads {}

/// A file taken in whole.
#[derive(Debug)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    file: std::fs::File,
}

impl Upload {
    pub fn new(name: String, content_type: String, size: u64, file: std::fs::File) -> Self {
        Upload {
            name,
            content_type,
            size,
            file,
        }
    }

    /// The file from its start. Readers share the position: one at a time (the
    /// session sends one message at a time).
    pub fn reader(&self) -> std::io::Result<tokio::fs::File> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(tokio::fs::File::from_std(file))
    }
}

/// Why an upload is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the file is larger than the largest message")]
    FileTooLarge { limit: u64 },
    #[error("the uploaded files together are too large")]
    OverTwiceTheLimit,
    #[error("too many files are kept")]
    ManyFiles,
}

impl Uploads {
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Whether `size` more bytes (one file, or what has come of it so far) may be
    /// kept beside what is kept already.
    pub fn check(&self, size: u64) -> Result<(), Refused> {
        let limit = self.limit();
        if size > limit {
            return Err(Refused::FileTooLarge { limit });
        }
        let files = self.lock();
        if files.len() >= MAX_FILES {
            return Err(Refused::ManyFiles);
        }
        let kept: u64 = files.values().map(|f| f.size).sum();
        if kept + size > limit.saturating_mul(2) {
            return Err(Refused::OverTwiceTheLimit);
        }
        Ok(())
    }

    /// Keeps `upload` under a fresh id.
    pub fn insert(&self, upload: Upload) -> Result<String, Refused> {
        self.check(upload.size)?;
        let id = crate::links::LinkRegistry::new_token();
        self.lock().insert(id.clone(), Arc::new(upload));
        Ok(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Upload>> {
        self.lock().get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Upload>>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(size: u64) -> Upload {
        Upload::new(
            "a.txt".into(),
            "text/plain".into(),
            size,
            tempfile::tempfile().expect("temp file"),
        )
    }

    #[test]
    fn files_are_held_to_the_message_limit() {
        let uploads = Uploads::default();
        uploads.set_limit(100);
        assert_eq!(
            uploads.insert(upload(101)),
            Err(Refused::FileTooLarge { limit: 100 })
        );
        let first = uploads.insert(upload(100)).expect("fits");
        let _second = uploads.insert(upload(100)).expect("fits beside");
        assert_eq!(uploads.insert(upload(1)), Err(Refused::OverTwiceTheLimit));
        assert!(uploads.remove(&first));
        assert!(!uploads.remove(&first));
        assert!(uploads.get(&first).is_none());
        assert!(uploads.insert(upload(1)).is_ok());
    }
}
