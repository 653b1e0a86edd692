"""saferoom: runs a supervised drug consumption room and proves what it achieves."""

__version__ = "0.1.0"
