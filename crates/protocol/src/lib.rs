//! The messages that cross Postern's one WebSocket, as JSON text frames.
//!
//! This crate is the whole contract between the bridge and the browser app, and the
//! only place that defines it. It builds for `wasm32` and native and depends on
//! nothing but serde.
//!
//! # Conversation
//! - On connect the bridge sends a [`ServerMessage::Hello`] naming the accounts.
//! - The browser sends [`ClientMessage`]s, each with a fresh request id.
//! - The bridge answers each one exactly once, in order, with a
//!   [`ServerMessage::Reply`] or a [`ServerMessage::Failed`] carrying the same id,
//!   and may push [`ServerMessage::Event`]s in between.
//!
//! # Examples
//! Every message, as it appears on the wire. The crate's tests parse each one.
//!
//! Browser to bridge:
//! ```json
//! {"id":1,"type":"sign_in","account":"Example","user":"alice","password":"secret"}
//! {"id":17,"type":"sign_in","account":"Home","user":"alice","password":"secret","protocol":"pop3"}
//! {"id":2,"type":"list_folders"}
//! {"id":3,"type":"open_folder","folder":"INBOX","limit":50}
//! {"id":4,"type":"list_messages","folder":"INBOX","offset":50,"limit":50}
//! {"id":16,"type":"open_folder","folder":"INBOX","limit":50,"sort":{"by":"date","newest_first":false}}
//! {"id":6,"type":"open_message","folder":"INBOX","uid":3,"mark_seen":true,"remote_content":false}
//! {"id":7,"type":"show_part","folder":"INBOX","uid":3,"part":"1.1","remote_content":false}
//! {"id":8,"type":"set_flags","folder":"INBOX","uids":[3],"add":[],"remove":["seen"]}
//! {"id":9,"type":"move_messages","folder":"INBOX","uids":[3,4],"to":"Archive"}
//! {"id":10,"type":"copy_messages","folder":"INBOX","uids":[3],"to":"Work"}
//! {"id":11,"type":"expunge_messages","folder":"Trash","uids":[8]}
//! {"id":12,"type":"create_folder","parent":"Work","name":"Reports 2027"}
//! {"id":13,"type":"rename_folder","folder":"Work/Reports 2027","name":"Reports"}
//! {"id":14,"type":"delete_folder","folder":"Work/Reports"}
//! {"id":15,"type":"subscribe_folder","folder":"Work","subscribed":false}
//! {"id":18,"type":"export_mailbox","folder":"INBOX","delete_after":true}
//! {"id":19,"type":"start_compose","folder":"INBOX","uid":3,"kind":"reply_all"}
//! {"id":20,"type":"send_message","draft":{"to":[{"name":"Bob","email":"bob@example.org"}],"bcc":[{"name":null,"email":"carol@example.org"}],"subject":"Re: Lunch?","text":"Noon is fine.\n\n> At noon?","source":{"folder":"INBOX","uid":3,"kind":"reply"}}}
//! {"id":22,"type":"send_message","draft":{"to":[{"name":null,"email":"bob@example.org"}],"subject":"Fwd: Plans","text":"See below.","source":{"folder":"INBOX","uid":3,"kind":"forward"},"attachments":[{"name":"plan.pdf","content_type":"application/pdf","size":48213,"part":"2"},{"name":"Grüße.txt","content_type":"text/plain","size":12,"upload":"u4"}]}}
//! {"id":23,"type":"save_draft","draft":{"to":[{"name":null,"email":"bob@example.org"}],"subject":"Plans","text":"Draft text","message_id":"<k3j2.x9@example.org>","saved":{"folder":"Drafts","uid_validity":1700000000,"uid":41},"attachments":[{"name":"plan.pdf","content_type":"application/pdf","size":48213,"upload":"u4","saved_part":"2"}]}}
//! {"id":24,"type":"resume_draft","folder":"Drafts","uid":42}
//! {"id":25,"type":"send_message","draft":{"to":[{"name":null,"email":"bob@example.org"}],"subject":"Plans","text":"Soon."},"hold_seconds":10}
//! {"id":26,"type":"cancel_send","outbox":1}
//! {"id":27,"type":"save_identities","identities":[{"name":"Alice Liddell","email":"alice@example.org","signature":"-- \nAlice"},{"email":"alice@work.example"}]}
//! {"id":28,"type":"suggest_recipients","text":"bo"}
//! {"id":29,"type":"search","query":"from:bob invoice in:all","folder":"INBOX","limit":50}
//! {"id":30,"type":"list_hits","search":1,"offset":50,"limit":50}
//! {"id":31,"type":"stop_search","search":1}
//! {"id":32,"type":"stop_search","search":1,"forget":true}
//! {"id":33,"type":"list_conversations","folder":"INBOX","offset":0,"limit":50}
//! {"id":34,"type":"open_conversation","folder":"INBOX","uids":[3,7]}
//! {"id":35,"type":"save_preferences","preferences":{"conversations":true}}
//! {"id":5,"type":"sign_out"}
//! {"id":38,"type":"resume","token":"q2Vb…"}
//! {"id":40,"type":"ping"}
//! ```
//!
//! Bridge to browser:
//! ```json
//! {"type":"hello","accounts":["Example"]}
//! {"type":"hello","accounts":["Work","Home"],"pop3":["Home"],"imap":["Work"]}
//! {"type":"reply","id":1,"reply":{"type":"signed_in","account":"Example","user":"alice"}}
//! {"type":"reply","id":17,"reply":{"type":"signed_in","account":"Home","user":"alice","protocol":"pop3"}}
//! {"type":"reply","id":21,"reply":{"type":"signed_in","account":"Example","user":"alice","sending":{"identities":[{"name":"Alice","email":"alice@example.org"}],"max_message_bytes":26214400,"upload":"/mail/Pq7…/upload"}}}
//! {"type":"reply","id":2,"reply":{"type":"folders","folders":[{"id":"INBOX","name":"Inbox","parent":null,"depth":0,"role":"inbox","selectable":true,"subscribed":true,"total":3,"unread":1},{"id":"Lists/Rust","name":"Rust","parent":"Lists","depth":1,"role":null,"selectable":true,"subscribed":false,"total":0,"unread":0}]}}
//! {"type":"reply","id":19,"reply":{"type":"folders","folders":[{"id":"INBOX","name":"Inbox","parent":null,"depth":0,"role":"inbox","selectable":true,"subscribed":true,"total":3,"unread":1},{"id":"INBOX.Receipts","name":"Receipts","parent":null,"depth":0,"role":null,"selectable":true,"subscribed":true,"total":0,"unread":0},{"id":"Public.News","name":"News","parent":null,"depth":0,"role":null,"selectable":true,"subscribed":false,"total":7,"unread":7,"namespace":"shared","read_only":true}]}}
//! {"type":"reply","id":3,"reply":{"type":"folder_opened","folder":"INBOX","uid_validity":1700000000,"total":3,"unread":1,"offset":0,"messages":[{"uid":3,"from":[{"name":"Bob","email":"bob@example.org"}],"to":[{"name":null,"email":"alice@example.org"}],"subject":"Lunch?","date":1700000000,"flags":["flagged",{"keyword":"$label1"}],"size":2048,"has_attachments":false}]}}
//! {"type":"reply","id":4,"reply":{"type":"messages","folder":"INBOX","total":3,"offset":50,"messages":[]}}
//! {"type":"reply","id":6,"reply":{"type":"message_opened","folder":"INBOX","uid":3,"message":{"part":null,"subject":"Lunch?","from":[{"name":"Bob","email":"bob@example.org"}],"to":[],"cc":[],"reply_to":[],"date":1700000000,"flags":["seen"],"size":2048,"parts":[{"id":"1","content_type":"multipart/alternative","size":0,"name":null,"content_id":null,"depth":0,"role":"container"},{"id":"1.1","content_type":"text/plain","size":12,"name":null,"content_id":null,"depth":1,"role":"body"},{"id":"1.2","content_type":"text/html","size":40,"name":null,"content_id":null,"depth":1,"role":"body"},{"id":"2","content_type":"image/png","size":1300,"name":"map.png","content_id":null,"depth":0,"role":"attachment"}],"body":{"part":"1.2","kind":"html","document":"<!DOCTYPE html>…","blocked_remote":1,"remote_loaded":false,"truncated":false,"notes":[]},"alternatives":["1.2","1.1"],"notes":[],"link":"/mail/Xk3…"}}}
//! {"type":"reply","id":7,"reply":{"type":"part_shown","folder":"INBOX","uid":3,"body":{"part":"1.1","kind":"text","text":"At noon?","blocked_remote":0,"remote_loaded":false,"truncated":false,"notes":[{"type":"unknown_charset","charset":"x-klingon"}]}}}
//! {"type":"reply","id":8,"reply":{"type":"flags_set","folder":"INBOX","messages":[{"uid":3,"flags":[]}]}}
//! {"type":"reply","id":9,"reply":{"type":"messages_moved","folder":"INBOX","uids":[3,4],"to":"Archive"}}
//! {"type":"reply","id":10,"reply":{"type":"messages_copied","folder":"INBOX","uids":[3],"to":"Work"}}
//! {"type":"reply","id":11,"reply":{"type":"messages_expunged","folder":"Trash","uids":[8]}}
//! {"type":"reply","id":18,"reply":{"type":"export_ready","folder":"INBOX","link":"/mail/Yq2…/mbox"}}
//! {"type":"reply","id":19,"reply":{"type":"compose_started","draft":{"to":[{"name":"Bob","email":"bob@example.org"}],"subject":"Re: Lunch?","text":"","source":{"folder":"INBOX","uid":3,"kind":"reply_all"}},"quote":{"from":[{"name":"Bob","email":"bob@example.org"}],"subject":"Lunch?","date":1700000000,"text":"At noon?"}}}
//! {"type":"reply","id":20,"reply":{"type":"message_sent","message_id":"<k3j2.x9@example.org>","recipients":["bob@example.org","carol@example.org"],"sent_folder":"Sent"}}
//! {"type":"reply","id":23,"reply":{"type":"draft_saved","saved":{"folder":"Drafts","uid_validity":1700000000,"uid":42},"message_id":"<k3j2.x9@example.org>","attachments":[{"name":"plan.pdf","content_type":"application/pdf","size":48213,"upload":"u4","saved_part":"2"}]}}
//! {"type":"reply","id":24,"reply":{"type":"draft_resumed","draft":{"to":[{"name":null,"email":"bob@example.org"}],"subject":"Plans","text":"Draft text","message_id":"<k3j2.x9@example.org>","saved":{"folder":"Drafts","uid_validity":1700000000,"uid":42},"attachments":[{"name":"plan.pdf","content_type":"application/pdf","size":48213,"saved_part":"2"}]}}}
//! {"type":"reply","id":25,"reply":{"type":"message_queued","outbox":1,"hold_seconds":10}}
//! {"type":"reply","id":26,"reply":{"type":"send_cancelled","outbox":1}}
//! {"type":"reply","id":27,"reply":{"type":"identities_saved","identities":[{"name":"Alice Liddell","email":"alice@example.org","signature":"-- \nAlice"},{"email":"alice@work.example"}]}}
//! {"type":"reply","id":28,"reply":{"type":"recipient_suggestions","text":"bo","people":[{"name":"Bob","email":"bob@example.org"},{"name":null,"email":"bonnie@example.org"}]}}
//! {"type":"event","event":{"type":"outbox_sent","outbox":1,"message_id":"<k3j2.x9@example.org>","recipients":["bob@example.org"],"sent_folder":"Sent"}}
//! {"type":"event","event":{"type":"outbox_failed","outbox":2,"error":{"code":"server_unreachable","message":"The outgoing mail server cannot be reached right now. Nothing was sent; try again."},"draft":{"to":[{"name":null,"email":"bob@example.org"}],"subject":"Plans","text":"Soon.","saved":{"folder":"Drafts","uid_validity":1700000000,"uid":43}}}}
//! {"type":"failed","id":20,"error":{"code":"recipient_refused","message":"The mail server refused nobody@example.org: User unknown. Nothing was sent; bob@example.org was accepted.","refused":["nobody@example.org"]}}
//! {"type":"reply","id":29,"reply":{"type":"hits","search":1,"total":1,"offset":0,"hits":[{"folder":"INBOX","message":{"uid":3,"from":[{"name":"Bob","email":"bob@example.org"}],"to":[],"subject":"Invoice 42","date":1700000000,"flags":[],"size":2048,"has_attachments":true}}],"searched":1,"of":12,"done":false}}
//! {"type":"reply","id":37,"reply":{"type":"hits","search":2,"total":0,"offset":0,"hits":[],"searched":1,"of":1,"done":true,"bodies_unsearched":40}}
//! {"type":"reply","id":31,"reply":{"type":"search_stopped","search":1}}
//! {"type":"event","event":{"type":"search_updated","search":1,"total":7,"searched":2,"of":12,"done":false}}
//! {"type":"failed","id":29,"error":{"code":"bad_query","message":"\"form:\" is not something to search by."}}
//! {"type":"reply","id":33,"reply":{"type":"conversations","folder":"INBOX","total":1,"offset":0,"conversations":[{"uids":[3,7],"count":2,"unread":1,"flagged":false,"participants":[{"name":"Bob","email":"bob@example.org"}],"newest":{"uid":7,"from":[{"name":"Bob","email":"bob@example.org"}],"to":[],"subject":"Re: Lunch?","date":1700000100,"flags":[],"size":900,"has_attachments":false}}]}}
//! {"type":"reply","id":34,"reply":{"type":"conversation_opened","folder":"INBOX","messages":[{"folder":"INBOX","message":{"uid":3,"from":[{"name":"Bob","email":"bob@example.org"}],"to":[{"name":null,"email":"alice@example.org"}],"subject":"Lunch?","date":1700000000,"flags":["seen"],"size":2048,"has_attachments":false}},{"folder":"Sent","message":{"uid":12,"from":[{"name":null,"email":"alice@example.org"}],"to":[{"name":"Bob","email":"bob@example.org"}],"subject":"Re: Lunch?","date":1700000050,"flags":["seen"],"size":700,"has_attachments":false}}]}}
//! {"type":"reply","id":35,"reply":{"type":"preferences_saved","preferences":{"conversations":true}}}
//! {"type":"reply","id":36,"reply":{"type":"signed_in","account":"Example","user":"alice","preferences":{"conversations":true}}}
//! {"type":"reply","id":39,"reply":{"type":"signed_in","account":"Example","user":"alice","resume":"q2Vb…"}}
//! {"type":"event","event":{"type":"session_renewed","resume":"r8Tx…"}}
//! {"type":"failed","id":38,"error":{"code":"session_expired","message":"Your session has ended. Please sign in again."}}
//! {"type":"reply","id":40,"reply":{"type":"pong"}}
//! {"type":"reply","id":5,"reply":{"type":"signed_out"}}
//! {"type":"failed","id":1,"error":{"code":"wrong_credentials","message":"The user name or password is not correct."}}
//! {"type":"event","event":{"type":"connectivity_changed","state":"lost"}}
//! {"type":"event","event":{"type":"folder_changed","folder":"INBOX","total":4,"unread":2,"added":[{"uid":9,"from":[{"name":null,"email":"carol@example.org"}],"to":[],"subject":"New","date":1700000100,"flags":[],"size":900,"has_attachments":false}],"flags":[{"uid":3,"flags":["seen"]}],"removed":[2]}}
//! {"type":"event","event":{"type":"folder_changed","folder":"INBOX","total":4,"unread":2,"added":[{"uid":10,"from":[],"to":[],"subject":"Old news","date":1600000000,"flags":[],"size":900,"has_attachments":false}],"added_at":[3],"removed":[5],"removed_at":[0]}}
//! {"type":"event","event":{"type":"folder_reset","folder":"INBOX"}}
//! {"type":"event","event":{"type":"folder_counts","folders":[{"folder":"Lists/Rust","total":12,"unread":5}]}}
//! ```

mod compose;
pub mod decode;
mod message;
pub mod search;

use serde::{Deserialize, Serialize};

pub use compose::{
    ComposeKind, Draft, DraftAttachment, DraftSource, Identity, MAX_IDENTITIES, MAX_IDENTITY_NAME,
    MAX_SIGNATURE, MAX_SUGGESTIONS, Quote, SavedDraft, Sending, Uploaded, address_problem,
    encoded_size,
};
pub use message::{Body, BodyContent, MessageFlags, MessageView, Note, Part, PartRole};

/// Chosen by the browser, unique per connection; echoed in the answer.
pub type RequestId = u64;

/// The largest text frame either side sends or accepts, in bytes.
///
/// Header windows are capped in size by [`MAX_WINDOW`], so replies stay far below it.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// The most message headers one window may ask for.
pub const MAX_WINDOW: u32 = 100;

/// A request from the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMessage {
    pub id: RequestId,
    #[serde(flatten)]
    pub request: Request,
}

/// What the browser can ask for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Sign in to one of the bridge's configured accounts. `account` may be left
    /// out when the bridge has exactly one.
    SignIn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        user: String,
        password: String,
        /// For an account with both an IMAP and a POP3 server, which to use; by
        /// default IMAP where the account has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<MailProtocol>,
    },
    /// The folder tree with counts.
    ListFolders,
    /// Select a folder and get the first `limit` message headers in `sort` order
    /// (by default, the newest arrivals first).
    OpenFolder {
        folder: String,
        limit: u32,
        #[serde(default, skip_serializing_if = "Sort::is_default")]
        sort: Sort,
    },
    /// A further window of the open folder's headers in `sort` order, skipping the
    /// first `offset`.
    ListMessages {
        folder: String,
        offset: u32,
        limit: u32,
        #[serde(default, skip_serializing_if = "Sort::is_default")]
        sort: Sort,
    },
    /// Open a message (or, with `part`, a message attached to it): its headers,
    /// structure and the part to display. Unless `mark_seen` is false, the message is
    /// marked read. `remote_content` loads remote images through the bridge's proxy.
    OpenMessage {
        folder: String,
        uid: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<String>,
        #[serde(default = "yes")]
        mark_seen: bool,
        #[serde(default)]
        remote_content: bool,
    },
    /// Show another displayable part of an open message, such as its text alternative.
    ShowPart {
        folder: String,
        uid: u32,
        part: String,
        #[serde(default)]
        remote_content: bool,
    },
    /// Add and remove flags on messages.
    SetFlags {
        folder: String,
        uids: Vec<u32>,
        #[serde(default)]
        add: Vec<Flag>,
        #[serde(default)]
        remove: Vec<Flag>,
    },
    /// Move messages to another folder (MOVE, or COPY and expunge where MOVE is missing).
    MoveMessages {
        folder: String,
        uids: Vec<u32>,
        to: String,
    },
    /// Copy messages to another folder.
    CopyMessages {
        folder: String,
        uids: Vec<u32>,
        to: String,
    },
    /// Remove messages for good. (Deleting to Trash is a move.)
    ExpungeMessages { folder: String, uids: Vec<u32> },
    /// Create a folder named `name` (as people read it) under `parent`, or at the top.
    CreateFolder {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        name: String,
    },
    /// Rename a folder, and optionally move it under another parent (`None`: the top).
    RenameFolder {
        folder: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        name: String,
    },
    /// Delete a folder and the messages in it.
    DeleteFolder { folder: String },
    /// Subscribe to a folder, or unsubscribe.
    SubscribeFolder { folder: String, subscribed: bool },
    /// A link that downloads the whole folder as one mbox file (POP3's "Download
    /// all"). With `delete_after`, exactly the messages downloaded are then deleted
    /// from the server, once the file has been sent to the end.
    ExportMailbox {
        folder: String,
        #[serde(default)]
        delete_after: bool,
    },
    /// Start a reply or forward of a message: the recipients, subject and quote
    /// the compose form begins with. Nothing is sent or saved.
    StartCompose {
        folder: String,
        uid: u32,
        kind: ComposeKind,
    },
    /// Send a message through the account's SMTP server and keep a copy in Sent;
    /// its saved draft, if any, is then removed. With `hold_seconds` (at most
    /// 60), the bridge answers `message_queued` and holds it that long, for an
    /// undo (`cancel_send`); then it goes, even if the browser is gone by then,
    /// and `outbox_sent` or `outbox_failed` follows.
    SendMessage {
        draft: Box<Draft>,
        #[serde(default, skip_serializing_if = "is_zero")]
        hold_seconds: u32,
    },
    /// Undo a send still held (`message_queued`'s `outbox`).
    CancelSend { outbox: u32 },
    /// Save the draft in the Drafts folder (created if missing), replacing its
    /// last saved version (`draft.saved`).
    SaveDraft { draft: Box<Draft> },
    /// Compose again from a message in the Drafts folder.
    ResumeDraft { folder: String, uid: u32 },
    /// Replace the identities the person sends as (the first is the default), as
    /// set in Settings; kept by the bridge for every browser of this user. An empty
    /// list goes back to the sign-in address alone.
    SaveIdentities { identities: Vec<Identity> },
    /// The people this user wrote to or read from whose name or address starts
    /// with `text`, best first: for the recipient fields as one types.
    SuggestRecipients { text: String },
    /// Search with a query in the language of [`search`], in `folder` unless the
    /// query says `in:`. Answered with `hits`: the first `limit` hits, newest
    /// first, once the first folder is searched; where there are more folders to
    /// search, `search_updated` events follow as each is done. A new search ends
    /// the one before.
    Search {
        query: String,
        folder: String,
        limit: u32,
    },
    /// A further window of a search's hits, skipping the first `offset`.
    ListHits {
        search: u32,
        offset: u32,
        limit: u32,
    },
    /// Stop searching further folders (the hits so far stay listed) or, with
    /// `forget`, end the search.
    StopSearch {
        search: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        forget: bool,
    },
    /// A window of `folder`'s conversations (messages grouped by `References` and
    /// `In-Reply-To`), the one with the newest arrival first, skipping `offset`.
    ListConversations {
        folder: String,
        offset: u32,
        limit: u32,
    },
    /// Open a conversation: `uids` are its messages in `folder` (as its row lists
    /// them, at most [`MAX_CONVERSATION_UIDS`]). Answered with each of them and
    /// the person's own messages in Sent that belong to it (found by Message-ID,
    /// `References` and `In-Reply-To`), oldest first.
    OpenConversation { folder: String, uids: Vec<u32> },
    /// Replace the person's preferences, kept by the bridge for every browser of
    /// this user.
    SavePreferences { preferences: Preferences },
    /// End the mail session; the socket stays open for another sign-in. The
    /// session's resume tokens stop working.
    SignOut,
    /// Sign in again with a resume token from an earlier `signed_in` or
    /// `session_renewed`, on this bridge or another that shares its keys:
    /// answered like `sign_in`, or with `session_expired`.
    Resume { token: ResumeToken },
    /// Is the connection still there? Answered `pong` at once, by the bridge
    /// itself: the app asks after a quiet while, since a browser cannot see
    /// WebSocket pings, and a load balancer may not notice a vanished bridge.
    Ping,
}

impl Request {
    /// Whether a request whose fate is unknown (the connection broke while it
    /// ran) may run again without doing twice what the person asked once: reads,
    /// and changes that end in the same state however often they are made. A
    /// copy, a send, or creating or renaming a folder is not repeated.
    pub fn may_repeat(&self) -> bool {
        matches!(
            self,
            Request::ListFolders
                | Request::OpenFolder { .. }
                | Request::ListMessages { .. }
                | Request::OpenMessage { .. }
                | Request::ShowPart { .. }
                | Request::SetFlags { .. }
                | Request::MoveMessages { .. }
                | Request::ExpungeMessages { .. }
                | Request::SubscribeFolder { .. }
                | Request::ExportMailbox { .. }
                | Request::StartCompose { .. }
                | Request::ResumeDraft { .. }
                | Request::SaveIdentities { .. }
                | Request::Search { .. }
                | Request::ListHits { .. }
                | Request::ListConversations { .. }
                | Request::OpenConversation { .. }
                | Request::SuggestRecipients { .. }
                | Request::SavePreferences { .. }
                | Request::Ping
        )
    }
}

fn yes() -> bool {
    true
}

/// Keeps passwords out of logs: a sign-in prints without its password; every other
/// request prints as its JSON, which holds no secret.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::SignIn { account, user, .. } => f
                .debug_struct("SignIn")
                .field("account", account)
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Request::Resume { .. } => f.write_str("Resume { token: <redacted> }"),
            other => match serde_json::to_string(other) {
                Ok(json) => f.write_str(&json),
                Err(_) => f.write_str("Request"),
            },
        }
    }
}

/// A resume token: opaque to the browser, and a secret, so it never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResumeToken(pub String);

impl std::fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeToken(<redacted>)")
    }
}

/// Everything the bridge sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sent once, right after the WebSocket opens. `pop3` names the accounts that
    /// offer POP3; those not also in `imap` offer only POP3. (Both lists are left
    /// out when every account is IMAP only, and `imap` then means all of them.)
    Hello {
        accounts: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pop3: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        imap: Vec<String>,
    },
    /// The successful answer to request `id`.
    Reply { id: RequestId, reply: Reply },
    /// The failed answer to request `id`.
    Failed { id: RequestId, error: WireError },
    /// Something happened that no request asked about.
    Event { event: Event },
}

/// The protocol a session speaks to the mail server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailProtocol {
    #[default]
    Imap,
    Pop3,
}

impl MailProtocol {
    pub fn is_imap(&self) -> bool {
        *self == MailProtocol::Imap
    }
}

/// Successful answers, one kind per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    SignedIn {
        account: String,
        user: String,
        /// What the session speaks. A POP3 mailbox has one folder, the inbox, and
        /// no moves, copies, labels, folder changes or date order.
        #[serde(default, skip_serializing_if = "MailProtocol::is_imap")]
        protocol: MailProtocol,
        /// What the session can send; left out when the account has no SMTP
        /// server, which makes it an account for reading only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sending: Option<Sending>,
        /// What the person chose in Settings, kept by the bridge for this user;
        /// left out while all are the defaults.
        #[serde(default, skip_serializing_if = "Preferences::is_default")]
        preferences: Preferences,
        /// A token that signs this session in again without the password, after
        /// a reload or a dropped connection (`resume`). It holds the credentials
        /// sealed with the bridge's key, expires within the hour, and is renewed
        /// by `session_renewed` while the connection lives. Keep it in the tab's
        /// memory only (`sessionStorage`), never where it outlives the tab.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
    },
    Folders {
        folders: Vec<Folder>,
    },
    FolderOpened {
        folder: String,
        uid_validity: u32,
        total: u32,
        unread: u32,
        offset: u32,
        messages: Vec<MessageHeader>,
        /// Labels (IMAP keywords) in use in this folder, as the server lists them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        labels: Vec<String>,
        /// Whether new labels can be made here (`PERMANENTFLAGS` has `\*`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        new_labels: bool,
        /// The order of `messages`, as asked for.
        #[serde(default, skip_serializing_if = "Sort::is_default")]
        sort: Sort,
    },
    Messages {
        folder: String,
        total: u32,
        offset: u32,
        messages: Vec<MessageHeader>,
        #[serde(default, skip_serializing_if = "Sort::is_default")]
        sort: Sort,
    },
    MessageOpened {
        folder: String,
        uid: u32,
        message: Box<MessageView>,
    },
    PartShown {
        folder: String,
        uid: u32,
        body: Body,
    },
    FlagsSet {
        folder: String,
        messages: Vec<MessageFlags>,
    },
    MessagesMoved {
        folder: String,
        uids: Vec<u32>,
        to: String,
    },
    MessagesCopied {
        folder: String,
        uids: Vec<u32>,
        to: String,
    },
    MessagesExpunged {
        folder: String,
        uids: Vec<u32>,
    },
    /// `link` is a session-bound path for an HTTP GET of the mbox file.
    ExportReady {
        folder: String,
        link: String,
    },
    /// What a reply or forward starts from.
    ComposeStarted {
        draft: Box<Draft>,
        quote: Box<Quote>,
    },
    /// Where the draft is now, and its files as they are kept there.
    DraftSaved {
        /// `None` where the server does not say where it put it (no UIDPLUS).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        saved: Option<SavedDraft>,
        message_id: String,
        /// The draft's attachments, in order, each with its `saved_part`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<DraftAttachment>,
    },
    /// A draft from the Drafts folder, as the form resumes it.
    DraftResumed {
        draft: Box<Draft>,
    },
    /// The message is held for `hold_seconds` before it goes.
    MessageQueued {
        outbox: u32,
        hold_seconds: u32,
    },
    /// The held message will not go.
    SendCancelled {
        outbox: u32,
    },
    /// The identities now in use, as the bridge keeps them.
    IdentitiesSaved {
        identities: Vec<Identity>,
    },
    /// Suggestions for what was typed (`text`, as asked), at most
    /// [`MAX_SUGGESTIONS`].
    RecipientSuggestions {
        text: String,
        people: Vec<Address>,
    },
    /// A window of a search's hits, newest first, each with its folder. `searched`
    /// of `of` folders are done so far, and `done` says no more will be (all were
    /// searched, or the search was stopped); `total` counts the hits found so far.
    /// `bodies_unsearched` counts messages whose bodies a query that looks in
    /// bodies could not look in (POP3: those the bridge has not retrieved).
    Hits {
        search: u32,
        total: u32,
        offset: u32,
        hits: Vec<Hit>,
        searched: u32,
        of: u32,
        done: bool,
        #[serde(default, skip_serializing_if = "is_zero")]
        bodies_unsearched: u32,
    },
    /// A window of a folder's conversations; `total` counts them.
    Conversations {
        folder: String,
        total: u32,
        offset: u32,
        conversations: Vec<Conversation>,
    },
    /// The search stopped (`forget`: ended).
    SearchStopped {
        search: u32,
    },
    /// A conversation's messages, oldest first, each with its folder: those of
    /// `folder` still there, and the person's own from Sent; the newest
    /// [`MAX_OPENED`], and `earlier` counts those left out before them.
    ConversationOpened {
        folder: String,
        messages: Vec<Hit>,
        #[serde(default, skip_serializing_if = "is_zero")]
        earlier: u32,
    },
    /// The preferences now in use, as the bridge keeps them.
    PreferencesSaved {
        preferences: Preferences,
    },
    /// The SMTP server accepted the message for every recipient.
    MessageSent {
        message_id: String,
        /// Every address it went to, Bcc included.
        recipients: Vec<String>,
        /// Where its copy was kept, when the bridge kept one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_folder: Option<String>,
    },
    SignedOut,
    Pong,
}

/// News the bridge pushes on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The bridge's link to the mail server changed state.
    ConnectivityChanged { state: Connectivity },
    /// A fresh resume token, to use instead of the last one.
    SessionRenewed { resume: ResumeToken },
    /// A held message went: as `message_sent` says.
    OutboxSent {
        outbox: u32,
        message_id: String,
        recipients: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_folder: Option<String>,
    },
    /// A held message could not go. It is kept as a draft (`draft.saved`, where
    /// the account has folders) to try again.
    OutboxFailed {
        outbox: u32,
        error: WireError,
        draft: Box<Draft>,
    },
    /// The open folder changed on the server (another program, another browser, or
    /// this one): messages arrived (`added`), flags changed, or messages went
    /// (`removed`). `total` and `unread` are the folder's counts after.
    ///
    /// Positions are in the order the folder was last opened or listed with.
    /// `added_at[i]` is where `added[i]` now stands, after the removals, and
    /// `added` is in that order. `removed_at[i]`, when given, is where `removed[i]`
    /// stood before; it is left out in arrival order, where UIDs tell it.
    FolderChanged {
        folder: String,
        total: u32,
        unread: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        added: Vec<MessageHeader>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        added_at: Vec<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        flags: Vec<MessageFlags>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed_at: Vec<u32>,
    },
    /// What the browser holds of this folder is no longer valid (its UIDVALIDITY
    /// changed, or more changed than can be listed): open it again.
    FolderReset { folder: String },
    /// New counts for folders whose counts changed.
    FolderCounts { folders: Vec<FolderCount> },
    /// A search moved on: another folder was searched, or mail that changed in a
    /// searched folder changed its hits. The hits listed may have moved: ask for
    /// the window in view again.
    SearchUpdated {
        search: u32,
        total: u32,
        searched: u32,
        of: u32,
        done: bool,
    },
}

/// One conversation of a folder, as its row in the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Its messages in the folder, by arrival (at most [`MAX_CONVERSATION_UIDS`],
    /// the newest, are listed; `count` counts them all).
    pub uids: Vec<u32>,
    pub count: u32,
    pub unread: u32,
    pub flagged: bool,
    /// The senders, newest first, each once (at most five).
    pub participants: Vec<Address>,
    /// Its newest message.
    pub newest: MessageHeader,
}

/// The most UIDs a conversation's row lists.
pub const MAX_CONVERSATION_UIDS: usize = 1000;

/// The most messages of a conversation an opening shows (the newest).
pub const MAX_OPENED: usize = 200;

/// What a person chose in Settings that the bridge keeps for them, shared by all
/// of their browsers. Each one missing on the wire is its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// The message list groups messages into conversations (off by default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conversations: bool,
}

impl Preferences {
    pub fn is_default(&self) -> bool {
        *self == Preferences::default()
    }
}

/// One message a search found, and the folder it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub folder: String,
    pub message: MessageHeader,
}

/// The order of a folder's message list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sort {
    pub by: SortKey,
    /// Latest first (the default), or earliest first: the earliest-first order
    /// turned over as a whole, so among messages of the same date the latest
    /// arrival comes first.
    #[serde(default = "yes")]
    pub newest_first: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            by: SortKey::Arrival,
            newest_first: true,
        }
    }
}

impl Sort {
    pub fn is_default(&self) -> bool {
        *self == Sort::default()
    }

    /// Whether message `a` comes before `b` in this order (as far as their headers
    /// tell; the server's order is the authority).
    pub fn compare(&self, a: &MessageHeader, b: &MessageHeader) -> std::cmp::Ordering {
        let key = |m: &MessageHeader| match self.by {
            SortKey::Arrival => (0, m.uid),
            SortKey::Date => (m.date, m.uid),
        };
        let order = key(a).cmp(&key(b));
        if self.newest_first {
            order.reverse()
        } else {
            order
        }
    }
}

/// What a message list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// When the message reached the folder (its UID order).
    #[default]
    Arrival,
    /// The date the message says it was sent (its `Date` header, else its arrival
    /// time), as IMAP `SORT (DATE)` orders; ties by arrival. Folders of over
    /// 250,000 messages are refused.
    Date,
}

/// A folder's message counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderCount {
    pub folder: String,
    pub total: u32,
    pub unread: u32,
}

/// The state of the bridge's link to the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Connected (again): what the person does goes to the server at once.
    Connected,
    /// The link dropped and the bridge is reconnecting; requests wait and are
    /// applied, in order, once it is back.
    Reconnecting,
    /// The mail server closed the connection or stopped answering; sign in again.
    Lost,
}

/// A failure: a code from a closed set, for programs, and a sentence, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    /// For `recipient_refused`: the addresses the server would not take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

impl WireError {
    /// An error with its own sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
            refused: Vec::new(),
        }
    }
}

/// Every way a request can fail, as the browser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The mail server rejected the user name or password.
    WrongCredentials,
    /// Too many failed sign-ins from here or for this user; wait and retry.
    TooManyAttempts,
    /// The mail server could not be reached, or stopped answering.
    ServerUnreachable,
    /// The TLS handshake with the mail server failed, e.g. an untrusted certificate.
    TlsFailure,
    /// No such folder on the server.
    FolderNotFound,
    /// The message (or the part asked for) is no longer on the server.
    MessageNotFound,
    /// The account named in the sign-in is not configured on this bridge.
    UnknownAccount,
    /// The request needs a signed-in session.
    NotSignedIn,
    /// The mail server refused the change (a folder that exists already, say).
    Refused,
    /// Another program has the POP3 mailbox open (the server said `[IN-USE]`); the
    /// bridge keeps trying.
    MailboxInUse,
    /// The request was malformed or out of bounds.
    BadRequest,
    /// The search query cannot be searched as typed; the message says why.
    BadQuery,
    /// The SMTP server refused one or more recipients; nothing was sent.
    RecipientRefused,
    /// The SMTP server refused the sender or the message itself; nothing was sent.
    SendRefused,
    /// The connection to the SMTP server broke while the message was being handed
    /// over: it may or may not have gone out, so the bridge does not send it again.
    SendUncertain,
    /// Anything else; details are in the bridge's log.
    Internal,
    /// The mail server allows this user no more connections right now (its
    /// per-user limit); not a wrong password. Retry later.
    TooManyConnections,
    /// A resume token is no longer good (expired, revoked by signing out,
    /// damaged, or sealed by a bridge this one does not trust), or the password
    /// in it no longer opens the mailbox: sign in again.
    SessionExpired,
}

impl ErrorCode {
    /// The sentence shown to people for this code.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::WrongCredentials => "The user name or password is not correct.",
            ErrorCode::TooManyAttempts => {
                "Too many failed sign-ins. Please wait a little before trying again."
            }
            ErrorCode::ServerUnreachable => "The mail server cannot be reached right now.",
            ErrorCode::TlsFailure => {
                "A secure connection to the mail server could not be established."
            }
            ErrorCode::FolderNotFound => "That folder does not exist on the server.",
            ErrorCode::MessageNotFound => {
                "That message is no longer on the server. It may have been moved or deleted."
            }
            ErrorCode::UnknownAccount => "That account is not configured on this server.",
            ErrorCode::NotSignedIn => "Please sign in first.",
            ErrorCode::Refused => "The mail server refused that change.",
            ErrorCode::MailboxInUse => {
                "Your mailbox is open in another mail program. Postern will keep trying."
            }
            ErrorCode::BadRequest => "The request was not understood.",
            ErrorCode::BadQuery => "The search cannot be done as typed.",
            ErrorCode::RecipientRefused => "The mail server refused a recipient. Nothing was sent.",
            ErrorCode::SendRefused => "The mail server refused the message. Nothing was sent.",
            ErrorCode::SendUncertain => {
                "The connection broke while the message was being sent. It may have gone out: check Sent before sending it again."
            }
            ErrorCode::Internal => "Something went wrong on the server.",
            ErrorCode::SessionExpired => "Your session has ended. Please sign in again.",
            ErrorCode::TooManyConnections => {
                "Your mail server allows you no more connections right now. Close Postern or another mail program elsewhere, or wait a moment: Postern keeps trying."
            }
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.message, self.code)
    }
}

impl std::error::Error for WireError {}

impl From<ErrorCode> for WireError {
    fn from(code: ErrorCode) -> Self {
        WireError::new(code, code.default_message())
    }
}

/// One folder (an IMAP mailbox) of the user's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    /// The server's name for it, used in requests. Opaque to the browser.
    pub id: String,
    /// The last segment of the path, decoded for display.
    pub name: String,
    /// The `id` of the folder this one sits in.
    pub parent: Option<String>,
    /// 0 for top-level folders.
    pub depth: u32,
    pub role: Option<FolderRole>,
    /// False for folders that only hold other folders.
    pub selectable: bool,
    /// Whether the user subscribes to it (other mail programs may show only these).
    pub subscribed: bool,
    pub total: u32,
    pub unread: u32,
    /// Whose folder it is: the user's own (left out), another user's, or shared.
    /// The app lists each kind as its own section.
    #[serde(default, skip_serializing_if = "FolderNamespace::is_personal")]
    pub namespace: FolderNamespace,
    /// The server lets this user read the folder but not put messages in it (ACL
    /// rights without `i`); left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// The kinds of namespace of RFC 2342.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FolderNamespace {
    #[default]
    Personal,
    OtherUsers,
    Shared,
}

impl FolderNamespace {
    pub fn is_personal(&self) -> bool {
        *self == FolderNamespace::Personal
    }
}

/// The special uses of RFC 6154, plus the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderRole {
    Inbox,
    Drafts,
    Sent,
    Archive,
    Junk,
    Trash,
    All,
    Flagged,
}

/// What the message list shows of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageHeader {
    pub uid: u32,
    pub from: Vec<Address>,
    pub to: Vec<Address>,
    pub subject: String,
    /// Seconds since the Unix epoch, from the `Date` header or else the server's arrival time.
    pub date: i64,
    pub flags: Vec<Flag>,
    /// In bytes, as the server counts it.
    pub size: u32,
    pub has_attachments: bool,
}

/// A mailbox address, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

/// A message flag: the system flags, `$Forwarded`, or a user keyword.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    Forwarded,
    Keyword(String),
}

/// Whether a keyword is a label people set: not a `$` system keyword (such as
/// `$Forwarded`) nor a junk marker some programs add. Bridge and app both decide
/// what to show as labels by it.
pub fn is_label(keyword: &str) -> bool {
    !keyword.starts_with(['$', '\\'])
        && !["junk", "nonjunk", "notjunk"].contains(&keyword.to_ascii_lowercase().as_str())
}

impl MessageHeader {
    pub fn is_unread(&self) -> bool {
        !self.flags.contains(&Flag::Seen)
    }

    pub fn is_flagged(&self) -> bool {
        self.flags.contains(&Flag::Flagged)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ```json blocks of this crate's docs, each as its lines.
    fn documented_blocks() -> Vec<Vec<&'static str>> {
        let mut blocks = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in include_str!("lib.rs").lines() {
            let Some(text) = line.strip_prefix("//!") else {
                continue;
            };
            match (text.trim(), current.as_mut()) {
                ("```json", None) => current = Some(Vec::new()),
                ("```", Some(_)) => blocks.extend(current.take()),
                (example, Some(lines)) => lines.push(example),
                _ => {}
            }
        }
        blocks
    }

    fn parses_and_reserializes_identically<T>(text: &str)
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        let value: serde_json::Value = serde_json::from_str(text).expect(text);
        let message: T = serde_json::from_str(text).expect(text);
        assert_eq!(serde_json::to_value(&message).expect(text), value, "{text}");
    }

    #[test]
    fn every_documented_example_parses() {
        let blocks = documented_blocks();
        let [client, server] = blocks.as_slice() else {
            panic!("expected a client block and a server block, got {blocks:?}");
        };
        assert_eq!(client.len(), 36);
        assert_eq!(server.len(), 47);
        client
            .iter()
            .for_each(|text| parses_and_reserializes_identically::<ClientMessage>(text));
        server
            .iter()
            .for_each(|text| parses_and_reserializes_identically::<ServerMessage>(text));
    }

    #[test]
    fn the_field_decoder_reads_every_documented_server_example_as_serde_does() {
        let blocks = documented_blocks();
        for text in &blocks[1] {
            let value: serde_json::Value = serde_json::from_str(text).expect(text);
            let by_serde: ServerMessage = serde_json::from_str(text).expect(text);
            assert_eq!(decode::server_message(&value), Ok(by_serde), "{text}");
        }
    }

    #[test]
    fn the_field_decoder_reads_full_values_as_serde_does() {
        // Every optional field set, so that defaults cannot hide a misspelt name.
        let draft = Draft {
            from: Some("me@example.org".into()),
            to: vec![address()],
            cc: vec![address()],
            bcc: vec![address()],
            subject: "Re: plans".into(),
            text: "Yes.".into(),
            no_wrap: true,
            formatted: true,
            source: Some(DraftSource {
                folder: "INBOX".into(),
                uid: 3,
                kind: ComposeKind::ForwardAsAttachment,
                uid_validity: Some(9),
            }),
            attachments: vec![DraftAttachment {
                name: "a.pdf".into(),
                content_type: "application/pdf".into(),
                size: 1 << 40,
                upload: Some("u1".into()),
                part: Some("2".into()),
                saved_part: Some("3".into()),
                whole: true,
            }],
            message_id: Some("<x@example.org>".into()),
            saved: Some(SavedDraft {
                folder: "Drafts".into(),
                uid_validity: 1,
                uid: 2,
            }),
        };
        let error = WireError {
            code: ErrorCode::RecipientRefused,
            message: "No.".into(),
            refused: vec!["a@b.example".into()],
        };
        let mut flagged = header();
        flagged.flags = vec![
            Flag::Flagged,
            Flag::Keyword("Project".into()),
            Flag::Forwarded,
        ];
        let messages = [
            ServerMessage::Hello {
                accounts: vec!["a".into()],
                pop3: vec!["p".into()],
                imap: vec!["a".into()],
            },
            ServerMessage::Reply {
                id: 9,
                reply: Reply::SignedIn {
                    account: "a".into(),
                    user: "u".into(),
                    protocol: MailProtocol::Pop3,
                    sending: Some(Sending {
                        identities: vec![Identity {
                            name: Some("Me".into()),
                            email: "me@example.org".into(),
                            signature: Some("--".into()),
                        }],
                        max_message_bytes: 25 << 20,
                        upload: Some("/mail/up".into()),
                    }),
                    preferences: Preferences {
                        conversations: true,
                    },
                    resume: Some(ResumeToken("t0k".into())),
                },
            },
            ServerMessage::Event {
                event: Event::SessionRenewed {
                    resume: ResumeToken("t1k".into()),
                },
            },
            ServerMessage::Reply {
                id: 10,
                reply: Reply::FolderOpened {
                    folder: "INBOX".into(),
                    uid_validity: 1,
                    total: 2,
                    unread: 1,
                    offset: 0,
                    messages: vec![flagged.clone()],
                    labels: vec!["Project".into()],
                    new_labels: true,
                    sort: Sort {
                        by: SortKey::Date,
                        newest_first: false,
                    },
                },
            },
            ServerMessage::Reply {
                id: 11,
                reply: Reply::ComposeStarted {
                    draft: Box::new(draft.clone()),
                    quote: Box::new(Quote {
                        from: vec![address()],
                        to: vec![address()],
                        cc: vec![address()],
                        subject: "plans".into(),
                        date: Some(-5),
                        text: "Shall we?".into(),
                    }),
                },
            },
            ServerMessage::Reply {
                id: 12,
                reply: Reply::Hits {
                    search: 1,
                    total: 1,
                    offset: 0,
                    hits: vec![Hit {
                        folder: "INBOX".into(),
                        message: header(),
                    }],
                    searched: 1,
                    of: 2,
                    done: false,
                    bodies_unsearched: 4,
                },
            },
            ServerMessage::Failed {
                id: 13,
                error: error.clone(),
            },
            ServerMessage::Event {
                event: Event::OutboxFailed {
                    outbox: 1,
                    error,
                    draft: Box::new(draft),
                },
            },
            ServerMessage::Event {
                event: Event::FolderChanged {
                    folder: "INBOX".into(),
                    total: 3,
                    unread: 1,
                    added: vec![header()],
                    added_at: vec![0],
                    flags: vec![MessageFlags {
                        uid: 7,
                        flags: flagged.flags,
                    }],
                    removed: vec![1],
                    removed_at: vec![2],
                },
            },
        ];
        for message in messages {
            let value = serde_json::to_value(&message).expect("serializes");
            assert_eq!(decode::server_message(&value), Ok(message), "{value}");
        }
        let value = serde_json::json!({"folder": "x", "message": header()});
        assert_eq!(
            decode::FromJson::from_json(&value),
            Ok(Hit {
                folder: "x".into(),
                message: header()
            })
        );
    }

    #[test]
    fn the_field_decoder_says_what_is_wrong_and_never_panics() {
        let cases = [
            (r#"{"type":"nonsense"}"#, "unknown ServerMessage `nonsense`"),
            (r#"{"id":1}"#, "missing field `type`"),
            (r#"{"type":"reply","id":1}"#, "missing field `reply`"),
            (
                r#"{"type":"reply","id":-1,"reply":{"type":"signed_out"}}"#,
                "id: expected a whole number in range",
            ),
            (
                r#"{"type":"reply","id":1.5,"reply":{"type":"signed_out"}}"#,
                "id: expected a whole number in range",
            ),
            (
                r#"{"type":"event","event":{"type":"folder_reset","folder":7}}"#,
                "event: folder: expected a string",
            ),
            (
                r#"{"type":"event","event":{"type":"folder_counts","folders":{}}}"#,
                "event: folders: expected an array",
            ),
            (
                r#"{"type":"hello","accounts":["a"],"pop3":[1]}"#,
                "pop3: expected a string",
            ),
            (r#"[1,2]"#, "missing field `type`"),
            (r#""hello""#, "missing field `type`"),
        ];
        for (text, why) in cases {
            let value: serde_json::Value = serde_json::from_str(text).expect(text);
            assert_eq!(
                decode::server_message(&value).expect_err(text).to_string(),
                why,
                "{text}"
            );
        }
    }

    fn address() -> Address {
        Address {
            name: None,
            email: "tom@example.org".into(),
        }
    }

    fn header() -> MessageHeader {
        MessageHeader {
            uid: 7,
            from: vec![Address {
                name: Some("Zoë Ünicode".into()),
                email: "zoe@example.org".into(),
            }],
            to: vec![],
            subject: "Grüße \"quoted\" \\ slash".into(),
            date: -1,
            flags: vec![
                Flag::Seen,
                Flag::Answered,
                Flag::Flagged,
                Flag::Deleted,
                Flag::Draft,
                Flag::Forwarded,
                Flag::Keyword("$label1".into()),
            ],
            size: u32::MAX,
            has_attachments: true,
        }
    }

    fn round_trip<T>(value: &T)
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string(value).expect("serializes");
        let back: T = serde_json::from_str(&text).expect(&text);
        assert_eq!(&back, value, "{text}");
    }

    #[test]
    fn every_request_round_trips() {
        let requests = [
            Request::SignIn {
                account: Some("Work".into()),
                user: "alice".into(),
                password: "pä\"ss".into(),
                protocol: None,
            },
            Request::SignIn {
                account: None,
                user: "alice".into(),
                password: String::new(),
                protocol: Some(MailProtocol::Pop3),
            },
            Request::ListFolders,
            Request::OpenFolder {
                folder: "INBOX".into(),
                limit: 50,
                sort: Sort::default(),
            },
            Request::ListMessages {
                folder: "Archive/2024".into(),
                offset: 100,
                limit: 50,
                sort: Sort {
                    by: SortKey::Date,
                    newest_first: false,
                },
            },
            Request::SignOut,
            Request::Resume {
                token: ResumeToken("t0k".into()),
            },
            Request::Ping,
        ];
        for (id, request) in requests.into_iter().enumerate() {
            round_trip(&ClientMessage {
                id: id as u64,
                request,
            });
        }
    }

    #[test]
    fn every_server_message_round_trips() {
        let folder = Folder {
            id: "Lists/&AOQ-".into(),
            name: "ä".into(),
            parent: Some("Lists".into()),
            depth: 1,
            role: None,
            selectable: true,
            subscribed: true,
            total: 1,
            unread: 0,
            namespace: FolderNamespace::Shared,
            read_only: true,
        };
        let mut messages = vec![
            ServerMessage::Hello {
                accounts: vec!["A".into(), "B".into()],
                pop3: vec!["B".into()],
                imap: vec!["A".into(), "B".into()],
            },
            ServerMessage::Reply {
                id: 1,
                reply: Reply::SignedIn {
                    account: "A".into(),
                    user: "alice".into(),
                    protocol: MailProtocol::Pop3,
                    sending: None,
                    preferences: Preferences::default(),
                    resume: None,
                },
            },
            ServerMessage::Reply {
                id: 2,
                reply: Reply::Folders {
                    folders: vec![folder],
                },
            },
            ServerMessage::Reply {
                id: 3,
                reply: Reply::FolderOpened {
                    folder: "INBOX".into(),
                    uid_validity: 1,
                    total: 1,
                    unread: 1,
                    offset: 0,
                    messages: vec![header()],
                    labels: vec!["Work".into()],
                    new_labels: true,
                    sort: Sort {
                        by: SortKey::Date,
                        newest_first: true,
                    },
                },
            },
            ServerMessage::Reply {
                id: 4,
                reply: Reply::Messages {
                    folder: "INBOX".into(),
                    total: 1,
                    offset: 1,
                    messages: vec![],
                    sort: Sort::default(),
                },
            },
            ServerMessage::Reply {
                id: 5,
                reply: Reply::SignedOut,
            },
        ];
        for state in [
            Connectivity::Connected,
            Connectivity::Reconnecting,
            Connectivity::Lost,
        ] {
            messages.push(ServerMessage::Event {
                event: Event::ConnectivityChanged { state },
            });
        }
        for role in [
            FolderRole::Inbox,
            FolderRole::Drafts,
            FolderRole::Sent,
            FolderRole::Archive,
            FolderRole::Junk,
            FolderRole::Trash,
            FolderRole::All,
            FolderRole::Flagged,
        ] {
            round_trip(&Some(role));
        }
        for code in [
            ErrorCode::WrongCredentials,
            ErrorCode::TooManyAttempts,
            ErrorCode::ServerUnreachable,
            ErrorCode::TlsFailure,
            ErrorCode::FolderNotFound,
            ErrorCode::UnknownAccount,
            ErrorCode::NotSignedIn,
            ErrorCode::BadRequest,
            ErrorCode::Internal,
        ] {
            assert!(!code.default_message().is_empty());
            messages.push(ServerMessage::Failed {
                id: 9,
                error: code.into(),
            });
        }
        for message in &messages {
            round_trip(message);
        }
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let request = Request::SignIn {
            account: None,
            user: "alice".into(),
            password: "hunter2".into(),
            protocol: None,
        };
        let printed = format!("{request:?}");
        assert!(printed.contains("alice"));
        assert!(!printed.contains("hunter2"));
        let token = ResumeToken("s3cr3t-t0k".into());
        let printed = format!(
            "{:?} {:?} {:?}",
            Request::Resume {
                token: token.clone()
            },
            Event::SessionRenewed {
                resume: token.clone()
            },
            Reply::SignedIn {
                account: "a".into(),
                user: "alice".into(),
                protocol: MailProtocol::Imap,
                sending: None,
                preferences: Preferences::default(),
                resume: Some(token),
            }
        );
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn unknown_request_types_are_rejected() {
        assert!(serde_json::from_str::<ClientMessage>(r#"{"id":1,"type":"rm_rf"}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"list_folders"}"#).is_err());
    }
}
