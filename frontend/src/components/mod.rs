//! The app's components, one per file.

pub mod attachments;
pub mod compose;
pub mod conversation;
pub mod deferred;
pub mod folder_list;
pub mod icons;
pub mod identities;
pub mod mailbox;
pub mod message_list;
pub mod reader;
pub mod search_bar;
pub mod shortcuts;
pub mod sign_in;
