//! Sending for one signed-in session: who the person may send as, what a reply or
//! forward starts from, and a send from draft to SMTP to the Sent copy to the
//! original's `\Answered` or `$Forwarded`.
//!
//! The session owns one [`Outgoing`] when its account has an SMTP server; it holds
//! the sign-in credentials (in zeroed memory) because submission logs in as the user.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{
    Address, Body, BodyContent, ComposeKind, Draft, DraftAttachment, DraftSource, Flag, Identity,
    PartRole, Quote, Reply, Sending,
};
use tokio::io::AsyncReadExt;
use zeroize::Zeroizing;

use crate::config::{Account, SentCopy};
use crate::mail::compose::{self, ComposeError, Original, Piece, Threading};
use crate::mail::spool::{Base64Lines, CHUNK, SpoolWriter};
use crate::mail::{
    Encoding, Links, MailError, MailSource, MessageRef, Spooled, StreamDecoder, smtp,
};
use crate::profiles::{Profile, READ_FROM, WROTE_TO};
use crate::uploads::Uploads;

/// The largest message by default, where neither the configuration nor the server
/// says (25 MiB, as most providers allow).
pub const DEFAULT_MAX_MESSAGE: u64 = 25 << 20;

/// How much of a part on the server is read at a time.
const RANGE: u32 = 512 * 1024;

/// How long the first sign-in to an account waits to learn its SMTP server's limit.
const SIZE_PROBE: Duration = Duration::from_secs(5);

/// The largest message each account's SMTP server takes (its EHLO `SIZE`), as
/// learned, shared by all sessions: asked once, then kept up to date by every send.
#[derive(Default)]
pub struct SizeLimits(Mutex<HashMap<String, u64>>);

impl SizeLimits {
    fn get(&self, account: &str) -> Option<u64> {
        self.0.lock().ok()?.get(account).copied()
    }

    fn set(&self, account: &str, limit: u64) {
        if let Ok(mut limits) = self.0.lock() {
            limits.insert(account.to_owned(), limit);
        }
    }
}

/// What a session needs to send as its user.
pub struct Outgoing {
    account: Account,
    limits: Arc<SizeLimits>,
    user: Zeroizing<String>,
    password: Zeroizing<String>,
    /// Whom the person sends as: those saved in Settings, else `sign_in`.
    identities: Vec<Identity>,
    /// The identity the sign-in name gives.
    sign_in: Identity,
    /// Where the identities and correspondents are kept.
    profile: Profile,
    /// The name the bridge gives in EHLO: its public host.
    helo: String,
    /// Files uploaded for attaching.
    uploads: Arc<Uploads>,
    /// The SMTP server refused a message by URL once: the rest go as DATA.
    burl_refused: AtomicBool,
}

/// A finished send: the answer for the browser, and the folder that got the copy.
pub struct Sent {
    pub reply: Reply,
    pub sent_folder: Option<String>,
}

impl Outgoing {
    /// Sending for `user` of `account`, or `None` when the account has no SMTP
    /// server or the user has no address to send as.
    pub fn new(
        account: &Account,
        user: &str,
        password: &str,
        origin: &str,
        limits: Arc<SizeLimits>,
        profile: Profile,
    ) -> Option<Self> {
        account.smtp.as_ref()?;
        let Some(identity) = default_identity(user, account.domain.as_deref()) else {
            tracing::warn!(
                account = %account.name,
                "sign-in name is not an address and the account has no `domain`: no sending"
            );
            return None;
        };
        let helo = origin
            .split_once("://")
            .map_or(origin, |(_, rest)| rest)
            .split(':')
            .next()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost")
            .to_owned();
        Some(Outgoing {
            account: account.clone(),
            limits,
            user: Zeroizing::new(user.to_owned()),
            password: Zeroizing::new(password.to_owned()),
            identities: vec![identity.clone()],
            sign_in: identity,
            profile,
            helo,
            uploads: Arc::default(),
            burl_refused: AtomicBool::new(false),
        })
    }

    /// What the browser is told at sign-in (the session adds the upload link).
    pub fn sending(&self) -> Sending {
        let max_message_bytes = self.max_message_bytes();
        self.uploads.set_limit(max_message_bytes);
        Sending {
            identities: self.identities.clone(),
            max_message_bytes,
            upload: None,
        }
    }

    /// Takes the identities saved in Settings, if any (unreadable ones are
    /// logged, and the sign-in address serves).
    pub async fn load_identities(&mut self) {
        match self.profile.identities().await {
            Ok(Some(saved)) if !saved.is_empty() => self.identities = saved,
            Ok(_) => {}
            Err(error) => tracing::warn!(
                error = %crate::session::ErrorChain(&error),
                "the saved identities could not be read"
            ),
        }
    }

    /// Checks and keeps the identities set in Settings; an empty list goes back to
    /// the sign-in address. Answers with those now in use.
    pub async fn save_identities(&mut self, identities: Vec<Identity>) -> Result<Reply, MailError> {
        let checked = compose::checked_identities(identities)?;
        self.profile.save_identities(checked.clone()).await?;
        self.identities = if checked.is_empty() {
            vec![self.sign_in.clone()]
        } else {
            checked
        };
        Ok(Reply::IdentitiesSaved {
            identities: self.identities.clone(),
        })
    }

    /// Notes that the person read a message from `from` (their own addresses
    /// aside), for the suggestions.
    pub fn read_from(&self, from: &[Address]) {
        let others = from
            .iter()
            .filter(|a| !compose::mine(a, &self.identities))
            .cloned()
            .collect();
        self.profile.note(others, READ_FROM);
    }

    pub fn uploads(&self) -> Arc<Uploads> {
        Arc::clone(&self.uploads)
    }

    /// The configured limit, else the server's, else 25 MiB.
    fn max_message_bytes(&self) -> u64 {
        self.account
            .max_message_bytes
            .or_else(|| self.limits.get(&self.account.name))
            .unwrap_or(DEFAULT_MAX_MESSAGE)
    }

    /// Asks the SMTP server for its limit, unless it is configured or known.
    pub async fn learn_limit(&self) {
        if self.account.max_message_bytes.is_some() || self.limits.get(&self.account.name).is_some()
        {
            return;
        }
        let Some(server) = &self.account.smtp else {
            return;
        };
        if let Some(limit) = smtp::size_limit(
            server,
            Arc::clone(&self.account.tls),
            &self.helo,
            SIZE_PROBE,
        )
        .await
        {
            self.limits.set(&self.account.name, limit);
        }
    }

    /// The recipients, subject and quote a reply or forward of a message starts with.
    pub async fn start<S: MailSource>(
        &self,
        source: &mut S,
        folder: &str,
        uid: u32,
        kind: ComposeKind,
        links: &Links,
    ) -> Result<Reply, MailError> {
        let opened = source.open_message(folder, uid, None, false, links).await?;
        let uid_validity = opened.uid_validity;
        let view = opened.view;
        // A forward carries the original's files, read from the server at sending.
        let attachments = if kind == ComposeKind::ForwardAsAttachment {
            let name = if view.subject.trim().is_empty() {
                "message".to_owned()
            } else {
                view.subject.trim().to_owned()
            };
            vec![DraftAttachment {
                name: compose::file_name(&format!("{name}.eml")),
                content_type: "message/rfc822".to_owned(),
                size: view.size,
                whole: true,
                ..DraftAttachment::default()
            }]
        } else if kind == ComposeKind::Forward {
            view.parts
                .iter()
                .filter(|p| matches!(p.role, PartRole::Attachment | PartRole::Inline))
                .map(|p| DraftAttachment {
                    name: p.name.clone().unwrap_or_else(|| "attachment".to_owned()),
                    content_type: compose::attachment_type(&p.content_type),
                    size: p.size,
                    upload: None,
                    part: Some(p.id.clone()),
                    saved_part: None,
                    whole: false,
                })
                .collect()
        } else {
            Vec::new()
        };
        let original = Original {
            from: &view.from,
            to: &view.to,
            cc: &view.cc,
            reply_to: &view.reply_to,
        };
        let (to, cc) = compose::reply_recipients(kind, &original, &self.identities);
        let from = compose::identity_answering(&original, &self.identities)
            .filter(|_| self.identities.len() > 1)
            .map(|i| i.email.clone());
        let text = quote_text(
            source,
            folder,
            uid,
            view.body.as_ref(),
            &view.alternatives,
            links,
        )
        .await;
        let draft = Draft {
            from,
            to,
            cc,
            subject: compose::subject_for(kind, &view.subject),
            source: Some(DraftSource {
                folder: folder.to_owned(),
                uid,
                kind,
                uid_validity: Some(uid_validity),
            }),
            attachments,
            ..Draft::default()
        };
        let quote = Quote {
            from: view.from.clone(),
            to: view.to.clone(),
            cc: view.cc.clone(),
            subject: view.subject.clone(),
            date: view.date,
            text,
        };
        Ok(Reply::ComposeStarted {
            draft: Box::new(draft),
            quote: Box::new(quote),
        })
    }

    /// Builds, submits and files `draft`. Once the server has taken the message,
    /// what follows (the Sent copy, the original's flag) cannot fail the send: a
    /// copy that could not be kept is logged.
    pub async fn send<S: MailSource>(
        &self,
        source: &mut S,
        draft: &Draft,
        links: &Links,
    ) -> Result<Sent, MailError> {
        let draft = &self.with_uploads(draft)?;
        let identity = compose::identity_for(draft, &self.identities)?;
        let parent = match &draft.source {
            Some(original)
                if !matches!(
                    original.kind,
                    ComposeKind::Forward | ComposeKind::ForwardAsAttachment
                ) =>
            {
                threading_of(source, original, links).await
            }
            _ => None,
        };
        let (message_id, now) = id_and_date(draft, identity);
        let built = compose::build(draft, identity, parent.as_ref(), &message_id, now)?;
        let limit = self.max_message_bytes();
        let Some(server) = &self.account.smtp else {
            return Err(MailError::Unsupported(
                "This account has no outgoing mail server.",
            ));
        };
        let keep_copy = match self.account.sent_copy {
            SentCopy::Append => true,
            SentCopy::Server => false,
            SentCopy::Auto => !source.keeps_sent_copies(),
        };
        // Spooled before logging in to SMTP, so that a message that cannot be
        // built never logs in; the parts the server holds are left out where
        // they may go by URL.
        let head = built.head().filter(|_| {
            keep_copy && source.gives_urls() && !self.burl_refused.load(Ordering::Relaxed)
        });
        let linking = match head {
            Some(_) => Linking::LeftOut,
            None => Linking::Copied,
        };
        let message = self.spool(source, &built, draft, limit, linking).await?;
        let mut submission = smtp::Submission::open(
            server,
            Arc::clone(&self.account.tls),
            &self.helo,
            &self.user,
            &self.password,
        )
        .await?;
        let (recipients, kept) = match head {
            Some(_) if submission.offers_burl() => {
                self.submit_by_url(source, &mut submission, &built, draft, limit, message)
                    .await?
            }
            _ => {
                let message = if message.is_whole() {
                    message
                } else {
                    self.spool(source, &built, draft, limit, Linking::Copied)
                        .await?
                };
                let recipients = submission
                    .envelope(&built.from, &built.recipients, message.size())
                    .await?;
                submission.data(&message).await?;
                (recipients, Err(message))
            }
        };
        let submitted = submission.done(recipients).await;
        tracing::info!(recipients = submitted.recipients.len(), "message sent");
        let people = draft.to.iter().chain(&draft.cc).chain(&draft.bcc);
        self.profile.note(people.cloned().collect(), WROTE_TO);
        if submitted.size_limit > 0 {
            self.limits.set(&self.account.name, submitted.size_limit);
            self.uploads.set_limit(self.max_message_bytes());
        }
        let sent_folder = match kept {
            Ok(folder) => Some(folder),
            Err(message) if keep_copy => match source
                .save_sent(&built.bcc_header, &message, &built.message_id)
                .await
            {
                Ok(folder) => folder,
                Err(error) => {
                    tracing::warn!(
                        error = %crate::session::ErrorChain(&error),
                        "the message was sent, but its copy could not be kept"
                    );
                    None
                }
            },
            Err(_) => None,
        };
        for attachment in &draft.attachments {
            if let Some(id) = &attachment.upload {
                self.uploads.remove(id);
            }
        }
        if let Some(saved) = &draft.saved
            && let Err(error) = source.remove_saved(saved).await
        {
            tracing::info!(
                error = %crate::session::ErrorChain(&error),
                "the message was sent, but its draft stays"
            );
        }
        if let Some(original) = &draft.source {
            let flag = match original.kind {
                ComposeKind::Forward | ComposeKind::ForwardAsAttachment => Flag::Forwarded,
                ComposeKind::Reply | ComposeKind::ReplyAll => Flag::Answered,
            };
            if let Err(error) = source
                .set_flags(&original.folder, &[original.uid], &[flag], &[])
                .await
            {
                tracing::info!(
                    error = %crate::session::ErrorChain(&error),
                    "the original could not be marked"
                );
            }
        }
        Ok(Sent {
            reply: Reply::MessageSent {
                message_id: built.message_id,
                recipients: submitted.recipients,
                sent_folder: sent_folder.clone(),
            },
            sent_folder,
        })
    }
}

impl Outgoing {
    /// Submits `message` (spooled with the server's parts left out) by URL (BURL,
    /// RFC 4468): the envelope first, then the Sent copy is kept (CATENATE naming
    /// what the server holds), and the submission server fetches its body from
    /// IMAP, so that the bridge carries no file twice and reads none back. Where the server gives no URL or refuses BURL, the message
    /// goes as DATA after all. The recipients taken, and the Sent folder if the
    /// copy is kept, else the whole message for keeping it afterwards; a copy
    /// kept for a message that was not (surely) sent is removed again.
    async fn submit_by_url<S: MailSource>(
        &self,
        source: &mut S,
        submission: &mut smtp::Submission,
        built: &compose::Built,
        draft: &Draft,
        limit: u64,
        message: Spooled,
    ) -> Result<(Vec<String>, Result<String, Spooled>), MailError> {
        let mut recipients = submission
            .envelope(&built.from, &built.recipients, message.size())
            .await?;
        let kept = match source
            .keep_sent_by_url(&built.bcc_header, &message, &built.message_id)
            .await
        {
            Ok(kept) => kept,
            Err(error) => {
                tracing::info!(
                    error = %crate::session::ErrorChain(&error),
                    "no Sent copy to submit by URL: sending as DATA"
                );
                None
            }
        };
        let outcome = async {
            if let Some(url) = kept.as_ref().and_then(|k| k.url.as_deref())
                && let Some(head) = built.head()
            {
                match submission.burl(head, url, message.size()).await {
                    Ok(()) => return Ok(None),
                    Err(smtp::SubmitError::MessageRefused(reply)) => {
                        tracing::info!(%reply, "BURL refused: sending as DATA");
                        self.burl_refused.store(true, Ordering::Relaxed);
                        submission.reset().await?;
                        recipients = submission
                            .envelope(&built.from, &built.recipients, message.size())
                            .await?;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            let whole = if message.is_whole() {
                None
            } else {
                Some(
                    self.spool(source, built, draft, limit, Linking::Copied)
                        .await?,
                )
            };
            submission.data(whole.as_ref().unwrap_or(&message)).await?;
            Ok::<_, MailError>(whole)
        }
        .await;
        match (outcome, kept) {
            (Ok(_), Some(kept)) => Ok((recipients, Ok(kept.folder))),
            (Ok(whole), None) => Ok((recipients, Err(whole.unwrap_or(message)))),
            (Err(error), kept) => {
                if let Some(at) = kept.and_then(|k| k.at)
                    && let Err(error) = source.remove_saved(&at).await
                {
                    tracing::warn!(
                        error = %crate::session::ErrorChain(&error),
                        "the Sent copy of a message not sent stays"
                    );
                }
                Err(error)
            }
        }
    }
}

impl Outgoing {
    /// What would stop `draft` from being sent, said before it is held: its
    /// files are kept, its addresses and fields can be written.
    pub fn check(&self, draft: &Draft) -> Result<(), MailError> {
        let draft = self.with_uploads(draft)?;
        let identity = compose::identity_for(&draft, &self.identities)?;
        compose::build(&draft, identity, None, "<check@localhost>", 0)?;
        Ok(())
    }

    /// Saves `draft` in the Drafts folder, replacing its last saved version: the
    /// same Message-ID each time, attachments as its parts from 2 on.
    pub async fn save_draft<S: MailSource>(
        &self,
        source: &mut S,
        draft: &Draft,
    ) -> Result<Reply, MailError> {
        let draft = &self.with_uploads(draft)?;
        let identity = compose::identity_for(draft, &self.identities)?;
        let (message_id, now) = id_and_date(draft, identity);
        let built = compose::build_draft(draft, identity, &message_id, now)?;
        // A draft may be as large as a message, and no larger.
        let limit = self.max_message_bytes();
        let message = self
            .spool(source, &built, draft, limit, Linking::LeftOut)
            .await?;
        let saved = match source.save_draft(&message, draft.saved.as_ref()).await {
            // The server would not take its parts by URL after all (a URL it
            // no longer resolves, or CATENATE gone after a reconnect): the files
            // are carried whole instead.
            Err(MailError::Rejected { .. } | MailError::Unsupported(_)) if !message.is_whole() => {
                let message = self
                    .spool(source, &built, draft, limit, Linking::Copied)
                    .await?;
                source.save_draft(&message, draft.saved.as_ref()).await?
            }
            other => other?,
        };
        let attachments = draft
            .attachments
            .iter()
            .zip(2..)
            .map(|(a, section)| DraftAttachment {
                saved_part: saved.as_ref().map(|_| section.to_string()),
                part: None,
                whole: false,
                ..a.clone()
            })
            .collect();
        Ok(Reply::DraftSaved {
            saved,
            message_id,
            attachments,
        })
    }

    /// A draft from the Drafts folder as the form takes it up again: its
    /// recipients (Bcc too), subject, text as typed, files (as its parts), and
    /// what it answers.
    pub async fn resume<S: MailSource>(
        &self,
        source: &mut S,
        folder: &str,
        uid: u32,
        links: &Links,
    ) -> Result<Reply, MailError> {
        let opened = source.open_message(folder, uid, None, false, links).await?;
        let view = &opened.view;
        let text = quote_text(
            source,
            folder,
            uid,
            view.body.as_ref(),
            &view.alternatives,
            links,
        )
        .await;
        let note = opened
            .threading
            .draft_note
            .as_deref()
            .map(compose::read_draft_note)
            .unwrap_or_default();
        let from = view
            .from
            .first()
            .filter(|_| self.identities.len() > 1)
            .and_then(|a| {
                self.identities
                    .iter()
                    .find(|i| i.email.eq_ignore_ascii_case(&a.email))
            })
            .map(|i| i.email.clone());
        let attachments = view
            .parts
            .iter()
            .filter(|p| matches!(p.role, PartRole::Attachment | PartRole::Inline))
            .map(|p| DraftAttachment {
                name: p.name.clone().unwrap_or_else(|| "attachment".to_owned()),
                content_type: compose::attachment_type(&p.content_type),
                size: p.size,
                upload: None,
                part: None,
                saved_part: Some(p.id.clone()),
                whole: false,
            })
            .collect();
        let draft = Draft {
            from,
            to: view.to.clone(),
            cc: view.cc.clone(),
            bcc: opened.threading.bcc.clone(),
            subject: view.subject.clone(),
            // The writer ends a message without attachments with a line break the
            // person did not type; trailing breaks are dropped, so a draft does not
            // grow a line each time it is resumed.
            text: text.replace("\r\n", "\n").trim_end_matches('\n').to_owned(),
            no_wrap: note.no_wrap,
            formatted: note.formatted,
            source: note.source,
            attachments,
            message_id: opened
                .threading
                .message_id
                .as_ref()
                .map(|id| format!("<{id}>")),
            saved: Some(protocol::SavedDraft {
                folder: folder.to_owned(),
                uid_validity: opened.uid_validity,
                uid,
            }),
        };
        Ok(Reply::DraftResumed {
            draft: Box::new(draft),
        })
    }

    /// `draft` with each uploaded file named and typed as it was when it was
    /// taken in (the browser's copy of those is only for showing); an upload that
    /// is no longer kept stops the send before anything is built.
    fn with_uploads(&self, draft: &Draft) -> Result<Draft, ComposeError> {
        let mut draft = draft.clone();
        for attachment in &mut draft.attachments {
            let Some(id) = &attachment.upload else {
                continue;
            };
            match self.uploads.get(id) {
                Some(upload) => {
                    attachment.name.clone_from(&upload.name);
                    attachment.content_type.clone_from(&upload.content_type);
                    attachment.size = upload.size;
                }
                // Let go of (sent, or kept by another bridge), but saved in the
                // draft: it is read from there.
                None if attachment.saved_part.is_some() && draft.saved.is_some() => {
                    attachment.upload = None;
                }
                None => return Err(ComposeError::UploadGone(attachment.name.clone())),
            }
        }
        Ok(draft)
    }

    /// Writes the built message into a spool file, each attachment's lines
    /// streamed in from its upload or from the forwarded message on the server;
    /// refused as soon as it grows past `limit`.
    async fn spool<S: MailSource>(
        &self,
        source: &mut S,
        built: &compose::Built,
        draft: &Draft,
        limit: u64,
        linking: Linking,
    ) -> Result<Spooled, MailError> {
        let mut writer = Spooled::writer()?;
        for piece in &built.pieces {
            match piece {
                Piece::Bytes(bytes) => writer.write(bytes)?,
                Piece::Attachment(index) => {
                    let attachment = &draft.attachments[*index];
                    let mut file = File {
                        writer: &mut writer,
                        lines: Base64Lines::default(),
                        out: Vec::with_capacity(2 * CHUNK),
                        limit,
                        raw: compose::written_raw(&attachment.content_type),
                    };
                    let stored = match (&attachment.upload, &draft.saved, &draft.source) {
                        (Some(_), _, _) => None,
                        (None, Some(saved), _) if attachment.saved_part.is_some() => Some((
                            MessageRef {
                                folder: saved.folder.clone(),
                                uid_validity: saved.uid_validity,
                                uid: saved.uid,
                            },
                            attachment.saved_part.as_deref(),
                        )),
                        (None, _, Some(from)) if attachment.whole => {
                            Some((original_ref(from, &attachment.name)?, None))
                        }
                        (None, _, Some(from)) if attachment.part.is_some() => Some((
                            original_ref(from, &attachment.name)?,
                            attachment.part.as_deref(),
                        )),
                        _ => None,
                    };
                    if let Some(id) = &attachment.upload {
                        let upload = self
                            .uploads
                            .get(id)
                            .ok_or_else(|| ComposeError::UploadGone(attachment.name.clone()))?;
                        let mut reader = upload.reader().map_err(MailError::Spool)?;
                        let mut chunk = vec![0; CHUNK];
                        loop {
                            let n = reader.read(&mut chunk).await.map_err(MailError::Spool)?;
                            if n == 0 {
                                break;
                            }
                            file.push(&chunk[..n])?;
                        }
                    } else if let Some((message, part)) = stored {
                        if link_stored(source, &message, part, &mut file, linking).await? {
                            continue;
                        }
                        forward_part(source, &message, part, &mut file).await?;
                    }
                    file.finish()?;
                }
            }
        }
        let spooled = writer.finish()?;
        if spooled.size() > limit {
            return Err(too_large(spooled.size(), limit));
        }
        Ok(spooled)
    }
}

/// What a spool does with an attachment the source can take by URL (IMAP's
/// CATENATE), for the copy appended there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linking {
    /// Names it, and copies it into the file as stored (for submission).
    Copied,
    /// Names it only (a draft, which only the server keeps).
    LeftOut,
}

/// Names a part the server holds in the spool, when its stored form is what the
/// part header written for it says (base64, or as it is for a message), and copies
/// it as stored when `linking` asks; `false` when it has to be written anew.
async fn link_stored<S: MailSource>(
    source: &mut S,
    message: &MessageRef,
    part: Option<&str>,
    file: &mut File<'_>,
    linking: Linking,
) -> Result<bool, MailError> {
    let Some((url, meta)) = source.stored_part(message, part).await.map_err(gone)? else {
        return Ok(false);
    };
    let expected = if file.raw {
        Encoding::Identity
    } else {
        Encoding::Base64
    };
    if meta.encoding != expected {
        return Ok(false);
    }
    file.writer
        .server_part(url, meta.size, linking == Linking::LeftOut);
    if linking == Linking::Copied {
        in_ranges(source, message, part, meta.size, |bytes| {
            file.out.clear();
            file.out.extend_from_slice(bytes);
            file.write()
        })
        .await?;
        file.writer.after_server_part();
    }
    if file.writer.len() > file.limit {
        return Err(too_large(file.writer.len(), file.limit));
    }
    Ok(true)
}

/// A forwarded message that is no longer there is said as such.
fn gone(error: MailError) -> MailError {
    match error {
        MailError::MessageNotFound { .. } => ComposeError::OriginalGone.into(),
        other => other,
    }
}

fn too_large(size: u64, limit: u64) -> MailError {
    smtp::SubmitError::TooLarge { size, limit }.into()
}

/// One attachment's base64 lines (or, `raw`, its bytes as they are) on their way
/// into the spool file.
struct File<'a> {
    writer: &'a mut SpoolWriter,
    lines: Base64Lines,
    out: Vec<u8>,
    limit: u64,
    raw: bool,
}

impl File<'_> {
    fn push(&mut self, data: &[u8]) -> Result<(), MailError> {
        self.out.clear();
        if self.raw {
            self.out.extend_from_slice(data);
        } else {
            self.lines.push(data, &mut self.out);
        }
        self.write()
    }

    fn finish(mut self) -> Result<(), MailError> {
        self.out.clear();
        std::mem::take(&mut self.lines).finish(&mut self.out);
        self.write()
    }

    fn write(&mut self) -> Result<(), MailError> {
        self.writer.write(&self.out)?;
        if self.writer.len() > self.limit {
            return Err(too_large(self.writer.len(), self.limit));
        }
        Ok(())
    }
}

/// The forwarded message, as long as its folder is the one the compose began in
/// (the same UIDVALIDITY); the app sends back what `start` gave it.
fn original_ref(from: &DraftSource, name: &str) -> Result<MessageRef, ComposeError> {
    Ok(MessageRef {
        folder: from.folder.clone(),
        uid_validity: from
            .uid_validity
            .ok_or_else(|| ComposeError::BadAttachment(name.to_owned()))?,
        uid: from.uid,
    })
}

/// A part of the forwarded message, decoded as it is read from the server in
/// ranges, into `file`.
async fn forward_part<S: MailSource>(
    source: &mut S,
    message: &MessageRef,
    part: Option<&str>,
    file: &mut File<'_>,
) -> Result<(), MailError> {
    let meta = source.part_meta(message, part).await.map_err(gone)?;
    let mut decoder = StreamDecoder::new(meta.encoding);
    in_ranges(source, message, part, meta.size, |bytes| {
        file.push(&decoder.feed(bytes))
    })
    .await?;
    let rest = decoder.finish();
    file.push(&rest)
}

/// Reads `size` bytes of a part from the server in ranges of [`RANGE`], handing
/// each to `each` as it comes (fewer, if the part turns out shorter).
async fn in_ranges<S: MailSource>(
    source: &mut S,
    message: &MessageRef,
    part: Option<&str>,
    size: u64,
    mut each: impl FnMut(&[u8]) -> Result<(), MailError>,
) -> Result<(), MailError> {
    let mut offset = 0u64;
    while offset < size {
        let len = RANGE.min(u32::try_from(size - offset).unwrap_or(RANGE));
        let bytes = source
            .read_part(message, part, offset, len)
            .await
            .map_err(gone)?;
        if bytes.is_empty() {
            break;
        }
        offset += bytes.len() as u64;
        each(&bytes)?;
    }
    Ok(())
}

/// The compose's Message-ID (a fresh one on the identity's domain until it has
/// one) and the time to date it.
fn id_and_date(draft: &Draft, identity: &Identity) -> (String, i64) {
    let domain = identity
        .email
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let message_id = draft
        .message_id
        .clone()
        .filter(|id| compose::is_message_id(id))
        .unwrap_or_else(|| compose::new_message_id(domain));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    (message_id, now)
}

/// The login if it is an address, else `login@domain`.
fn default_identity(user: &str, domain: Option<&str>) -> Option<Identity> {
    let email = if user.contains('@') {
        user.to_owned()
    } else {
        format!("{user}@{}", domain?)
    };
    compose::address_problem(&email)
        .is_none()
        .then_some(Identity {
            email,
            ..Identity::default()
        })
}

/// The Message-ID and References of the message being answered; `None` when it is
/// gone (the reply is sent all the same, outside its thread).
async fn threading_of<S: MailSource>(
    source: &mut S,
    original: &DraftSource,
    links: &Links,
) -> Option<Threading> {
    match source
        .open_message(&original.folder, original.uid, None, false, links)
        .await
    {
        Ok(opened) => Some(opened.threading),
        Err(error) => {
            tracing::info!(error = %crate::session::ErrorChain(&error), "cannot read the original's threading");
            None
        }
    }
}

/// The original's text for quoting: its text part, else its text alternative, else
/// its HTML as text.
async fn quote_text<S: MailSource>(
    source: &mut S,
    folder: &str,
    uid: u32,
    body: Option<&Body>,
    alternatives: &[String],
    links: &Links,
) -> String {
    let Some(body) = body else {
        return String::new();
    };
    match &body.content {
        BodyContent::Text { text } => text.clone(),
        BodyContent::Html { document } => {
            for part in alternatives.iter().filter(|p| **p != body.part) {
                if let Ok(Body {
                    content: BodyContent::Text { text },
                    ..
                }) = source.show_part(folder, uid, part, links).await
                {
                    return text;
                }
            }
            compose::html_as_text(document)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_identity_is_the_login_or_login_at_domain() {
        let email = |user, domain| default_identity(user, domain).map(|i| i.email);
        assert_eq!(
            email("alice", Some("example.test")).as_deref(),
            Some("alice@example.test")
        );
        assert_eq!(
            email("bob@example.org", Some("x.test")).as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(email("alice", None), None);
        assert_eq!(email("a b", Some("x.test")), None);
    }
}
