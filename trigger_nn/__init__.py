"""trigger_nn: quantised Keras trigger networks to verified FPGA firmware.

Stages (one module each): simulate -> train -> compile -> verify -> cosim -> trigger -> report.
"""

__version__ = "0.1.0"
