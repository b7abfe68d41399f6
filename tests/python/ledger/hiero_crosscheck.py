"""Independent check of MeshLedger's HAPI bytes with the Python Hiero SDK.

Run with the venv scripts/setup makes (.venv-hiero):

    hiero_crosscheck.py parse   < {"transactions": ["<hex Transaction>", ...]}
        Parses each transaction with hiero_sdk_python.Transaction.from_bytes,
        verifies every Ed25519 signature over the body bytes with the SDK's
        PublicKey, and prints one JSON object per transaction.

    hiero_crosscheck.py build   < {"secret": "<hex seed>", "payer": "0.0.1001",
                                   "valid_start": [seconds, nanos], "topic": "0.0.1002",
                                   "message": "...", "to": "0.0.1003", "amount": 5}
        Builds, freezes and signs a TopicMessageSubmitTransaction and a
        TransferTransaction with the SDK and prints their Transaction bytes (hex).

Exit status 0 on success; any failure raises (non-zero exit, traceback on stderr).
"""

import json
import sys

from hiero_sdk_python import AccountId, PrivateKey, TopicId, TopicMessageSubmitTransaction, TransferTransaction
from hiero_sdk_python.crypto.public_key import PublicKey
from hiero_sdk_python.hapi.sdk.transaction_list_pb2 import TransactionList
from hiero_sdk_python.hapi.services import timestamp_pb2, transaction_contents_pb2, transaction_pb2
from hiero_sdk_python.transaction.transaction import Transaction
from hiero_sdk_python.transaction.transaction_id import TransactionId


def entity(msg, num_field):
    return f"{msg.shardNum}.{msg.realmNum}.{getattr(msg, num_field)}"


def parse(request):
    out = []
    for hex_tx in request["transactions"]:
        raw = bytes.fromhex(hex_tx)
        sdk_tx = Transaction.from_bytes(raw)  # the SDK's own parser; raises on bad bytes
        proto = transaction_pb2.Transaction()
        proto.ParseFromString(raw)
        signed = transaction_contents_pb2.SignedTransaction()
        signed.ParseFromString(proto.signedTransactionBytes)
        body = transaction_pb2.TransactionBody()
        body.ParseFromString(signed.bodyBytes)
        verified = 0
        for pair in signed.sigMap.sigPair:
            key = PublicKey.from_bytes_ed25519(pair.pubKeyPrefix)
            key.verify(pair.ed25519, signed.bodyBytes)  # raises InvalidSignature
            verified += 1
        item = {
            "sdk_type": type(sdk_tx).__name__,
            "data": body.WhichOneof("data"),
            "transaction_id": str(sdk_tx.transaction_id),
            "payer": entity(body.transactionID.accountID, "accountNum"),
            "valid_start": [body.transactionID.transactionValidStart.seconds, body.transactionID.transactionValidStart.nanos],
            "node": entity(body.nodeAccountID, "accountNum"),
            "fee": body.transactionFee,
            "valid_duration": body.transactionValidDuration.seconds,
            "memo": body.memo,
            "signatures_verified": verified,
            "signer_keys": [pair.pubKeyPrefix.hex() for pair in signed.sigMap.sigPair],
        }
        if item["data"] == "consensusSubmitMessage":
            m = body.consensusSubmitMessage
            item["topic"] = entity(m.topicID, "topicNum")
            item["message_hex"] = m.message.hex()
            if m.HasField("chunkInfo"):
                item["chunk"] = [m.chunkInfo.total, m.chunkInfo.number]
        elif item["data"] == "cryptoTransfer":
            item["transfers"] = [
                [entity(a.accountID, "accountNum"), a.amount] for a in body.cryptoTransfer.transfers.accountAmounts
            ]
        elif item["data"] == "consensusCreateTopic":
            item["topic_memo"] = body.consensusCreateTopic.memo
        out.append(item)
    return {"parsed": out}


def build(request):
    key = PrivateKey.from_bytes_ed25519(bytes.fromhex(request["secret"]))
    payer = AccountId.from_string(request["payer"])
    seconds, nanos = request["valid_start"]

    def tx_id(offset):
        return TransactionId(payer, timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos + offset))

    def single(tx):
        lst = TransactionList()
        lst.ParseFromString(tx.to_bytes())
        assert len(lst.transaction_list) == 1, "one node, one transaction"
        return lst.transaction_list[0].SerializeToString().hex()

    submit = (
        TopicMessageSubmitTransaction()
        .set_topic_id(TopicId.from_string(request["topic"]))
        .set_message(request["message"])
        .set_transaction_memo("hiero-sdk")
    )
    submit.set_transaction_id(tx_id(0))
    submit.set_node_account_ids([AccountId.from_string("0.0.3")])
    submit.freeze()
    submit.sign(key)

    transfer = (
        TransferTransaction()
        .add_hbar_transfer(payer, -int(request["amount"]))
        .add_hbar_transfer(AccountId.from_string(request["to"]), int(request["amount"]))
    )
    transfer.set_transaction_id(tx_id(1))
    transfer.set_node_account_ids([AccountId.from_string("0.0.3")])
    transfer.freeze()
    transfer.sign(key)
    return {
        "submit": single(submit),
        "transfer": single(transfer),
        "public_key": key.public_key().to_bytes_raw().hex(),
    }


def main():
    mode = sys.argv[1]
    request = json.load(sys.stdin)
    result = {"parse": parse, "build": build}[mode](request)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
