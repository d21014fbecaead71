//! Postern's integration tests: the bridge against a real Dovecot, and the app in
//! headless Chromium. One binary, one module per area.

mod attachments;
mod big_folder;
mod bridge_imap;
mod browser;
mod burl;
mod caching;
mod catenate;
mod conversations;
mod conversations_browser;
mod deferred_browser;
mod hostile_mail;
mod live;
mod metrics;
mod namespaces;
mod namespaces_browser;
mod organizing;
mod organizing_browser;
mod people;
mod people_browser;
mod pop3;
mod pop3_browser;
mod pop3_drafts;
mod pop3_search;
mod reading;
mod reading_browser;
mod resume;
mod resume_browser;
mod scale_out;
mod search;
mod search_browser;
mod seed;
mod sending;
mod sending_browser;
mod shutdown;
mod sorting;
