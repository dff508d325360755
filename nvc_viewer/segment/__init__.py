"""Automatic segmentation of the cerebellopontine angles (no napari, no deep learning).

One module per concern: `normalise` (intensity scale), `hessian` (scale-space Hessian and the
closed-form eigen-solver), `tubes` (vesselness), `masks` (brainstem, CSF, cisterns), `register`
(TOF alignment), `nerves` (VII, VIII, V), `vessels` (arteries, veins), `landmarks` (RExP, RDP,
TZ), `centreline` (paths), `pipeline` (the stages). The public entry point is
`nvc_viewer.analysis.analyse`.
"""
