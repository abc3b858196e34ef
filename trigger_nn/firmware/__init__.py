"""Firmware back-ends: hls4ml HLS, da4ml Verilog, cocotb co-simulation."""
