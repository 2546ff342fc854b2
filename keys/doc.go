// Package keys is dkimrelay's DKIM key store and the life cycle of its keys.
//
// # Layout
//
// The store is one folder, <data_dir>/keys, with a folder per signing domain
// and two files per selector:
//
//	keys/.lock                     flock(2) taken by every change
//	keys/example.org/s202611r.pem  private key, PKCS #8 PEM, mode 0600
//	keys/example.org/s202611r.json metadata: algorithm, state, dates
//
// Folders are 0700. The .json file is what makes a key exist: a key is
// created by writing its .pem and then its .json, and removed by deleting its
// .json and then its .pem. A .pem with no .json beside it is therefore debris
// of an interrupted command that was never reported to anyone; it is ignored
// by readers and deleted by the next change, as are leftover temporary files.
//
// # Life cycle
//
//	Generate       Activate          Activate (of another key)       Prune
//	   ──▶ pending ────────▶ active ───────────────────────▶ retiring ──────▶ removed
//	          │                 ▲                                │
//	          │ Remove          └──────── Activate (rollback) ───┘
//	          ▼
//	       removed
//
// A pending key does not sign yet: its TXT record at
// <selector>._domainkey.<domain> (RFC 6376 section 3.6.2.1) must be
// published, and visible through secondaries and caches, before the first
// signature that names it, or verifiers fail it. Activating a
// key retires the active key of the same type ("rsa" or "ed25519", the k= tag
// of RFC 6376 section 3.6.1 and RFC 8463), so a domain normally signs with at
// most one RSA key and one Ed25519 key. A retiring key no longer signs but
// its DNS record must stay published until mail signed with it has been
// delivered and verified; Prune removes it once the grace period has passed.
//
// # Concurrency and crashes
//
// Every change runs under an exclusive flock on keys/.lock, so two CLI
// commands, or a CLI command and the relay, cannot interleave their
// read-modify-write steps. Files are written to a temporary file in the same
// folder, fsync'd, renamed into place and the folder fsync'd, so readers,
// which take no lock, see either the old or the new file and never a torn
// one. The relay reads the whole store once into a [Snapshot] on start and
// on reload; signing never touches the disk.
//
// Files that cannot be used (bad PEM, bad JSON, a private key readable by
// others) do not stop the store: [Store.List] and [Store.Snapshot] return the
// sound keys together with one [*DamageError] per bad file, naming the file
// and how to repair it.
package keys
