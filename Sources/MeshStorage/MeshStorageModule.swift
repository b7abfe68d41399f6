/// Content-addressed storage for meshfl: CIDs, blocks, manifests, blob stores, sealing.
public enum MeshStorageModule {}
