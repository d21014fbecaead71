//! Browser tests: placeholder until the frontend exists.
