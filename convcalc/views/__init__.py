"""Functions over a report's records: the costed summary, multiply-adds under each convention,
memory, receptive fields, worked explanations and lint findings. Records in, numbers out.
"""
