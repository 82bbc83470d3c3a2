"""Datasets: the embedded synthetic generator, COCO 2017, ImageNet-1k and DOTA v1 preparation, and checks."""
