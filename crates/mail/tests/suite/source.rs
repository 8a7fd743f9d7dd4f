//! Finding mail on disk: each file or folder is read once however it is reached.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_mail::{discover, read_source};
use std::fs;
use std::path::PathBuf;

const EML: &[u8] =
    b"From: a@example.test\r\nSubject: avis\r\nMessage-ID: <1@example.test>\r\n\r\nBonjour\r\n";

#[cfg(unix)]
#[test]
fn symlink_loops_and_repeated_paths_yield_each_message_once() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("courrier");
    fs::create_dir_all(root.join("sous")).unwrap();
    fs::write(root.join("sous/a.eml"), EML).unwrap();
    // A loop back to the root, a second name for the message, a dangling link.
    symlink("..", root.join("sous/retour")).unwrap();
    symlink("a.eml", root.join("sous/b.eml")).unwrap();
    symlink("/nonexistent/facteur", root.join("sous/casse")).unwrap();
    // A Maildir, reached directly and through a link.
    let md = root.join("boite");
    for d in ["cur", "new", "tmp"] {
        fs::create_dir_all(md.join(d)).unwrap();
    }
    fs::write(md.join("new/1.x:2,"), EML).unwrap();
    symlink("boite", root.join("boite-lien")).unwrap();

    let args: Vec<PathBuf> = vec![root.clone(), root.join("sous"), root.join("sous/a.eml")];
    let sources = discover(&args).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| s.path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(names, vec!["boite", "sous/a.eml"], "{names:?}");
    let messages: usize = sources.iter().map(|s| read_source(s).unwrap().len()).sum();
    assert_eq!(messages, 2);
}

#[test]
fn two_different_files_with_the_same_content_are_both_kept() {
    // Sameness is the file's, not its bytes': deduplicating content is the store's
    // job (Message-ID + hash), and triage shows what is on disk.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("1.eml"), EML).unwrap();
    fs::write(dir.path().join("2.eml"), EML).unwrap();
    assert_eq!(discover(&[dir.path().to_path_buf()]).unwrap().len(), 2);
}
