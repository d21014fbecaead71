//! The fault run, shared by the integration test (200 faults) and the bench
//! (1,000): a person works in INBOX through the bridge while another client
//! changes the same mailbox, and between the two a [`Relay`] under the TLS cuts
//! connections mid-line and mid-literal, between responses, damages the TLS
//! stream and stalls it, while Dovecot says `* BYE` (a kick) or restarts.
//!
//! After each fault the run waits for what the app would show, rebuilt from the
//! replies and events the bridge sent, to equal the server's state as an
//! independent client sees it (the same UIDs with the same flags), and at the end
//! checks that each message exists exactly once across INBOX, Archive and Trash,
//! and that every flag the person set is set.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::TryStreamExt;
use protocol::{Event, Flag, MessageHeader, Reply, Request, Sort};

use crate::{AccountSpec, Bridge, Dovecot, Relay, User, WsClient};

/// What a run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub faults: usize,
    /// By kind, in the order of [`Fault`]'s variants.
    pub by_kind: BTreeMap<&'static str, usize>,
    /// Times the bridge told the app to open the folder afresh.
    pub resets: usize,
    /// Times the bridge connected to the server again (and resynchronized).
    pub reconnects: u64,
    /// Requests of the person's that failed and were made again.
    pub retried: usize,
    pub actions: usize,
    /// Changes the other client made.
    pub changes: usize,
    /// Longest wait, after a fault, for the app's view to equal the server's.
    pub longest_settle: Duration,
}

/// What is done to the connection between the bridge and Dovecot.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Cut a few bytes into what the server sends next: inside a line or a
    /// literal (the next request opens a long message).
    CutMidResponse(u64),
    /// Cut between responses.
    CutBetween,
    /// Damage a byte of the TLS stream.
    DamageTls,
    /// Dovecot ends the session with `* BYE`.
    Bye,
    /// Dovecot stops and starts again.
    Restart,
    /// Nothing passes until the bridge's deadline gives up on it.
    Stall,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::CutMidResponse(_) => "cut mid-response",
            Fault::CutBetween => "cut between responses",
            Fault::DamageTls => "damaged TLS record",
            Fault::Bye => "BYE",
            Fault::Restart => "server restart",
            Fault::Stall => "stall",
        }
    }
}

/// A deterministic generator (xorshift), so a failing run repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The flags as text, the same for the app's and the server's view.
fn flag_text(flag: &Flag) -> String {
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Forwarded => "$Forwarded".into(),
        Flag::Keyword(k) => k.clone(),
    }
}

type View = BTreeMap<u32, BTreeSet<String>>;

/// What the app shows of INBOX, kept from replies and events.
struct Model {
    messages: View,
    resets: usize,
}

impl Model {
    fn open(&mut self, messages: &[MessageHeader]) {
        self.messages = messages
            .iter()
            .map(|m| (m.uid, m.flags.iter().map(flag_text).collect()))
            .collect();
    }

    /// Applies an event; true when the folder must be opened again.
    fn apply(&mut self, event: &Event) -> bool {
        match event {
            Event::FolderChanged {
                folder,
                added,
                flags,
                removed,
                ..
            } if folder == "INBOX" => {
                for uid in removed {
                    self.messages.remove(uid);
                }
                for header in added {
                    self.messages
                        .insert(header.uid, header.flags.iter().map(flag_text).collect());
                }
                for changed in flags {
                    if let Some(now) = self.messages.get_mut(&changed.uid) {
                        *now = changed.flags.iter().map(flag_text).collect();
                    }
                }
                false
            }
            Event::FolderReset { folder } if folder == "INBOX" => true,
            _ => false,
        }
    }

    fn answered(&mut self, reply: &Reply) {
        match reply {
            Reply::FlagsSet { folder, messages } if folder == "INBOX" => {
                for changed in messages {
                    if let Some(now) = self.messages.get_mut(&changed.uid) {
                        *now = changed.flags.iter().map(flag_text).collect();
                    }
                }
            }
            // As the app does, the opened message's flags replace the row's.
            Reply::MessageOpened {
                folder,
                uid,
                message,
            } if folder == "INBOX" => {
                if let Some(now) = self.messages.get_mut(uid) {
                    *now = message.flags.iter().map(flag_text).collect();
                }
            }
            Reply::MessagesMoved { folder, uids, .. } if folder == "INBOX" => {
                for uid in uids {
                    self.messages.remove(uid);
                }
            }
            _ => {}
        }
    }
}

/// How many messages INBOX starts with, a few of them long, so that a cut
/// lands inside a literal.
const MESSAGES: u32 = 40;
const LONG_EVERY: u32 = 8;

fn sample(n: u32) -> maildev::sample::Sample {
    let body = if n.is_multiple_of(LONG_EVERY) {
        "A long line of a long message, to be cut in the middle.\n".repeat(800)
    } else {
        format!("Message {n}.\n")
    };
    maildev::sample::Sample {
        folder: "INBOX".into(),
        flags: vec![],
        date: 1_700_000_000 + i64::from(n) * 60,
        raw: maildev::sample::plain(
            &maildev::sample::Headers {
                from: "Ann <ann@example.org>",
                to: "me@example.org",
                subject: &format!("m{n}"),
                date: 1_700_000_000 + i64::from(n) * 60,
            },
            &body,
        ),
    }
}

/// The other client: straight to Dovecot, connecting again when a fault of the
/// server's own ended its session too.
struct Other {
    dovecot: Dovecot,
    user: User,
    session: Option<maildev::ImapSession>,
}

impl Other {
    async fn session(&mut self) -> Result<&mut maildev::ImapSession> {
        if self.session.is_none() {
            let mut session = self.dovecot.imap(&self.user).await?;
            session.select("INBOX").await?;
            self.session = Some(session);
        }
        Ok(self.session.as_mut().expect("just made"))
    }

    /// Runs `what` on a working session, connecting again once if it fails.
    async fn with<T>(
        &mut self,
        what: impl AsyncFn(&mut maildev::ImapSession) -> Result<T>,
    ) -> Result<T> {
        for attempt in 0..3 {
            let session = self.session().await?;
            match what(session).await {
                Ok(done) => return Ok(done),
                Err(e) if attempt < 2 => {
                    let _ = e;
                    self.session = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!()
    }

    /// INBOX as the server holds it: UIDs and flags.
    async fn inbox(&mut self) -> Result<View> {
        self.with(async |s| {
            s.noop().await?;
            let fetched: Vec<_> = s.uid_fetch("1:*", "FLAGS").await?.try_collect().await?;
            Ok(fetched
                .iter()
                .filter_map(|f| {
                    let flags = f
                        .flags()
                        .filter_map(|flag| match flag {
                            async_imap::types::Flag::Seen => Some("\\Seen".to_owned()),
                            async_imap::types::Flag::Answered => Some("\\Answered".to_owned()),
                            async_imap::types::Flag::Flagged => Some("\\Flagged".to_owned()),
                            async_imap::types::Flag::Deleted => Some("\\Deleted".to_owned()),
                            async_imap::types::Flag::Draft => Some("\\Draft".to_owned()),
                            async_imap::types::Flag::Custom(k) => Some(k.to_string()),
                            _ => None,
                        })
                        .collect();
                    Some((f.uid?, flags))
                })
                .collect())
        })
        .await
    }

    /// The subjects in `folder`, each as often as it is there.
    async fn subjects(&mut self, folder: &str) -> Result<Vec<String>> {
        let folder = folder.to_owned();
        self.with(async |s| {
            s.select(&folder).await?;
            let fetched: Vec<_> = s.uid_fetch("1:*", "ENVELOPE").await?.try_collect().await?;
            s.select("INBOX").await?;
            Ok(fetched
                .iter()
                .filter_map(|f| f.envelope()?.subject.as_ref())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect())
        })
        .await
    }
}

/// Runs `faults` faults (of which `stalls` stalls) with the generator seeded by
/// `seed`, through a bridge started here on `dovecot`'s user `user`.
pub async fn run(seed: u64, faults: usize, stalls: usize) -> Result<Report> {
    let user = User::new("ann", "ann-password");
    let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
    let samples: Vec<_> = (1..=MESSAGES).map(sample).collect();
    dovecot.append_samples(&user, &samples).await?;
    let relay = Relay::start(imaps_port(&dovecot)?).await?;
    let account = AccountSpec {
        imap: format!("imaps://127.0.0.1:{}", relay.port),
        ..AccountSpec::trusting("Faulty", &dovecot)
    };
    let bridge = Bridge::start_counting_every(&[account], None, 3600).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    let mut model = Model {
        messages: View::new(),
        resets: 0,
    };
    open(&mut client, &mut model).await?;
    let mut other = Other {
        dovecot,
        user: user.clone(),
        session: None,
    };
    let mut rng = Rng(seed | 1);
    let mut report = Report::default();
    // What the person asked for that must hold at the end: flagged or not, by
    // subject, and where each moved message went.
    let mut flagged: BTreeMap<u32, bool> = BTreeMap::new();
    let mut appended = MESSAGES;
    let mut expunged = BTreeSet::new();
    let stall_every = faults.checked_div(stalls).unwrap_or(usize::MAX).max(1);
    for i in 0..faults {
        // The other client changes the mailbox.
        report.changes += 1;
        let owned: Vec<u32> = model
            .messages
            .keys()
            .copied()
            .filter(|u| *u > MESSAGES)
            .collect();
        match rng.below(3) {
            0 => {
                appended += 1;
                let raw = sample(appended).raw;
                other
                    .with(async |s| Ok(s.append("INBOX", Some("()"), None, &raw).await?))
                    .await?;
            }
            1 if !owned.is_empty() => {
                let uid = owned[rng.below(owned.len() as u64) as usize];
                other
                    .with(async |s| {
                        let _: Vec<_> = s
                            .uid_store(uid.to_string(), "+FLAGS ($Label1)")
                            .await?
                            .try_collect()
                            .await?;
                        Ok(())
                    })
                    .await?;
            }
            _ if !owned.is_empty() => {
                let uid = owned[rng.below(owned.len() as u64) as usize];
                expunged.insert(uid);
                other
                    .with(async |s| {
                        let _: Vec<_> = s
                            .uid_store(uid.to_string(), "+FLAGS (\\Deleted)")
                            .await?
                            .try_collect()
                            .await?;
                        let _: Vec<_> = s.uid_expunge(uid.to_string()).await?.try_collect().await?;
                        Ok(())
                    })
                    .await?;
            }
            _ => {}
        }
        // The fault.
        let fault = if i % stall_every == stall_every / 2 {
            Fault::Stall
        } else {
            match rng.below(20) {
                0..=6 => Fault::CutMidResponse(1 + rng.below(3000)),
                7..=11 => Fault::CutBetween,
                12..=15 => Fault::DamageTls,
                16..=18 => Fault::Bye,
                _ => Fault::Restart,
            }
        };
        report.faults += 1;
        *report.by_kind.entry(fault.name()).or_default() += 1;
        match fault {
            Fault::CutMidResponse(bytes) => relay.cut_after(bytes),
            Fault::CutBetween => relay.cut(),
            Fault::DamageTls => relay.corrupt(),
            Fault::Bye => other.dovecot.kick(&user)?,
            Fault::Restart => {
                other.dovecot.restart()?;
                other.session = None;
            }
            Fault::Stall => relay.freeze(),
        }
        // The person works on: opens a long message (where a cut lands inside
        // its literal), then flags, reads, moves or pages.
        let uids: Vec<u32> = model.messages.keys().copied().collect();
        let long = uids
            .iter()
            .copied()
            .find(|u| u.is_multiple_of(LONG_EVERY) && *u <= MESSAGES);
        let mut actions = Vec::new();
        if let Some(uid) = long {
            actions.push(Request::OpenMessage {
                folder: "INBOX".into(),
                uid,
                part: None,
                mark_seen: false,
                remote_content: false,
            });
        }
        // The person's own messages: the first ones, never the other client's.
        let mine: Vec<u32> = uids.iter().copied().filter(|u| *u <= MESSAGES).collect();
        if let Some(&uid) = mine.get(rng.below(mine.len().max(1) as u64) as usize) {
            actions.push(match rng.below(6) {
                0 | 1 => {
                    let on = !flagged.get(&uid).copied().unwrap_or(false);
                    flagged.insert(uid, on);
                    let flags = vec![Flag::Flagged];
                    let (add, remove) = if on { (flags, vec![]) } else { (vec![], flags) };
                    Request::SetFlags {
                        folder: "INBOX".into(),
                        uids: vec![uid],
                        add,
                        remove,
                    }
                }
                2 if mine.len() > MESSAGES as usize / 2 => {
                    flagged.remove(&uid);
                    Request::MoveMessages {
                        folder: "INBOX".into(),
                        uids: vec![uid],
                        to: if rng.below(2) == 0 {
                            "Archive"
                        } else {
                            "Trash"
                        }
                        .into(),
                    }
                }
                3 => Request::ListMessages {
                    folder: "INBOX".into(),
                    offset: 10,
                    limit: 10,
                    sort: Sort::default(),
                },
                _ => Request::OpenMessage {
                    folder: "INBOX".into(),
                    uid,
                    part: None,
                    mark_seen: true,
                    remote_content: false,
                },
            });
        }
        for action in actions {
            report.actions += 1;
            let patience = if matches!(fault, Fault::Stall) { 3 } else { 1 };
            let reply = act(
                &mut client,
                &mut model,
                action.clone(),
                patience,
                &mut report,
            )
            .await
            .with_context(|| format!("fault {i} ({fault:?}): {action:?}"))?;
            model.answered(&reply);
        }
        // The app's view settles to the server's.
        let started = Instant::now();
        settle(&mut client, &mut model, &mut other)
            .await
            .with_context(|| format!("after fault {i} ({fault:?})"))?;
        report.longest_settle = report.longest_settle.max(started.elapsed());
    }
    // Nothing lost or done twice: every message once, where the person put it.
    let mut everywhere = Vec::new();
    for folder in ["INBOX", "Archive", "Trash"] {
        everywhere.extend(other.subjects(folder).await?);
    }
    let counted: BTreeMap<&String, usize> = everywhere.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s).or_default() += 1;
        m
    });
    for (subject, times) in &counted {
        ensure!(*times == 1, "{subject} is there {times} times");
    }
    ensure!(
        counted.len() == appended as usize - expunged.len(),
        "{} messages of {} appended less {} expunged",
        counted.len(),
        appended,
        expunged.len()
    );
    let inbox = other.inbox().await?;
    for (uid, on) in flagged {
        if let Some(flags) = inbox.get(&uid) {
            ensure!(
                flags.contains("\\Flagged") == on,
                "message {uid} flagged {}",
                !on
            );
        }
    }
    report.resets = model.resets;
    report.reconnects = relay.accepted().saturating_sub(1);
    Ok(report)
}

fn imaps_port(dovecot: &Dovecot) -> Result<u16> {
    let url = dovecot.imaps_url();
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("no port in {url}"))
}

async fn open(client: &mut WsClient, model: &mut Model) -> Result<()> {
    let reply = client
        .ok(Request::OpenFolder {
            folder: "INBOX".into(),
            limit: 500,
            sort: Sort::default(),
        })
        .await?;
    let Reply::FolderOpened { messages, .. } = reply else {
        bail!("not opened: {reply:?}");
    };
    model.open(&messages);
    Ok(())
}

/// Sends one of the person's requests, applying the events that come before its
/// answer; a failure is tried again, as a person would, up to twice. `patience`
/// stretches the wait, for a stall that only the bridge's deadline ends.
async fn act(
    client: &mut WsClient,
    model: &mut Model,
    request: Request,
    patience: u32,
    report: &mut Report,
) -> Result<Reply> {
    let mut last = None;
    for _ in 0..3 {
        let id = client.send(request.clone()).await?;
        let answer = tokio::time::timeout(crate::DEADLINE * patience, client.answer_patiently(id))
            .await
            .context("no answer in time")??;
        drain(client, model).await?;
        match answer {
            Ok(reply) => return Ok(reply),
            Err(error) => {
                report.retried += 1;
                last = Some(error);
            }
        }
    }
    bail!("failed three times: {last:?}")
}

/// Applies the events received so far, opening the folder again when told.
async fn drain(client: &mut WsClient, model: &mut Model) -> Result<()> {
    let events: Vec<Event> = client.events.drain(..).collect();
    let mut reset = false;
    for event in &events {
        reset |= model.apply(event);
    }
    if reset {
        model.resets += 1;
        open(client, model).await?;
    }
    Ok(())
}

/// Waits until the app's view of INBOX equals the server's.
async fn settle(client: &mut WsClient, model: &mut Model, other: &mut Other) -> Result<()> {
    let deadline = Instant::now() + crate::DEADLINE * 2;
    loop {
        client.pump(Duration::from_millis(100)).await?;
        drain(client, model).await?;
        let server = other.inbox().await?;
        if server == model.messages {
            return Ok(());
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = server
                .keys()
                .filter(|u| !model.messages.contains_key(u))
                .collect();
            let extra: Vec<_> = model
                .messages
                .keys()
                .filter(|u| !server.contains_key(u))
                .collect();
            let differ: Vec<_> = server
                .iter()
                .filter(|(u, f)| model.messages.get(u).is_some_and(|m| m != *f))
                .map(|(u, f)| (u, f, model.messages.get(u)))
                .collect();
            bail!(
                "the app's view diverged from the server's: missing {missing:?}, extra {extra:?}, \
                 flags differ {differ:?}"
            );
        }
    }
}
