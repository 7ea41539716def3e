"""PyTorch: the export of a report as an ``nn.Module`` and the import of ``print(model)`` text."""
