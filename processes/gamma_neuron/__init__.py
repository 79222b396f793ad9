"""The GammaNeuron Process and its ProcessModels.

Lava finds ProcessModels by executing every module in this folder, so the modules here
only define classes (no side effects) and use absolute imports.
"""
