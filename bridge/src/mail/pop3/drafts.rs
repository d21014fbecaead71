//! Drafts of POP3 mailboxes, which have nowhere to keep them on the server: one
//! file per draft under the bridge's `data_dir`, in
//! `drafts/<mailbox id>-<uid validity>/<uid>.eml`, under uids the store gives
//! out beside the messages' ([`super::Store::next_uid`]). A mailbox the store
//! makes afresh gets another folder, so its uids never meet an old draft's.
//! Each version is written beside the last and renamed into place, so a crash
//! leaves the old version or the new one, never half of one.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::super::{MailError, Spooled};

/// The folder's id and name, as IMAP servers commonly call it.
pub const DRAFTS: &str = "Drafts";

/// Where one mailbox's drafts are: its store id and uid validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub mailbox_id: u64,
    pub uid_validity: u32,
}

/// The drafts of every POP3 mailbox of this bridge.
#[derive(Debug, Clone)]
pub struct Drafts {
    root: PathBuf,
}

fn failed(source: std::io::Error) -> MailError {
    MailError::Draft(source)
}

impl Drafts {
    pub fn new(root: PathBuf) -> Self {
        Drafts { root }
    }

    fn folder(&self, place: Place) -> PathBuf {
        self.root
            .join(format!("{}-{}", place.mailbox_id, place.uid_validity))
    }

    fn file(&self, place: Place, uid: u32) -> PathBuf {
        self.folder(place).join(format!("{uid}.eml"))
    }

    /// The drafts' uids, ascending (the order they were saved in).
    pub async fn list(&self, place: Place) -> Result<Vec<u32>, MailError> {
        let mut uids = Vec::new();
        let mut entries = match tokio::fs::read_dir(self.folder(place)).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(uids),
            Err(e) => return Err(failed(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(failed)? {
            // Only finished drafts: a version being written has another name.
            let name = entry.file_name();
            if let Some(uid) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".eml"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                uids.push(uid);
            }
        }
        uids.sort_unstable();
        Ok(uids)
    }

    /// Keeps `message` as draft `uid`.
    pub async fn keep(&self, place: Place, uid: u32, message: &Spooled) -> Result<(), MailError> {
        let folder = self.folder(place);
        tokio::fs::create_dir_all(&folder).await.map_err(failed)?;
        let writing = folder.join(format!("{uid}.writing"));
        let mut reader = message.reader()?;
        let written = async {
            let mut file = tokio::fs::File::create(&writing).await?;
            tokio::io::copy(&mut reader, &mut file).await?;
            file.flush().await?;
            file.sync_all().await?;
            tokio::fs::rename(&writing, self.file(place, uid)).await
        }
        .await;
        if let Err(error) = written {
            let _ = tokio::fs::remove_file(&writing).await;
            return Err(failed(error));
        }
        Ok(())
    }

    /// Draft `uid`'s file, if it is still kept.
    pub fn open(&self, place: Place, uid: u32) -> Result<Option<std::fs::File>, MailError> {
        match std::fs::File::open(self.file(place, uid)) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    /// Removes draft `uid`; false if it was not there.
    pub async fn remove(&self, place: Place, uid: u32) -> Result<bool, MailError> {
        remove(&self.file(place, uid)).await
    }
}

async fn remove(path: &Path) -> Result<bool, MailError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spooled(bytes: &[u8]) -> Spooled {
        let mut writer = Spooled::writer().expect("spool");
        writer.write(bytes).expect("write");
        writer.finish().expect("finish")
    }

    #[tokio::test]
    async fn drafts_are_kept_listed_replaced_and_removed_per_mailbox() {
        let dir = tempfile::tempdir().expect("temp dir");
        let drafts = Drafts::new(dir.path().join("drafts"));
        let alice = Place {
            mailbox_id: 1,
            uid_validity: 7,
        };
        let bob = Place {
            mailbox_id: 2,
            uid_validity: 7,
        };
        assert!(drafts.list(alice).await.expect("list").is_empty());
        drafts
            .keep(alice, 12, &spooled(b"Subject: b\r\n\r\nb"))
            .await
            .expect("keep");
        drafts
            .keep(alice, 3, &spooled(b"Subject: a\r\n\r\na"))
            .await
            .expect("keep");
        drafts
            .keep(bob, 4, &spooled(b"Subject: c\r\n\r\nc"))
            .await
            .expect("keep");
        // A version left half written is not a draft.
        std::fs::write(drafts.folder(alice).join("5.writing"), b"Subj").expect("write");
        assert_eq!(drafts.list(alice).await.expect("list"), [3, 12]);
        assert_eq!(drafts.list(bob).await.expect("list"), [4]);
        let mut kept = String::new();
        std::io::Read::read_to_string(
            &mut drafts.open(alice, 3).expect("open").expect("kept"),
            &mut kept,
        )
        .expect("read");
        assert_eq!(kept, "Subject: a\r\n\r\na");
        assert!(drafts.remove(alice, 3).await.expect("remove"));
        assert!(!drafts.remove(alice, 3).await.expect("remove again"));
        assert!(drafts.open(alice, 3).expect("open").is_none());
        assert_eq!(drafts.list(alice).await.expect("list"), [12]);
        // Another uid validity is another mailbox.
        let renewed = Place {
            uid_validity: 8,
            ..alice
        };
        assert!(drafts.list(renewed).await.expect("list").is_empty());
    }
}
