"""Prints the CIDv1 (raw, sha2-256, base32) of each hex-encoded input line, using
the independent `multiformats` package. Used by MeshStorageTests/CIDTests."""
import hashlib
import sys

from multiformats import CID, multihash

for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    digest = multihash.digest(data, "sha2-256")
    cid = CID("base32", 1, "raw", digest)
    # Cross-check the digest inside the multihash with hashlib, too.
    assert multihash.unwrap(digest) == hashlib.sha256(data).digest()
    print(str(cid))
