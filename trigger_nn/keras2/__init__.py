"""Keras 2 / QKeras 0.9 models brought into the flow: read with h5py, rebuilt on Keras 3 and HGQ2, bit for bit."""
