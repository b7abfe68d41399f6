/// Neural-network layers, model specs, optimizers, datasets and training for meshfl.
public enum MeshNNModule {}
