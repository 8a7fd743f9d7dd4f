//! Reading mail: .eml, mbox and Maildir sources, MIME decoding of any charset to UTF-8,
//! HTML to text, and threading. Mail is hostile input: nothing here may panic on any
//! byte sequence, and what was malformed is reported as defects.
