use std::path::PathBuf;

/// Failures reading mail sources. Parsing itself never fails (see `parse_message`):
/// only the file system can refuse us.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A path given on the command line (or reached while walking) does not exist.
    #[error("mail source not found: {path}: check the path, or pass `-` to read one message or an mbox from stdin")]
    NotFound {
        /// The missing file or folder, as given.
        path: PathBuf,
    },
    /// The file system refused a read (permissions, I/O error) other than "not found".
    #[error("cannot read mail source {path}: {source}")]
    Io {
        /// The file or folder that could not be read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl MailError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            MailError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            MailError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}
