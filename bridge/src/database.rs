//! The bridge's one redb file, `postern.redb` in `data_dir`, opened once per
//! process and shared by what keeps something in it: the POP3 store
//! ([`crate::mail::Store`]) and each user's identities and correspondents
//! ([`crate::profiles`]). Each makes its own tables when it starts; the `meta`
//! table holds the file's layout version, checked here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

/// The version of the table layout; a file in another one is refused, not guessed
/// at. Tables added later do not change it: an older file simply lacks them.
pub const FORMAT: u64 = 1;
const FORMAT_KEY: &str = "format";

/// `&str -> u64`: `format`, and counters the tables' owners keep.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the folder {} for the bridge's database", .path.display())]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the bridge's database {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    #[error("the bridge's database {} has layout version {found}; this bridge reads version {FORMAT}", .path.display())]
    Format { path: PathBuf, found: u64 },
}

/// Opens or creates the file (its folder too, if missing). Open once per
/// process: redb locks the file, so a second open fails while the first is alive.
pub fn open(path: &Path) -> Result<Arc<Database>, DatabaseError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DatabaseError::CreateFolder {
            path: parent.to_owned(),
            source,
        })?;
    }
    let open_error = |source: redb::Error| DatabaseError::Open {
        path: path.to_owned(),
        source,
    };
    let db = Database::create(path).map_err(|e| open_error(e.into()))?;
    let txn = db.begin_write().map_err(|e| open_error(e.into()))?;
    {
        let mut meta = txn.open_table(META).map_err(|e| open_error(e.into()))?;
        let found = meta
            .get(FORMAT_KEY)
            .map_err(|e| open_error(e.into()))?
            .map(|v| v.value());
        match found {
            None => {
                meta.insert(FORMAT_KEY, FORMAT)
                    .map_err(|e| open_error(e.into()))?;
            }
            Some(FORMAT) => {}
            Some(found) => {
                return Err(DatabaseError::Format {
                    path: path.to_owned(),
                    found,
                });
            }
        }
    }
    txn.commit().map_err(|e| open_error(e.into()))?;
    Ok(Arc::new(db))
}

/// A database in memory, for a bridge without `data_dir`: what it keeps lasts as
/// long as the process.
pub fn in_memory() -> Result<Arc<Database>, redb::Error> {
    let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
    Ok(Arc::new(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_another_layout_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.redb");
        {
            let db = open(&path).expect("open");
            let txn = db.begin_write().expect("write");
            txn.open_table(META)
                .expect("meta")
                .insert(FORMAT_KEY, FORMAT + 1)
                .expect("insert");
            txn.commit().expect("commit");
        }
        let error = open(&path).expect_err("refused");
        assert!(
            matches!(error, DatabaseError::Format { found, .. } if found == FORMAT + 1),
            "{error}"
        );
    }
}
