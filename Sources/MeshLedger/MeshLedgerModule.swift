/// The meshfl ledger: accounts, escrow, stakes and HCS-format audit topics.
public enum MeshLedgerModule {}
