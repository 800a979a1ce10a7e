"""Signal physics: Bloch simulation of the readouts, relaxation, signal → gadolinium."""

from qperfusion.physics.bloch import (
    READOUTS,
    center_line_index,
    flash_steady_state_mz,
    rampup_flip_angles,
    readout_signal,
)
from qperfusion.physics.relaxation import agent_name, r1_from_gd, relaxivity, t2star_decay

__all__ = [
    "READOUTS",
    "agent_name",
    "center_line_index",
    "flash_steady_state_mz",
    "r1_from_gd",
    "rampup_flip_angles",
    "readout_signal",
    "relaxivity",
    "t2star_decay",
]
