//! SHA-256 of a stream Ward relays but does not store (a file scp or sftp moves, a command's
//! output past the recording cap).

use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

/// Bytes of a stream hashed where they pass; past that, a thread of the stream's own hashes the
/// rest, beside the relay instead of in it (SHA-256 is most of what relaying a large stream
/// costs Ward, and the relay of one channel is one task).
pub const HASH_HERE: u64 = 1 << 20;
/// Chunks queued for a hashing thread before the relay waits for it.
const HASH_QUEUE: usize = 16;
/// Hashing threads at once, over every channel; streams past that are hashed where they pass.
const HASH_THREADS: usize = 16;
static HASHING: AtomicUsize = AtomicUsize::new(0);

/// SHA-256 of the bytes given to [`Hasher::update`], in order.
pub struct Hasher {
    /// Bytes hashed so far.
    hashed: u64,
    state: State,
}

enum State {
    Here(Sha256),
    Thread {
        chunks: std::sync::mpsc::SyncSender<Vec<u8>>,
        digest: std::thread::JoinHandle<[u8; 32]>,
    },
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        Self {
            hashed: 0,
            state: State::Here(Sha256::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hashed = self.hashed.saturating_add(bytes.len() as u64);
        match &mut self.state {
            State::Here(sha) => {
                sha.update(bytes);
                if self.hashed > HASH_HERE {
                    self.move_to_thread();
                }
            }
            // The thread only ends when `chunks` is dropped, so this send cannot fail.
            State::Thread { chunks, .. } => {
                let _ = chunks.send(bytes.to_vec());
            }
        }
    }

    /// Continues on a thread of its own; stays here if `HASH_THREADS` are busy or no thread
    /// can be started.
    fn move_to_thread(&mut self) {
        let State::Here(sha) = &self.state else {
            return;
        };
        if HASHING.fetch_add(1, Ordering::Relaxed) >= HASH_THREADS {
            HASHING.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut state = sha.clone();
        let (chunks, queue) = std::sync::mpsc::sync_channel::<Vec<u8>>(HASH_QUEUE);
        let thread = std::thread::Builder::new()
            .name("ward-hash".into())
            .spawn(move || {
                for chunk in queue {
                    state.update(&chunk);
                }
                HASHING.fetch_sub(1, Ordering::Relaxed);
                state.finalize().into()
            });
        match thread {
            Ok(digest) => self.state = State::Thread { chunks, digest },
            Err(e) => {
                HASHING.fetch_sub(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "no thread to hash a stream on; hashing it here");
            }
        }
    }

    /// The SHA-256 of everything hashed; `None` if the hashing thread failed.
    pub fn finish(self) -> Option<[u8; 32]> {
        match self.state {
            State::Here(sha) => Some(sha.finalize().into()),
            State::Thread { chunks, digest } => {
                drop(chunks);
                digest.join().ok()
            }
        }
    }
}
