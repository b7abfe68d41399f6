"""Runs LocalStack's S3 in host mode on 127.0.0.1:PORT, in its own process
group, with SigV4 signature validation on. Used by MeshStorageTests
(BlobStoreTests), which start it, wait for /_localstack/health and stop it by pid.

usage: .venv-localstack/bin/python localstack_server.py PORT DATA_DIR
"""
import os
import sys

port, data_dir = sys.argv[1], sys.argv[2]
os.setpgrp()  # the test kills the whole group by this pid
os.environ.update(
    GATEWAY_SERVER="hypercorn",
    GATEWAY_LISTEN=f"127.0.0.1:{port}",
    SERVICES="s3",
    S3_SKIP_SIGNATURE_VALIDATION="0",
    FILESYSTEM_ROOT=data_dir,
    LOCALSTACK_VOLUME_DIR=data_dir,
    TMPDIR=data_dir,
    PERSISTENCE="0",
    DISABLE_EVENTS="1",
    SKIP_SSL_CERT_DOWNLOAD="1",
    LOCALSTACK_CLI="0",
)
from localstack.runtime.main import main  # noqa: E402

main()
