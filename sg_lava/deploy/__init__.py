"""Deployment: one model file through export, evaluation, Lava and verification, each done
once (:class:`~sg_lava.deploy.pipeline.Pipeline`), with reports, rasters and activity."""
